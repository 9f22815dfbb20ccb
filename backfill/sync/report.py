"""What `backfill sync` prints: a table per column pushed, or one JSON object."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from backfill.sync.model import SyncReport

HEADINGS = ("pushed", "refreshed", "already set", "differing", "missing in Postgres")


def sync_json(report: SyncReport) -> dict[str, Any]:
    doc: dict[str, Any] = {"postgres": report.postgres, "database": report.db_path, "dry_run": report.dry_run}
    for table, columns in report.columns.items():
        doc[table] = {column: asdict(counts) for column, counts in columns.items()}
        doc[table]["rows_updated"] = report.rows_updated.get(table, 0)
    doc["pushed"] = sum(c.pushed for columns in report.columns.values() for c in columns.values())
    # Values a refresh (or undo) replaced in DuckDB, replaced in Postgres too: not in "pushed", which fills NULLs.
    doc["refreshed"] = sum(c.refreshed for columns in report.columns.values() for c in columns.values())
    doc["rows_sent"] = report.rows_sent  # COPYed up: only the rows Postgres lacked
    doc["digest_bytes"] = report.digest_bytes  # what Postgres sent to compare with
    doc["elapsed_seconds"] = round(report.elapsed, 3)
    return doc


def sync_text(report: SyncReport) -> str:
    verb = "Would push" if report.dry_run else "Pushed"
    lines = [f"Sync {report.db_path} -> {report.postgres}" + (" (dry run: nothing written)" if report.dry_run else "")]
    names = [f"{t}.{c}" for t, columns in report.columns.items() for c in columns]
    width = max(len(n) for n in [*names, "column"])
    lines.append(f"  {'column':<{width}}  " + "  ".join(f"{h:>{len(h)}}" for h in HEADINGS))
    for table, columns in report.columns.items():
        for column, c in columns.items():
            cells = (c.pushed, c.refreshed, c.already_set, c.differing, c.missing_in_postgres)
            numbers = "  ".join(f"{v:>{len(h)},}" for v, h in zip(cells, HEADINGS, strict=True))
            lines.append(f"  {f'{table}.{column}':<{width}}  {numbers}")
    total = sum(c.pushed for columns in report.columns.values() for c in columns.values())
    rows = sum(report.rows_updated.values())
    tail = "" if report.dry_run else f" ({rows:,} rows updated, one transaction)"
    refreshed = sum(c.refreshed for columns in report.columns.values() for c in columns.values())
    also = f" and {refreshed:,} refreshed values" if refreshed else ""
    lines.append(f"{verb} {total:,} values{also}{tail} in {report.elapsed:.1f} s.")
    if refreshed:
        lines.append(
            f"Refreshed: {refreshed:,} values that `run --refresh` or `undo` replaced in DuckDB, where Postgres still "
            "had the value replaced"
        )
    differing = sum(c.differing for columns in report.columns.values() for c in columns.values())
    missing = sum(c.missing_in_postgres for columns in report.columns.values() for c in columns.values())
    if differing:
        lines.append(
            f"{differing:,} values differ between DuckDB and Postgres; Postgres keeps its own (set by someone else: "
            "never overwritten)"
        )
    if missing:
        lines.append(f"{missing:,} rows with a value in DuckDB have no row in Postgres; sync never adds rows")
    return "\n".join(lines)
