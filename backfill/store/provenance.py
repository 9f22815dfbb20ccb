"""Where each value backfill wrote came from: the tool's own table `backfill_provenance`, written in the same
transaction as every UPDATE of an image column (a run's fills, a refresh's replacements, a fallback's fills, a
`backfill set`).

One row per (kind, row key, value): who last wrote that value into that row, with the provider's id and the
evidence that confirmed it. A row's source is the provenance row holding the value it has now; a value with
none ("unknown") was not written by backfill, or was changed since. Rows are never deleted when a value is
replaced: an `undo` that puts an older value back finds its writer still named (the values replaced are in the
journal anyway, so this table grows no faster than the journal). Like the tool's other tables it has no key and
no index (see backfill.store.schema): an upsert is DELETE + INSERT in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

import duckdb

from backfill.kinds import KINDS, LogKind
from backfill.store.schema import OWN_DDL, PROVENANCE_TABLE, Schema

SOURCES = ("spotify", "deezer", "musicbrainz", "manual")
MANUAL = "manual"
UNKNOWN = "unknown"
# (row key, value, source, provider id, evidence)
Written = tuple[str, str, str, str | None, str]


def ensure_provenance(con: duckdb.DuckDBPyConnection, schema: Schema) -> Schema:
    """Inside the caller's transaction: create the table on the first write (gone again if it rolls back)."""
    if not schema.has_provenance:
        con.execute(OWN_DDL[PROVENANCE_TABLE].format(name=PROVENANCE_TABLE))
    return replace(schema, has_provenance=True)


def record(con: duckdb.DuckDBPyConnection, kind: LogKind, written: Iterable[Written], now: datetime) -> None:
    """Inside the caller's transaction (the table exists): name the writer of each (row key, value) written."""
    rows = {(key, value): (key, value, source, pid, why) for key, value, source, pid, why in written}
    if not rows:
        return
    columns = list(zip(*rows.values(), strict=True))
    lists = [list(c) for c in columns]
    con.execute(
        f"""DELETE FROM {PROVENANCE_TABLE} p USING
            (SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) AS v) w
            WHERE p.kind = $3 AND p.row_key = w.k AND p.value = w.v""",
        [lists[0], lists[1], kind],
    )
    con.execute(
        f"""INSERT INTO {PROVENANCE_TABLE}
            SELECT $1, unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), unnest($4::VARCHAR[]), unnest($5::VARCHAR[]),
                   unnest($6::VARCHAR[]), $7""",
        [kind, *lists, now],
    )


def record_spotify(con: duckdb.DuckDBPyConnection, kind: LogKind, fills: str, now: datetime) -> None:
    """Inside the caller's transaction: name Spotify the writer of each row of the table `fills` (columns k: row
    key, v: value, pid: Spotify's id), in SQL: a batch's fills never travel through Python."""
    con.execute(
        f"DELETE FROM {PROVENANCE_TABLE} p USING {fills} f WHERE p.kind = ? AND p.row_key = f.k AND p.value = f.v",
        [kind],
    )
    con.execute(f"INSERT INTO {PROVENANCE_TABLE} SELECT ?, k, v, 'spotify', pid, '', ? FROM {fills}", [kind, now])


def pinned(schema: Schema, kind: LogKind, alias: str = "t") -> str:
    """SQL, true for a row of `alias` whose current value was set by hand (`backfill set`): nothing replaces it."""
    if not schema.has_provenance:
        return "FALSE"
    k = next(k for k in KINDS.values() if k.log == kind)
    return (
        f"EXISTS (SELECT 1 FROM {PROVENANCE_TABLE} pp WHERE pp.kind = '{kind}' AND pp.row_key = {alias}.{k.key} "
        f"AND pp.value = {alias}.{k.image} AND pp.source = '{MANUAL}')"
    )


def source_counts(con: duckdb.DuckDBPyConnection, schema: Schema) -> dict[str, dict[str, int]]:
    """Per kind ('tracks', 'artists' when the file has that table): rows with an image, by who wrote it."""
    out: dict[str, dict[str, int]] = {}
    for name, k in KINDS.items():
        if name == "artists" and not schema.has_artists:
            continue
        counts = dict.fromkeys((*SOURCES, UNKNOWN), 0)
        if schema.has_provenance:
            rows = con.execute(
                f"""SELECT coalesce(p.source, '{UNKNOWN}'), count(*) FROM {k.table} t
                    LEFT JOIN {PROVENANCE_TABLE} p ON p.kind = ? AND p.row_key = t.{k.key} AND p.value = t.{k.image}
                    WHERE t.{k.image} IS NOT NULL GROUP BY 1""",
                [k.log],
            ).fetchall()
        else:
            rows = con.execute(f"SELECT '{UNKNOWN}', count({k.image}) FROM {k.table}").fetchall()
        for source, n in rows:
            counts[source if source in counts else UNKNOWN] += n
        out[name] = counts
    return out


def sources_of(
    con: duckdb.DuckDBPyConnection, schema: Schema, kind: LogKind, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(row key, value) → who wrote that value into that row, for the pairs backfill wrote."""
    if not schema.has_provenance or not pairs:
        return {}
    rows = con.execute(
        f"""SELECT p.row_key, p.value, p.source FROM {PROVENANCE_TABLE} p
            JOIN (SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) AS v) w
              ON p.row_key = w.k AND p.value = w.v
            WHERE p.kind = $3""",
        [[k for k, _ in pairs], [v for _, v in pairs], kind],
    ).fetchall()
    return {(k, v): s for k, v, s in rows}
