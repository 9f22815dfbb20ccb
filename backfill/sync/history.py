"""The DuckDB side of sync: the keys with a value to offer, with their digests, in one short read-only session;
and, from the refresh journal, the values backfill itself replaced there, which Postgres may still hold. A row
that backfill itself set back to NULL (`undo --source`, or an undo putting back the NULL a `set` replaced) is
read too: Postgres still holding one of the journal's values for it gets the NULL."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from backfill.errors import SyncError, first_line
from backfill.store.attach import Attachment
from backfill.store.dbfile import sniff
from backfill.store.schema import JOURNAL_TABLE
from backfill.sync.digests import Replaceable, Row, duckdb_record
from backfill.sync.model import TARGETS, Target, require


@dataclass
class History:
    rows: dict[str, list[Row]]  # table -> rows with any value
    replaceable: dict[str, Replaceable]  # table -> key -> per column, the values DuckDB's now replaced


def read_history(path: Path, *, lock_timeout: float = 0.0) -> History:
    """Per table, the rows with any value: (key, value per column, key digest, rest of the record), and the
    values the refresh journal says the current ones replaced."""
    # The opener of every command: the header checked first (an SQLite file is named as such), no extension
    # fetched or loaded, and DuckDB's own errors (a lock, a version) in one line. Its errors are StoreErrors.
    link = Attachment(path, sniff(path), lock_timeout=lock_timeout)
    try:
        link.attach("read")
    except BaseException:
        link.close()
        raise
    con = link.con
    try:
        journal, cleared = _journal(con)
        rows: dict[str, list[Row]] = {}
        for target in TARGETS:
            names = [f"v{i}" for i in range(len(target.columns))]
            values = ", ".join(f"any_value({c}) AS {v}" for c, v in zip(target.columns, names, strict=True))
            has_any = " OR ".join(f"{c} IS NOT NULL" for c in target.columns)
            # A semi-join, not a per-row list lookup: an undo may have set back thousands of rows.
            keys = sorted({key for kind, key in cleared if kind in target.journaled})
            key_digest, record = duckdb_record("k", names)
            # any_value skips NULLs; a key on two rows (the history allows it) offers one value per column.
            rows[target.table] = con.execute(
                f"SELECT k, {', '.join(names)}, {key_digest}, {record} FROM (SELECT {target.key} AS k, {values} "
                f"FROM {target.table} WHERE {target.key} IS NOT NULL AND ({has_any} OR {target.key} IN "
                f"(SELECT unnest(?::VARCHAR[]))) GROUP BY {target.key})",
                [keys],
            ).fetchall()
        return History(rows, {t.table: _replaceable(t, rows[t.table], journal, cleared) for t in TARGETS})
    except duckdb.Error as exc:
        _check_columns(con, path)  # a missing table or column: say which
        raise SyncError(f"cannot read database {path}: {first_line(exc)}") from None
    finally:
        link.close()


def _check_columns(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    with contextlib.suppress(duckdb.Error):
        have = con.execute(
            "SELECT lower(table_name), lower(column_name) FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
        require({(t, c) for t, c in have}, f"database {path}")


Journal = dict[tuple[str, str], set[str]]  # (kind, row key) -> every value the journal names for that row


def _journal(con: duckdb.DuckDBPyConnection) -> tuple[Journal, set[tuple[str, str]]]:
    """Every value the journal names per row (the ones a refresh or set replaced, the ones it wrote, and an
    undo replaced in turn); and the rows whose last journaled change left NULL: backfill's own NULL."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name = ?",
        [JOURNAL_TABLE],
    ).fetchone()
    if not found or not found[0]:
        return {}, set()
    entries = con.execute(
        f"SELECT kind, row_key, list(DISTINCT v) FROM (SELECT kind, row_key, old_value AS v FROM {JOURNAL_TABLE} "
        f"UNION ALL SELECT kind, row_key, new_value FROM {JOURNAL_TABLE}) WHERE v IS NOT NULL GROUP BY ALL"
    ).fetchall()
    # The last change of a row (by seq) left its new value, or, once undone, its old one.
    cleared = con.execute(
        f"""SELECT kind, row_key FROM (
                SELECT kind, row_key, CASE WHEN undone_at IS NULL THEN new_value ELSE old_value END AS left_value,
                       row_number() OVER (PARTITION BY kind, row_key ORDER BY seq DESC) AS latest
                FROM {JOURNAL_TABLE})
            WHERE latest = 1 AND left_value IS NULL"""
    ).fetchall()
    return {(kind, key): set(values) for kind, key, values in entries}, {(k, key) for k, key in cleared}


def _replaceable(target: Target, rows: list[Row], journal: Journal, cleared: set[tuple[str, str]]) -> Replaceable:
    """Per key, per column: the other values of its journal, when DuckDB's value is one of them, or is the
    NULL backfill left (backfill's own last word on that row). A value set in DuckDB by anyone else since makes
    the row no one's to walk."""
    out: Replaceable = {}
    if not journal:
        return out
    for row in rows:
        key = str(row[0])
        per_column: list[tuple[str, ...]] = []
        for i, kind in enumerate(target.journaled):
            values = journal.get((kind, key)) if kind else None
            now = row[1 + i]
            if values and now is None and (kind, key) in cleared:
                per_column.append(tuple(sorted(values)))
                continue
            per_column.append(tuple(sorted(values - {now})) if values and now in values else ())
        if any(per_column):
            out[key] = tuple(per_column)
    return out
