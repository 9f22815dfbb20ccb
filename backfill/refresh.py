"""`run --refresh` and `undo`: fetch again the images already stored, replace the ones Spotify changed, and
put them back on request.

A refresh is an ordinary run through the same pipeline (pacing, quota, Retry-After, album grouping), over a
store whose queue holds the ids of rows that HAVE an image, and whose writer replaces a value only where
Spotify now serves a different one. Each replacement is journaled, in the same transaction as the UPDATE,
in the tool's own table `backfill_journal` (old value, new value, time), so a run stopped by the quota or by
Ctrl-C journals exactly what it changed. `undo` restores old values newest first, each guarded by "the value
is still the one we wrote": a value changed since is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from backfill.ids import SQL_ID_RE, SQL_TRACK_URI_RE, TRACK_URI_PREFIX
from backfill.store import ARTIST_QUEUE, TRACK_QUEUE, KindPlan, MissFilter, Outcome, Plan, Store, _one, _utcnow

JOURNAL = "backfill_journal"
CHECKED = "backfill_refreshed"  # when a refresh last had an answer for an id: what --older-than reads

# (kind in the journal, table, key column, image column, the column the fetched id is matched on)
_TABLES = {
    "tracks": ("track", "tracks", "spotify_track_uri", "album_image_url", "spotify_track_uri"),
    "artists": ("artist", "artists", "artist_name", "image_url", "spotify_artist_id"),
}


class RefreshStore(Store):
    """A Store whose plan queues rows that have an image, and whose apply replaces changed ones, journaled."""

    older_than_days: float | None = None  # skip ids a refresh had an answer for within this many days
    run_id: datetime | None = None  # the journal's name for this run: when it started (UTC)
    replaced: dict[str, int]  # per kind: rows whose image this run replaced (set by plan)

    def plan(self, misses: MissFilter, kinds: Sequence[str] = ("tracks", "artists")) -> Plan:
        con, s = self._con, self.schema
        self._pending = {"tracks": 0, "artists": 0}
        self._retrying = False
        self.replaced = {"tracks": 0, "artists": 0}
        self.run_id = self.run_id or _utcnow()
        cutoff = None
        if self.older_than_days is not None and _has_table(con, CHECKED):
            try:
                cutoff = _utcnow() - timedelta(days=self.older_than_days)
            except OverflowError:  # more days than the calendar holds: every id checked is recent enough
                cutoff = datetime(1, 1, 1)
        tracks, artists = KindPlan(), KindPlan()
        n = "coalesce(p.n, 0)" if s.has_plays else "0"

        def skip(kind: str) -> tuple[str, list[object]]:
            if cutoff is None:
                return "FALSE", []
            sql = f"EXISTS (SELECT 1 FROM {CHECKED} r WHERE r.kind = ? AND r.spotify_id = c.id AND r.checked_at > ?)"
            return sql, [kind, cutoff]

        if "tracks" in kinds:
            grp = (
                "CASE WHEN t.album_name IS NOT NULL AND t.primary_artist_name IS NOT NULL "
                "THEN hash(t.album_name, t.primary_artist_name) END"
                if s.has_album_grouping
                else "NULL::UBIGINT"
            )
            plays = (
                "LEFT JOIN (SELECT spotify_track_uri, count(*) AS n FROM plays GROUP BY 1) p USING (spotify_track_uri)"
                if s.has_plays
                else ""
            )
            cond, params = skip("track")
            # Album groups stay together, most-played group first, as in a normal run.
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {TRACK_QUEUE} AS
                    WITH c AS (SELECT substr(t.spotify_track_uri, {len(TRACK_URI_PREFIX) + 1}) AS id,
                                      any_value({grp}) AS grp, max({n}) AS plays
                               FROM tracks t {plays}
                               WHERE t.album_image_url IS NOT NULL
                                 AND regexp_full_match(t.spotify_track_uri, '{SQL_TRACK_URI_RE}') GROUP BY 1),
                         q AS (SELECT id, grp, plays, {cond} AS skip FROM c)
                    SELECT id, grp, skip FROM q
                    ORDER BY skip, max(plays) OVER (PARTITION BY skip, coalesce(grp, hash(id))) DESC, grp NULLS LAST,
                             plays DESC, id""",
                params,
            )
            tracks.missing_rows = _one(con, "SELECT count(album_image_url) FROM tracks")
            tracks.ids, tracks.pending = _one(
                con, f"SELECT count(*), count(*) FILTER (WHERE NOT skip) FROM {TRACK_QUEUE}"
            )
            tracks.invalid = tracks.missing_rows - _one(
                con,
                f"SELECT count(*) FROM tracks WHERE album_image_url IS NOT NULL "
                f"AND regexp_full_match(spotify_track_uri, '{SQL_TRACK_URI_RE}')",
            )
            tracks.remembered = tracks.ids - tracks.pending
            singles, grouped, groups = _one(
                con,
                f"""SELECT count(*) FILTER (WHERE n = 1 AND NOT skip),
                           coalesce(sum(n) FILTER (WHERE n > 1 AND NOT skip), 0),
                           count(*) FILTER (WHERE n > 1 AND NOT skip)
                    FROM (SELECT skip, count(*) AS n FROM {TRACK_QUEUE}
                          GROUP BY skip, CASE WHEN grp IS NULL THEN id END, grp)""",
            )
            tracks.groups = {"singles": singles, "grouped_tracks": grouped, "groups": groups}
            self._pending["tracks"] = tracks.pending
        if "artists" in kinds and s.has_artists:
            plays = (
                "LEFT JOIN (SELECT artist_name, count(*) AS n FROM plays GROUP BY 1) p USING (artist_name)"
                if s.has_plays
                else ""
            )
            cond, params = skip("artist")
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {ARTIST_QUEUE} AS
                    WITH c AS (SELECT a.spotify_artist_id AS id, sum({n}) AS plays
                               FROM artists a {plays}
                               WHERE a.image_url IS NOT NULL AND regexp_full_match(a.spotify_artist_id, '{SQL_ID_RE}')
                               GROUP BY 1)
                    SELECT id, NULL::VARCHAR[] AS names, {cond} AS skip FROM c ORDER BY skip, plays DESC, id""",
                params,
            )
            artists.missing_rows = _one(con, "SELECT count(image_url) FROM artists")
            artists.ids, artists.pending = _one(
                con, f"SELECT count(*), count(*) FILTER (WHERE NOT skip) FROM {ARTIST_QUEUE}"
            )
            artists.invalid = artists.missing_rows - _one(
                con,
                f"SELECT count(*) FROM artists WHERE image_url IS NOT NULL "
                f"AND regexp_full_match(spotify_artist_id, '{SQL_ID_RE}')",
            )
            artists.remembered = artists.ids - artists.pending
            self._pending["artists"] = artists.pending
        return Plan(tracks, artists)

    def apply(self, outcomes: Sequence[Outcome]) -> None:
        """Replace the values Spotify changed, journal each one, and note every id that got an answer.

        A miss (not found, no image) keeps the stored value: a refresh never removes an image.
        """
        urls: dict[str, dict[str, str]] = {"tracks": {}, "artists": {}}
        answered: dict[tuple[str, str], None] = {}
        for o in outcomes:
            if o.status == "updated" and o.url:
                urls[o.kind][o.id] = o.url
            if o.status != "failed":
                answered[(_TABLES[o.kind][0], o.id)] = None
        if not answered:
            return
        con = self._con
        now = _utcnow()
        con.execute("BEGIN TRANSACTION")
        try:
            _ensure_tables(con)
            for kind, changed in urls.items():
                if changed:
                    self.replaced[kind] += _replace(con, kind, changed, self.run_id or now, now)
            con.execute(
                f"""INSERT OR REPLACE INTO {CHECKED}
                    SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), $3""",
                [[k for k, _ in answered], [i for _, i in answered], now],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _replace(con: duckdb.DuckDBPyConnection, kind: str, changed: dict[str, str], run: datetime, now: datetime) -> int:
    """Journal, then update, the rows whose stored image differs from the new one. Returns rows replaced."""
    log_kind, table, key, column, match = _TABLES[kind]
    ids = [TRACK_URI_PREFIX + i for i in changed] if kind == "tracks" else list(changed)
    new = "(SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS url)"
    differs = f"t.{match} = u.id AND t.{column} IS NOT NULL AND t.{column} <> u.url"
    (n,) = con.execute(
        f"""INSERT INTO {JOURNAL} (seq, run_id, kind, row_key, old_value, new_value, changed_at)
            SELECT (SELECT coalesce(max(seq), 0) FROM {JOURNAL}) + row_number() OVER (ORDER BY t.{key}),
                   $3, $4, t.{key}, t.{column}, u.url, $5
            FROM {table} t JOIN {new} u ON {differs}""",
        [ids, list(changed.values()), run, log_kind, now],
    ).fetchone() or (0,)
    if n:
        con.execute(
            f"UPDATE {table} AS t SET {column} = u.url FROM {new} u WHERE {differs}",
            [ids, list(changed.values())],
        )
    return int(n)


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {JOURNAL} (
                seq BIGINT PRIMARY KEY,          -- order of the changes
                run_id TIMESTAMP NOT NULL,       -- the refresh run that made it (its start, UTC)
                kind VARCHAR NOT NULL,           -- 'track' (row_key: spotify_track_uri) or 'artist' (artist_name)
                row_key VARCHAR NOT NULL,
                old_value VARCHAR NOT NULL,
                new_value VARCHAR NOT NULL,
                changed_at TIMESTAMP NOT NULL,   -- UTC
                undone_at TIMESTAMP)             -- UTC; NULL while the change stands"""
    )
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {CHECKED} (
                kind VARCHAR NOT NULL, spotify_id VARCHAR NOT NULL, checked_at TIMESTAMP NOT NULL,
                PRIMARY KEY (kind, spotify_id))"""
    )


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        _one(
            con,
            "SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?",
            [name],
        )
    )


# -- undo ---------------------------------------------------------------------------------------


@dataclass
class UndoResult:
    run_id: datetime | None  # with --last: the run undone
    restored: dict[str, int]  # per kind ('tracks', 'artists'): old values put back
    kept: list[tuple[str, str, str]]  # (kind, row key, value now): changed since the refresh, left alone


def has_journal(store: Store) -> bool:
    return _has_table(store._con, JOURNAL)


def undo(store: Store, *, last: bool = False, since: datetime | None = None) -> UndoResult:
    """Put back the old values of the last refresh run (or of every change at or after `since`, UTC).

    Newest change first, each guarded by "the column still holds the value the refresh wrote". One
    transaction: all of it, or nothing.
    """
    con = store._con
    result = UndoResult(None, {"tracks": 0, "artists": 0}, [])
    if not _has_table(con, JOURNAL):
        return result
    if last:
        result.run_id = _one(con, f"SELECT max(run_id) FROM {JOURNAL}")
        where, params = "run_id = ?", [result.run_id]
    else:
        where, params = "changed_at >= ?", [since]
    entries = con.execute(
        f"SELECT seq, kind, row_key, old_value, new_value FROM {JOURNAL} "
        f"WHERE undone_at IS NULL AND {where} ORDER BY seq DESC",
        params,
    ).fetchall()
    now = _utcnow()
    con.execute("BEGIN TRANSACTION")
    try:
        for seq, log_kind, row_key, old, new in entries:
            kind = "tracks" if log_kind == "track" else "artists"
            _, table, key, column, _ = _TABLES[kind]
            done = con.execute(
                f"UPDATE {table} SET {column} = ? WHERE {key} = ? AND {column} = ? RETURNING 1",
                [old, row_key, new],
            ).fetchall()
            if done:
                con.execute(f"UPDATE {JOURNAL} SET undone_at = ? WHERE seq = ?", [now, seq])
                result.restored[kind] += 1
            else:
                row = con.execute(f"SELECT {column} FROM {table} WHERE {key} = ?", [row_key]).fetchone()
                result.kept.append((kind, row_key, row[0] if row else None))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def refresh_text(replaced: dict[str, int]) -> str:
    return (
        f"Refresh: {replaced['tracks']:,} track images and {replaced['artists']:,} artist photos replaced "
        "(journaled; `backfill undo --last` puts them back); the others are unchanged."
    )


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
