"""The listening-history database: what is missing, and filling it in.

Rules this module keeps:
- Only NULL image columns are filled, and every UPDATE says so in its WHERE clause, so a value written by
  someone else meanwhile is never overwritten. No row of the user's tables is inserted or deleted.
- Writes are set-based: one statement per batch of rows (lists passed as parameters and unnested).
- The user's schema is never created or altered; our own table, `backfill_log`, appears with the first write of
  a run (backfill.refresh adds two more).
- The file is attached only while it is read or written (backfill.attach): the plan is read, then the file is
  released; each batch attaches it for writing, and the writer releases it when it has nothing more to write.
- All methods are blocking: callers in the event loop run them on one dedicated thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb

from backfill.attach import Attachment, Mode
from backfill.dbfile import StoreError, refuse_if_unkeepable, refuse_if_unwritable, sniff
from backfill.ids import SQL_ID_RE, SQL_TRACK_URI_RE, TRACK_URI_PREFIX
from backfill.records import NEVER, REMEMBERED, KindPlan, LogKind, MissFilter, Outcome, Plan, Status, utcnow
from backfill.schema import LOG_DDL, LOG_TABLE, Schema, check_schema, one, repair_own_tables

__all__ = ["KindPlan", "MissFilter", "Outcome", "Plan", "Status", "Store", "StoreError"]

TRACK_QUEUE = "backfill_track_queue"  # TEMP tables of the in-memory connection, never in the file
ARTIST_QUEUE = "backfill_artist_queue"
PAGE_ROWS = 2048


class Store:
    # Which rows the plan queues: those whose image is NULL (a run), or those that have one (a refresh).
    _IMAGE = "IS NULL"

    def __init__(self, link: Attachment, need_artists: bool) -> None:
        self._link = link
        self.path = link.path
        self._need_artists = need_artists
        self.schema = Schema(False, False, False, False, False)  # set by each attach
        self._pending = {"tracks": 0, "artists": 0}  # queue lengths, set by plan()
        self._retrying = False  # plan() queued remembered misses again: a hit must clear its log entry

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool,
        need_artists: bool = True,
        for_run: bool = False,
        lock_timeout: float = 0.0,
    ) -> Store:
        """Check the file and attach it (for writing unless read_only); `for_run`: a run will write it, so
        refuse what it cannot keep readable. A busy file is tried again for up to lock_timeout seconds."""
        path = Path(path)
        header = sniff(path)
        if for_run or not read_only:
            refuse_if_unkeepable(path, header)
            refuse_if_unwritable(path)
        link = Attachment(path, header, lock_timeout=lock_timeout)
        store = cls(link, need_artists)
        try:
            store._attach("read" if read_only else "write")
        except BaseException:
            link.close()
            raise
        return store

    def _attach(self, mode: Mode) -> None:
        """Attach the file if it is not; each time, check its schema again (another process may change it)."""
        if not self._link.attach(mode):
            return
        self.schema = check_schema(self._link.con, self._need_artists)
        if self._link.mode == "write" and self.schema.log_repair:
            repair_own_tables(self._link.con)
            self.schema = replace(self.schema, log_repair=False)

    def release(self) -> None:
        """Detach the file: its lock is free for others until the next read or write."""
        self._link.detach()

    @property
    def attached(self) -> bool:
        return self._link.mode is not None

    def close(self) -> None:
        self._link.close()

    # -- what is missing ---------------------------------------------------------------------------

    def _track_candidates(self) -> str:
        """One row per distinct valid track id still missing album art: (id, album group key, plays).

        Distinct uris first, then their plays: joining the plays before the GROUP BY would carry every
        row through the join, and needs several times the memory at a million tracks.
        """
        s = self.schema
        # A hash of (album, artist) stands for the album group, NULL when either is unknown: the producer
        # needs to see where a group ends, not its name, and the sort carries 8 bytes instead of two strings.
        grp = (
            "any_value(CASE WHEN album_name IS NOT NULL AND primary_artist_name IS NOT NULL "
            "THEN hash(album_name, primary_artist_name) END)"
            if s.has_album_grouping
            else "NULL::UBIGINT"
        )
        plays = (
            "LEFT JOIN (SELECT spotify_track_uri AS uri, count(*) AS n FROM plays GROUP BY 1) p USING (uri)"
            if s.has_plays
            else ""
        )
        n = "coalesce(p.n, 0)" if s.has_plays else "0"
        return f"""
            SELECT substr(u.uri, {len(TRACK_URI_PREFIX) + 1}) AS id, u.grp, {n} AS plays
            FROM (SELECT spotify_track_uri AS uri, {grp} AS grp FROM tracks
                  WHERE album_image_url {self._IMAGE} AND regexp_full_match(spotify_track_uri, '{SQL_TRACK_URI_RE}')
                  GROUP BY 1) u {plays}"""

    def artist_rows(self) -> str:
        """One row per artist name missing a photo (with one, for a refresh), with the id to fetch (own, or
        recovered) or NULL."""
        s = self.schema
        if s.has_primary_artist_id and self._IMAGE == "IS NULL":  # a refresh writes no id: it recovers none
            # A NULL id is recoverable when the name has exactly one distinct primary_artist_id in tracks.
            rec = f"""LEFT JOIN (
                SELECT primary_artist_name AS name, min(primary_artist_id) AS rid FROM tracks
                WHERE primary_artist_id IS NOT NULL GROUP BY 1
                HAVING count(DISTINCT primary_artist_id) = 1 AND regexp_full_match(min(primary_artist_id),
                '{SQL_ID_RE}')) r ON r.name = a.artist_name"""
            rid = "r.rid"
        else:
            rec, rid = "", "NULL::VARCHAR"
        plays = (
            "LEFT JOIN (SELECT artist_name, count(*) AS n FROM plays GROUP BY 1) p ON p.artist_name = a.artist_name"
            if s.has_plays
            else ""
        )
        n = "coalesce(p.n, 0)" if s.has_plays else "0"
        return f"""
            SELECT a.artist_name AS name,
                   CASE WHEN regexp_full_match(a.spotify_artist_id, '{SQL_ID_RE}') THEN a.spotify_artist_id
                        WHEN a.spotify_artist_id IS NULL THEN {rid} END AS id,
                   a.spotify_artist_id IS NULL AND {rid} IS NOT NULL AS recovered,
                   {n} AS plays
            FROM artists a {rec} {plays}
            WHERE a.image_url {self._IMAGE}"""

    def _artist_candidates(self) -> str:
        return f"""
            SELECT id, list(name ORDER BY name) FILTER (WHERE recovered) AS names, sum(plays) AS plays
            FROM ({self.artist_rows()}) WHERE id IS NOT NULL GROUP BY id"""

    def _remembered(self, kind: LogKind, misses: MissFilter) -> tuple[str, list[Any]]:
        """An SQL condition on candidates `c`: true for ids to skip (a remembered miss, recent enough)."""
        cutoff = misses.cutoff()
        if not self.schema.has_log or cutoff is None:
            return "FALSE", []
        return (
            f"EXISTS (SELECT 1 FROM {LOG_TABLE} l WHERE l.kind = ? AND l.spotify_id = c.id AND l.checked_at > ?)",
            [kind, cutoff],
        )

    def plan(self, misses: MissFilter, kinds: Sequence[str] = ("tracks", "artists")) -> Plan:
        """Count what is missing, and queue the ids to fetch (most-played first) for the streams below.

        The queues are TEMP tables of this connection, built by one sort each: the fetch streams then read
        them in short pages, so no query stays open while the writer commits (a long read would hold back
        DuckDB's checkpoints, and with them the memory of every row version written meanwhile).
        """
        self._attach("read")
        tracks, artists = KindPlan(), KindPlan()
        con = self._link.con
        self._pending = {"tracks": 0, "artists": 0}
        self._retrying = self.schema.has_log and misses.cutoff() != NEVER
        if "tracks" in kinds:
            tracks.missing_rows, tracks.invalid = one(
                con,
                f"SELECT count(*), count(*) FILTER (WHERE NOT coalesce(regexp_full_match("
                f"spotify_track_uri, '{SQL_TRACK_URI_RE}'), FALSE)) FROM tracks WHERE album_image_url {self._IMAGE}",
            )
            skip, params = self._remembered("track", misses)
            # Album groups stay contiguous, ordered by their most-played pending track.
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {TRACK_QUEUE} AS
                    WITH c AS (SELECT *, {skip} AS skip FROM ({self._track_candidates()}) c),
                         g AS (SELECT grp, max(plays) AS top FROM c WHERE grp IS NOT NULL AND NOT skip GROUP BY grp)
                    SELECT c.id, c.grp, c.skip FROM c LEFT JOIN g USING (grp)
                    ORDER BY c.skip, coalesce(g.top, c.plays) DESC, c.grp NULLS LAST, c.plays DESC, c.id""",
                params,
            )
            tracks.ids, tracks.pending, singles, grouped, groups = one(
                con,
                f"""SELECT coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE NOT skip), 0),
                           count(*) FILTER (WHERE n = 1 AND NOT skip),
                           coalesce(sum(n) FILTER (WHERE n > 1 AND NOT skip), 0),
                           count(*) FILTER (WHERE n > 1 AND NOT skip)
                    FROM (SELECT skip, count(*) AS n FROM {TRACK_QUEUE}
                          GROUP BY skip, CASE WHEN grp IS NULL THEN id END, grp)""",
            )
            tracks.remembered = tracks.ids - tracks.pending
            # For the Development Mode estimate.
            tracks.groups = {"singles": singles, "grouped_tracks": grouped, "groups": groups}
            self._pending["tracks"] = tracks.pending
        if "artists" in kinds and self.schema.has_artists:
            artists.missing_rows, artists.invalid, artists.recovered = one(
                con,
                f"SELECT count(*), count(*) FILTER (WHERE id IS NULL), count(*) FILTER (WHERE recovered) "
                f"FROM ({self.artist_rows()})",
            )
            skip, params = self._remembered("artist", misses)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {ARTIST_QUEUE} AS
                    SELECT id, names, {skip} AS skip FROM ({self._artist_candidates()}) c
                    ORDER BY skip, plays DESC, id""",
                params,
            )
            artists.ids, artists.pending = one(
                con, f"SELECT count(*), count(*) FILTER (WHERE NOT skip) FROM {ARTIST_QUEUE}"
            )
            artists.remembered = artists.ids - artists.pending
            self._pending["artists"] = artists.pending
        return Plan(tracks, artists, self.schema.log_repair)

    def stream_tracks(self) -> Iterator[list[tuple[str, int | None]]]:
        """Pages of (id, album group key or None) from plan()'s queue: album groups contiguous, most-played
        groups first."""
        return self._pages(TRACK_QUEUE, "id, grp", self._pending["tracks"])

    def stream_artists(self) -> Iterator[list[tuple[str, list[str] | None]]]:
        """Pages of (id, names recovered for that id) from plan()'s queue, most-played first."""
        return self._pages(ARTIST_QUEUE, "id, names", self._pending["artists"])

    def _pages(self, table: str, columns: str, pending: int) -> Iterator[list[Any]]:
        # Pending ids come first in the queue, and a TEMP table's rowids are its insertion order.
        for start in range(0, pending, PAGE_ROWS):
            yield self._link.con.execute(
                f"SELECT {columns} FROM {table} WHERE rowid >= ? AND rowid < ? ORDER BY rowid",
                [start, min(start + PAGE_ROWS, pending)],
            ).fetchall()

    # -- filling in ------------------------------------------------------------------------------

    def apply(self, outcomes: Sequence[Outcome]) -> dict[str, int]:
        """Write a batch of outcomes in one transaction, a handful of set-based statements in all.

        Returns the image rows the transaction filled, per kind: what was committed, not what was fetched (a
        row filled meanwhile by someone else is not counted, and a failed commit raises instead).
        """
        filled = {"tracks": 0, "artists": 0}
        track_urls: dict[str, str] = {}
        artist_urls: dict[str, str] = {}
        recovered: dict[str, str] = {}
        misses: dict[tuple[str, str], str] = {}
        found: dict[tuple[str, str], None] = {}
        for o in outcomes:
            log_kind = "track" if o.kind == "tracks" else "artist"
            if o.status == "updated" and o.url:
                (track_urls if o.kind == "tracks" else artist_urls)[o.id] = o.url
                if self._retrying:  # otherwise no fetched id can have a log entry to clear
                    found[(log_kind, o.id)] = None
            elif o.status in REMEMBERED:
                misses[(log_kind, o.id)] = o.status
            if o.status in ("updated", "no_image"):
                for name in o.names:  # only an id Spotify confirmed is written back
                    recovered[name] = o.id
        if not (track_urls or artist_urls or recovered or misses):
            return filled
        with self.transaction() as con:
            if track_urls:
                filled["tracks"] = _changed(
                    con,
                    """UPDATE tracks SET album_image_url = u.url
                       FROM (SELECT unnest($1::VARCHAR[]) AS uri, unnest($2::VARCHAR[]) AS url) u
                       WHERE tracks.spotify_track_uri = u.uri AND tracks.album_image_url IS NULL""",
                    [[TRACK_URI_PREFIX + i for i in track_urls], list(track_urls.values())],
                )
            if recovered:
                con.execute(
                    """UPDATE artists SET spotify_artist_id = r.id
                       FROM (SELECT unnest($1::VARCHAR[]) AS name, unnest($2::VARCHAR[]) AS id) r
                       WHERE artists.artist_name = r.name AND artists.spotify_artist_id IS NULL""",
                    [list(recovered), list(recovered.values())],
                )
            if artist_urls:
                filled["artists"] = _changed(
                    con,
                    """UPDATE artists SET image_url = u.url
                       FROM (SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS url) u
                       WHERE artists.spotify_artist_id = u.id AND artists.image_url IS NULL""",
                    [list(artist_urls), list(artist_urls.values())],
                )
            if misses:
                self._ensure_log()
            if self.schema.has_log and (misses or found):
                # An upsert by hand: the log has no key, because DuckDB 2.0 writes indexes that older DuckDB
                # versions cannot read (see README, "Compatibility"). Same transaction, so never two rows.
                stale = [*found, *misses]
                con.execute(
                    f"""DELETE FROM {LOG_TABLE} WHERE (kind, spotify_id) IN
                        (SELECT (unnest($1::VARCHAR[]), unnest($2::VARCHAR[])))""",
                    [[k for k, _ in stale], [i for _, i in stale]],
                )
            if misses:
                con.execute(
                    f"""INSERT INTO {LOG_TABLE}
                        SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), $4""",
                    [[k for k, _ in misses], [i for _, i in misses], list(misses.values()), utcnow()],
                )
        return filled

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The file attached for writing, in one transaction: committed at the end, rolled back on any error."""
        self._attach("write")
        con = self._link.con
        schema = self.schema
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            # A failed COMMIT has already ended the transaction: ROLLBACK's own complaint ("no transaction is
            # active") must not hide the real error (a full disk, an unwritable .wal).
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            self.schema = schema  # a table of ours created in this transaction is gone with it
            raise

    def _ensure_log(self) -> None:
        if self.schema.has_log:
            return
        self._link.con.execute(LOG_DDL.format(name=LOG_TABLE))
        self.schema = replace(self.schema, has_log=True)

    # -- reporting ---------------------------------------------------------------------------------

    def image_counts(self) -> dict[str, tuple[int, int]]:
        """Per table: (rows, rows with an image)."""
        self._attach("read")
        counts = {"tracks": one(self._link.con, "SELECT count(*), count(album_image_url) FROM tracks")}
        if self.schema.has_artists:
            counts["artists"] = one(self._link.con, "SELECT count(*), count(image_url) FROM artists")
        return counts

    def reader(self) -> duckdb.DuckDBPyConnection:
        """The connection, with the file attached for reading: for read-only reports (backfill.toplists)."""
        self._attach("read")
        return self._link.con

    def remembered_counts(self) -> dict[tuple[str, str], int]:
        self._attach("read")
        if not self.schema.has_log:
            return {}
        rows = self._link.con.execute(f"SELECT kind, outcome, count(*) FROM {LOG_TABLE} GROUP BY ALL").fetchall()
        return {(kind, outcome): n for kind, outcome, n in rows}

    def samples(self) -> dict[str, tuple[str, str] | None]:
        self._attach("read")
        track = self._link.con.execute(
            "SELECT track_name, album_image_url FROM tracks WHERE album_image_url IS NOT NULL "
            "ORDER BY spotify_track_uri LIMIT 1"
        ).fetchone()
        artist = None
        if self.schema.has_artists:
            artist = self._link.con.execute(
                "SELECT artist_name, image_url FROM artists WHERE image_url IS NOT NULL ORDER BY artist_name LIMIT 1"
            ).fetchone()
        return {"track": track, "artist": artist}


def _changed(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    """Run an UPDATE; the number of rows it changed."""
    return int(one(con, sql, params))
