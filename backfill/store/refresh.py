"""`run --refresh` and `undo`: fetch again the images already stored, replace the ones Spotify changed, and
put them back on request.

A refresh is an ordinary run through the same pipeline (sources, pacing, quota, Retry-After, album grouping),
over a store whose plan queues the ids of rows that HAVE an image, and whose writer replaces a value only where
Spotify now serves a different image. Each replacement is journaled, in the same transaction as the UPDATE, in
the tool's own table `backfill_journal` (old value, new value, time), so a run stopped by the quota or by
Ctrl-C journals exactly what it changed. `undo` restores old values newest first, each guarded by "the value
is still the one we wrote": a value changed since is left alone.

"A different image" compares image ids, not URLs, when both values are Spotify CDN URLs
(`https://i.scdn.co/image/<id>`, `https://<name>.spotifycdn.com/image/<id>`): every host serves every id, and
the Web API and oEmbed hand out the same image on different hosts, so switching `--source` replaces nothing.
The id names the size too (its prefix), so a photo stored at another size than a run would choose is replaced.
Any other value is compared as a whole URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb

from backfill.ids import TRACK_URI_PREFIX
from backfill.records import LogKind, MissFilter, Outcome, Plan, utcnow
from backfill.store.schema import JOURNAL_TABLE, OWN_DDL, REFRESHED_TABLE, one
from backfill.store.store import Store

# (kind in the journal, table, key column, image column, the column the fetched id is matched on)
_TABLES = {
    "tracks": ("track", "tracks", "spotify_track_uri", "album_image_url", "spotify_track_uri"),
    "artists": ("artist", "artists", "artist_name", "image_url", "spotify_artist_id"),
}
_CDN_IMAGE = r"https://(?:i\.scdn\.co|[0-9a-z-]+\.spotifycdn\.com)/image/([0-9A-Za-z]+)"


def _image(column: str) -> str:
    """SQL: what identifies the image a value shows (the image id of a Spotify CDN URL, else the value)."""
    cdn = f"'{_CDN_IMAGE}'"
    return f"CASE WHEN regexp_full_match({column}, {cdn}) THEN regexp_extract({column}, {cdn}, 1) ELSE {column} END"


class RefreshStore(Store):
    """A Store whose plan queues rows that have an image, and whose apply replaces changed ones, journaled."""

    _IMAGE = "IS NOT NULL"
    older_than_days: float | None = None  # skip ids a refresh had an answer for within this many days
    run_id: datetime | None = None  # the journal's name for this run: when it started (UTC)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.replaced = {"tracks": 0, "artists": 0}  # per kind: rows whose image this run replaced (committed)
        self.replaced_ids = {"tracks": 0, "artists": 0}  # per kind: ids behind them (names may share an artist id)

    def plan(self, misses: MissFilter, kinds: Sequence[str] = ("tracks", "artists")) -> Plan:
        self.run_id = self.run_id or utcnow()
        return super().plan(misses, kinds)

    def _remembered(self, kind: LogKind, misses: MissFilter) -> tuple[str, list[Any]]:
        """Skip the ids a refresh had an answer for since the --older-than cutoff (remembered misses are not
        skipped: their rows have an image to check)."""
        if self.older_than_days is None or not self.schema.has_refreshed:
            return "FALSE", []
        try:
            cutoff = utcnow() - timedelta(days=self.older_than_days)
        except OverflowError:  # more days than the calendar holds: every id checked is recent enough
            cutoff = datetime(1, 1, 1)
        checked = f"SELECT 1 FROM {REFRESHED_TABLE} r WHERE r.kind = ? AND r.spotify_id = c.id AND r.checked_at > ?"
        return f"EXISTS ({checked})", [kind, cutoff]

    def apply(self, outcomes: Sequence[Outcome]) -> dict[str, int]:
        """Replace the values Spotify changed, journal each one, and note every id that got an answer.

        A miss (not found, no image) keeps the stored value: a refresh never removes an image. Returns the rows
        replaced per kind, as committed.
        """
        replaced, ids = {"tracks": 0, "artists": 0}, {"tracks": 0, "artists": 0}
        urls: dict[str, dict[str, str]] = {"tracks": {}, "artists": {}}
        answered: dict[tuple[str, str], None] = {}
        for o in outcomes:
            if o.status == "updated" and o.url:
                urls[o.kind][o.id] = o.url
            if o.status != "failed":
                answered[(_TABLES[o.kind][0], o.id)] = None
        if not answered:
            return replaced
        now = utcnow()
        with self.transaction() as con:
            self._ensure_tables(con)
            for kind, changed in urls.items():
                if changed:
                    replaced[kind], ids[kind] = _replace(con, kind, changed, self.run_id or now, now)
            # An upsert by hand (no key: see schema.py), in the same transaction, so never two rows.
            keys = [[k for k, _ in answered], [i for _, i in answered]]
            con.execute(
                f"""DELETE FROM {REFRESHED_TABLE} WHERE (kind, spotify_id) IN
                    (SELECT (unnest($1::VARCHAR[]), unnest($2::VARCHAR[])))""",
                keys,
            )
            con.execute(
                f"INSERT INTO {REFRESHED_TABLE} SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), $3", [*keys, now]
            )
        for kind, n in replaced.items():
            self.replaced[kind] += n
            self.replaced_ids[kind] += ids[kind]
        return replaced

    def _ensure_tables(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the journal and the refreshed table on the first write (rolled back with the transaction)."""
        if not self.schema.has_journal:
            con.execute(OWN_DDL[JOURNAL_TABLE].format(name=JOURNAL_TABLE))
        if not self.schema.has_refreshed:
            con.execute(OWN_DDL[REFRESHED_TABLE].format(name=REFRESHED_TABLE))
        self.schema = replace(self.schema, has_journal=True, has_refreshed=True)


