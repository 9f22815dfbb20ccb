"""`undo --source P`: set back everything provider P wrote (spotify, deezer, musicbrainz, or manual: `set`).

A row is P's when its current value is one P wrote (its provenance). It goes back to NULL, or, for a value set
by hand, to the value that set replaced (from the journal; a set that found the value in place already only
stops being 'manual'). Guarded: a row whose value changed since P wrote it is left alone, and the UPDATE says
so in its WHERE clause. Each change is journaled in `backfill_journal` like a refresh's, in the same
transaction, so `sync` sees it and a later `undo --last` or `--since` can walk it back. One transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import duckdb

from backfill.kinds import KINDS
from backfill.records import utcnow
from backfill.store.provenance import MANUAL
from backfill.store.schema import JOURNAL_TABLE, OWN_DDL, PROVENANCE_TABLE, one
from backfill.store.store import Store


@dataclass
class SourceUndo:
    source: str
    restored: dict[str, int] = field(default_factory=lambda: {"tracks": 0, "artists": 0})  # rows set back
    unmarked: dict[str, int] = field(default_factory=lambda: {"tracks": 0, "artists": 0})  # manual: value kept
    kept: list[tuple[str, str, str | None]] = field(default_factory=list)  # (kind, row key, value now): changed


def has_provenance(store: Store) -> bool:
    store.reader()  # attaches the file if it is not, and reads its schema
    return store.schema.has_provenance


def undo_source(store: Store, source: str) -> SourceUndo:
    """Set back what `source` wrote, in one transaction (nothing to do: no write at all)."""
    result = SourceUndo(source)
    store.reader()
    if not store.schema.has_provenance:
        return result
    with store.transaction() as con:
        now = utcnow()
        for name, k in KINDS.items():
            if name == "artists" and not store.schema.has_artists:
                continue
            replaced = (
                f"""(SELECT j.old_value FROM {JOURNAL_TABLE} j WHERE j.kind = '{k.log}' AND j.row_key = t.{k.key}
                     AND j.new_value = t.{k.image} AND j.undone_at IS NULL ORDER BY j.seq DESC LIMIT 1)"""
                if source == MANUAL and store.schema.has_journal
                else "NULL::VARCHAR"
            )
            entry = (
                f"""EXISTS (SELECT 1 FROM {JOURNAL_TABLE} j WHERE j.kind = '{k.log}' AND j.row_key = t.{k.key}
                    AND j.new_value = t.{k.image} AND j.undone_at IS NULL)"""
                if source == MANUAL and store.schema.has_journal
                else str(source != MANUAL).upper()
            )
            rows = con.execute(
                f"""SELECT DISTINCT t.{k.key}, t.{k.image}, {replaced}, {entry} FROM {k.table} t
                    JOIN {PROVENANCE_TABLE} p ON p.kind = ? AND p.row_key = t.{k.key} AND p.value = t.{k.image}
                    WHERE p.source = ?""",
                [k.log, source],
            ).fetchall()
            result.kept += [
                (name, key, value) for key, value in _changed_since(con, k.log, k.table, k.key, k.image, source)
            ]
            back = [(key, value, old) for key, value, old, journaled in rows if journaled]
            stays = [(key, value) for key, value, _, journaled in rows if not journaled]
            if back:
                result.restored[name] = _set_back(con, store, k.log, k.table, k.key, k.image, back, now)
            if stays:  # a set that found its value in place: the value stays, no longer 'manual'
                con.execute(
                    f"""DELETE FROM {PROVENANCE_TABLE} p USING
                        (SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) AS v) w
                        WHERE p.kind = $3 AND p.row_key = w.k AND p.value = w.v AND p.source = $4""",
                    [[k for k, _ in stays], [v for _, v in stays], k.log, source],
                )
                result.unmarked[name] = len(stays)
    return result


def _set_back(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    log: str,
    table: str,
    key: str,
    column: str,
    back: list[tuple[str, str, str | None]],
    now: datetime,
) -> int:
    """Journal, then make, the changes (row key, value now, value to put back); the rows set back."""
    if not store.schema.has_journal:
        con.execute(OWN_DDL[JOURNAL_TABLE].format(name=JOURNAL_TABLE))
        store.schema = replace(store.schema, has_journal=True)
    lists = [[b[0] for b in back], [b[1] for b in back], [b[2] for b in back]]
    change = "(SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) AS now, unnest($3::VARCHAR[]) AS old) u"
    guard = f"t.{key} = u.k AND t.{column} = u.now"
    con.execute(
        f"""INSERT INTO {JOURNAL_TABLE} (seq, run_id, kind, row_key, old_value, new_value, changed_at)
            SELECT (SELECT coalesce(max(seq), 0) FROM {JOURNAL_TABLE}) + row_number() OVER (ORDER BY t.{key}),
                   $4, $5, t.{key}, t.{column}, u.old, $4
            FROM {table} t JOIN {change} ON {guard}""",
        [*lists, now, log],
    )
    return int(one(con, f"UPDATE {table} AS t SET {column} = u.old FROM {change} WHERE {guard}", lists))


def _changed_since(
    con: duckdb.DuckDBPyConnection, log: str, table: str, key: str, column: str, source: str
) -> list[tuple[str, str]]:
    """Rows `source` wrote a value into that now hold another one it did not write (left alone), at most 10."""
    rows = con.execute(
        f"""SELECT DISTINCT t.{key}, t.{column} FROM {table} t
            WHERE t.{column} IS NOT NULL
              AND EXISTS (SELECT 1 FROM {PROVENANCE_TABLE} p WHERE p.kind = $1 AND p.row_key = t.{key}
                          AND p.source = $2)
              AND NOT EXISTS (SELECT 1 FROM {PROVENANCE_TABLE} p WHERE p.kind = $1 AND p.row_key = t.{key}
                              AND p.value = t.{column} AND p.source = $2)
            ORDER BY 1 LIMIT 10""",
        [log, source],
    ).fetchall()
    return [(k, v) for k, v in rows]
