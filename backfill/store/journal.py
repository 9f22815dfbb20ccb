"""`undo`: put back what a refresh (or a `set`, or an `undo --source`) replaced, from the journal
`backfill_journal` written in the same transactions as their UPDATEs. Newest change first, each guarded by "the
value is still the one we wrote" (NULL included: an `undo --source` sets values back to NULL): a value changed
since is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backfill.kinds import KINDS
from backfill.records import utcnow
from backfill.store.schema import JOURNAL_TABLE, one
from backfill.store.store import Store


@dataclass
class UndoResult:
    run_id: datetime | None  # with --last: the run undone
    restored: dict[str, int]  # per kind ('tracks', 'artists'): old values put back
    kept: list[tuple[str, str, str | None]]  # (kind, row key, value now): changed since the refresh, left alone


def has_journal(store: Store) -> bool:
    store.reader()  # attaches the file if it is not, and reads its schema
    return store.schema.has_journal


def undo(store: Store, *, last: bool = False, since: datetime | None = None) -> UndoResult:
    """Put back the old values of the last refresh run (or of every change at or after `since`, UTC).

    Newest change first, each guarded by "the column still holds the value the refresh wrote". One
    transaction: all of it, or nothing. Set-based: a round undoes at most one change per row (its newest one
    left), in one UPDATE per table, so a row changed by several runs is walked back in order.
    """
    result = UndoResult(None, {"tracks": 0, "artists": 0}, [])
    if not has_journal(store):
        return result
    with store.transaction() as con:
        if last:
            result.run_id = one(con, f"SELECT max(run_id) FROM {JOURNAL_TABLE}")
            where, params = "run_id = ?", [result.run_id]
        else:
            where, params = "changed_at >= ?", [since]
        entries = con.execute(
            f"SELECT seq, kind, row_key, old_value, new_value FROM {JOURNAL_TABLE} "
            f"WHERE undone_at IS NULL AND {where} ORDER BY seq DESC",
            params,
        ).fetchall()
        rounds: list[list[tuple[Any, ...]]] = []
        seen: dict[tuple[str, str], int] = {}  # (kind, row key) → changes of that row met so far
        for entry in entries:
            n = seen[entry[1], entry[2]] = seen.get((entry[1], entry[2]), 0) + 1
            if n > len(rounds):
                rounds.append([])
            rounds[n - 1].append(entry)
        undone: list[int] = []
        kept: list[tuple[int, str, str]] = []
        for batch in rounds:
            for kind, k in KINDS.items():
                table, key, column = k.table, k.key, k.image
                mine = [e for e in batch if e[1] == k.log]
                if not mine:
                    continue
                given = (
                    "(SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) AS old, unnest($3::VARCHAR[]) AS new) u"
                )
                still = f"t.{key} = u.k AND t.{column} IS NOT DISTINCT FROM u.new"
                params = [[e[2] for e in mine], [e[3] for e in mine], [e[4] for e in mine]]
                # The rows put back, read first (same transaction, same condition) rather than with RETURNING:
                # see backfill.store.writes on replaying the write-ahead log.
                found = con.execute(f"SELECT t.{key} FROM {table} t JOIN {given} ON {still}", params).fetchall()
                restored = {r for (r,) in found}
                con.execute(f"UPDATE {table} AS t SET {column} = u.old FROM {given} WHERE {still}", params)
                result.restored[kind] += sum(e[2] in restored for e in mine)
                undone += [e[0] for e in mine if e[2] in restored]
                kept += [(e[0], kind, e[2]) for e in mine if e[2] not in restored]
        if undone:
            con.execute(
                f"UPDATE {JOURNAL_TABLE} SET undone_at = $1 WHERE seq IN (SELECT unnest($2::BIGINT[]))",
                [utcnow(), undone],
            )
        for _, kind, row_key in sorted(kept, reverse=True):
            table, key, column = KINDS[kind].table, KINDS[kind].key, KINDS[kind].image
            row = con.execute(f"SELECT {column} FROM {table} WHERE {key} = ?", [row_key]).fetchone()
            result.kept.append((kind, row_key, row[0] if row else None))
    return result