def _replace(
    con: duckdb.DuckDBPyConnection, kind: str, changed: dict[str, str], run: datetime, now: datetime
) -> tuple[int, int]:
    """Journal, then update, the rows whose stored image differs from the new one. Returns (rows, ids) replaced."""
    log_kind, table, key, column, match = _TABLES[kind]
    ids = [TRACK_URI_PREFIX + i for i in changed] if kind == "tracks" else list(changed)
    new = "(SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS url)"
    differs = f"t.{match} = u.id AND t.{column} IS NOT NULL AND {_image(f't.{column}')} <> {_image('u.url')}"
    n = one(
        con,
        f"""INSERT INTO {JOURNAL_TABLE} (seq, run_id, kind, row_key, old_value, new_value, changed_at)
            SELECT (SELECT coalesce(max(seq), 0) FROM {JOURNAL_TABLE}) + row_number() OVER (ORDER BY t.{key}),
                   $3, $4, t.{key}, t.{column}, u.url, $5
            FROM {table} t JOIN {new} u ON {differs}""",
        [ids, list(changed.values()), run, log_kind, now],
    )
    if not n:
        return 0, 0
    # The same condition as the journal's: inside one transaction with the file locked, the same rows.
    updated = con.execute(
        f"UPDATE {table} AS t SET {column} = u.url FROM {new} u WHERE {differs} RETURNING t.{match}",
        [ids, list(changed.values())],
    ).fetchall()
    return int(n), len({i for (i,) in updated})  # distinct track URIs or artist ids


# -- undo ---------------------------------------------------------------------------------------


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
            for kind, (log_kind, table, key, column, _) in _TABLES.items():
                mine = [e for e in batch if e[1] == log_kind]
                if not mine:
                    continue
                restored = {
                    k
                    for (k,) in con.execute(
                        f"""UPDATE {table} AS t SET {column} = u.old
                            FROM (SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) AS old,
                                         unnest($3::VARCHAR[]) AS new) u
                            WHERE t.{key} = u.k AND t.{column} = u.new RETURNING t.{key}""",
                        [[e[2] for e in mine], [e[3] for e in mine], [e[4] for e in mine]],
                    ).fetchall()
                }
                result.restored[kind] += sum(e[2] in restored for e in mine)
                undone += [e[0] for e in mine if e[2] in restored]
                kept += [(e[0], kind, e[2]) for e in mine if e[2] not in restored]
        if undone:
            con.execute(
                f"UPDATE {JOURNAL_TABLE} SET undone_at = $1 WHERE seq IN (SELECT unnest($2::BIGINT[]))",
                [utcnow(), undone],
            )
        for _, kind, row_key in sorted(kept, reverse=True):
            _, table, key, column, _ = _TABLES[kind]
            row = con.execute(f"SELECT {column} FROM {table} WHERE {key} = ?", [row_key]).fetchone()
            result.kept.append((kind, row_key, row[0] if row else None))
    return result


def undo_json(result: UndoResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id.isoformat() if result.run_id else None,
        "restored": result.restored,
        "kept": [{"kind": k, "row": key, "value_now": value} for k, key, value in result.kept],
    }


def undo_text(result: UndoResult) -> str:
    restored = sum(result.restored.values())
    if not restored and not result.kept:
        return "Nothing to undo."
    of = f" of the refresh started {result.run_id:%Y-%m-%d %H:%M:%S} UTC" if result.run_id else ""
    lines = [
        f"Restored {result.restored['tracks']:,} track images and {result.restored['artists']:,} artist photos{of}."
    ]
    if result.kept:
        lines.append(f"Left alone, changed since the refresh: {len(result.kept):,}.")
        lines += [f"  {kind[:-1]} {key}: now {value}" for kind, key, value in result.kept[:10]]
    return "\n".join(lines)
