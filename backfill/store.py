"""The listening-history database: what is missing, and filling it in.

Rules this module keeps:
- Only NULL image columns are filled, and every UPDATE says so in its WHERE clause, so a value written by
  someone else meanwhile is never overwritten. No row of the user's tables is inserted or deleted.
- Writes are set-based: one statement per batch of rows (lists passed as parameters and unnested).
- The user's schema is never created or altered; the only table of our own, `backfill_log`, appears with the
  first write of a run.
- All methods are blocking: callers in the event loop run them on one dedicated thread.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb

from backfill.ids import SQL_ID_RE, SQL_TRACK_URI_RE, TRACK_URI_PREFIX

LOG_TABLE = "backfill_log"
Status = Literal["updated", "no_image", "not_found", "failed"]
LogKind = Literal["track", "artist"]
_REMEMBERED: tuple[Status, ...] = ("not_found", "no_image")
TRACK_QUEUE = "backfill_track_queue"  # TEMP tables: they vanish with the connection
ARTIST_QUEUE = "backfill_artist_queue"
PAGE_ROWS = 2048
NEVER = datetime(1, 1, 1)  # a cutoff before every remembered miss: skip them all
# DuckDB would otherwise take up to 80 % of RAM and keep what it read cached. With this cap the tool's
# memory stays nearly flat in the table's size: bigger queries spill to a temporary folder beside the
# database. The plan's query (one aggregate, one sort) was measured to fit a million tracks in 80 MB.
MEMORY_LIMIT = "80MB"
# A checkpoint rewrites every row group the writes touched, and ours touch them all (ids come in play order,
# not table order): the default 16 MB of WAL meant a checkpoint every few batches at a million tracks. Each
# write pending a checkpoint also holds memory, which is what bounds this.
CHECKPOINT_AFTER = "32MB"


class StoreError(Exception):
    """The database cannot be used as it is; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker learnt about one id; the writer turns a batch of these into a few statements."""

    kind: Literal["tracks", "artists"]
    id: str
    status: Status
    url: str | None = None
    names: tuple[str, ...] = ()  # artist names whose NULL spotify_artist_id was recovered as this id


@dataclass(frozen=True)
class MissFilter:
    """Which remembered misses (not found / no image) to skip."""

    retry_all: bool = False
    recheck_after_days: float | None = None

    def cutoff(self) -> datetime | None:
        """Misses checked after this instant are skipped; None: skip none."""
        if self.retry_all:
            return None
        if self.recheck_after_days is None:
            return NEVER
        try:
            return _utcnow() - timedelta(days=self.recheck_after_days)
        except OverflowError:  # more days than the calendar holds: recheck none
            return NEVER


@dataclass
class KindPlan:
    missing_rows: int = 0  # rows whose image column is NULL
    invalid: int = 0  # of those, rows with no usable id (never sent to Spotify)
    ids: int = 0  # distinct usable ids
    remembered: int = 0  # ids skipped because an earlier run found no such id or no image
    pending: int = 0  # ids to fetch now
    recovered: int = 0  # artists: names whose id comes from tracks.primary_artist_id
    groups: dict[str, int] = field(default_factory=dict)  # tracks: album-group statistics for estimates


@dataclass
class Plan:
    tracks: KindPlan
    artists: KindPlan


@dataclass(frozen=True)
class Schema:
    has_artists: bool
    has_plays: bool
    has_primary_artist_id: bool
    has_album_grouping: bool
    has_log: bool


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<prog>.+?) \(PID (?P<pid>\d+)\)")


class Store:
    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, schema: Schema) -> None:
        self._con = con
        self.path = path
        self.schema = schema
        self._pending = {"tracks": 0, "artists": 0}  # queue lengths, set by plan()
        self._retrying = False  # plan() queued remembered misses again: a hit must clear its log entry

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool, need_artists: bool = True) -> Store:
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"database not found: {path} (set BACKFILL_DB or pass --db)")
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                holder = _LOCK_HOLDER.search(text)
                who = f" (PID {holder['pid']}: {holder['prog']})" if holder else ""
                raise StoreError(f"database {path} is locked by another process{who}; close it and try again") from None
            raise StoreError(f"cannot open database {path}: {_first_line(text)}") from None
        except duckdb.Error as exc:
            raise StoreError(f"cannot open database {path}: {_first_line(str(exc))}") from None
        try:
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_AFTER}'")
            schema = _check_schema(con, need_artists)
        except StoreError:
            con.close()
            raise
        return cls(con, path, schema)

    def close(self) -> None:
        self._con.close()

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
                  WHERE album_image_url IS NULL AND regexp_full_match(spotify_track_uri, '{SQL_TRACK_URI_RE}')
                  GROUP BY 1) u {plays}"""

    def _artist_rows(self) -> str:
        """One row per artist name missing a photo, with the id to fetch (own, or recovered) or NULL."""
        s = self.schema
        if s.has_primary_artist_id:
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
            WHERE a.image_url IS NULL"""

    def _artist_candidates(self) -> str:
        return f"""
            SELECT id, list(name ORDER BY name) FILTER (WHERE recovered) AS names, sum(plays) AS plays
            FROM ({self._artist_rows()}) WHERE id IS NOT NULL GROUP BY id"""

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
        tracks, artists = KindPlan(), KindPlan()
        con = self._con
        self._pending = {"tracks": 0, "artists": 0}
        self._retrying = self.schema.has_log and misses.cutoff() != NEVER
        if "tracks" in kinds:
            tracks.missing_rows, tracks.invalid = _one(
                con,
                f"SELECT count(*), count(*) FILTER (WHERE NOT coalesce(regexp_full_match("
                f"spotify_track_uri, '{SQL_TRACK_URI_RE}'), FALSE)) FROM tracks WHERE album_image_url IS NULL",
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
            tracks.ids, tracks.pending, singles, grouped, groups = _one(
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
            artists.missing_rows, artists.invalid, artists.recovered = _one(
                con,
                f"SELECT count(*), count(*) FILTER (WHERE id IS NULL), count(*) FILTER (WHERE recovered) "
                f"FROM ({self._artist_rows()})",
            )
            skip, params = self._remembered("artist", misses)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {ARTIST_QUEUE} AS
                    SELECT id, names, {skip} AS skip FROM ({self._artist_candidates()}) c
                    ORDER BY skip, plays DESC, id""",
                params,
            )
            artists.ids, artists.pending = _one(
                con, f"SELECT count(*), count(*) FILTER (WHERE NOT skip) FROM {ARTIST_QUEUE}"
            )
            artists.remembered = artists.ids - artists.pending
            self._pending["artists"] = artists.pending
        return Plan(tracks, artists)

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
            yield self._con.execute(
                f"SELECT {columns} FROM {table} WHERE rowid >= ? AND rowid < ? ORDER BY rowid",
                [start, min(start + PAGE_ROWS, pending)],
            ).fetchall()

    # -- filling in ------------------------------------------------------------------------------

    def apply(self, outcomes: Sequence[Outcome]) -> None:
        """Write a batch of outcomes in one transaction, a handful of set-based statements in all."""
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
            elif o.status in _REMEMBERED:
                misses[(log_kind, o.id)] = o.status
            if o.status in ("updated", "no_image"):
                for name in o.names:  # only an id Spotify confirmed is written back
                    recovered[name] = o.id
        if not (track_urls or artist_urls or recovered or misses):
            return
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            if track_urls:
                con.execute(
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
                con.execute(
                    """UPDATE artists SET image_url = u.url
                       FROM (SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS url) u
                       WHERE artists.spotify_artist_id = u.id AND artists.image_url IS NULL""",
                    [list(artist_urls), list(artist_urls.values())],
                )
            if misses:
                self._ensure_log()
                con.execute(
                    f"""INSERT OR REPLACE INTO {LOG_TABLE}
                        SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), $4""",
                    [[k for k, _ in misses], [i for _, i in misses], list(misses.values()), _utcnow()],
                )
            if found:
                con.execute(
                    f"""DELETE FROM {LOG_TABLE} WHERE (kind, spotify_id) IN
                        (SELECT (unnest($1::VARCHAR[]), unnest($2::VARCHAR[])))""",
                    [[k for k, _ in found], [i for _, i in found]],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _ensure_log(self) -> None:
        if self.schema.has_log:
            return
        self._con.execute(
            f"""CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
                    kind VARCHAR NOT NULL,        -- 'track' or 'artist'
                    spotify_id VARCHAR NOT NULL,
                    outcome VARCHAR NOT NULL,     -- 'not_found' or 'no_image'
                    checked_at TIMESTAMP NOT NULL, -- UTC
                    PRIMARY KEY (kind, spotify_id))"""
        )
        self.schema = Schema(**{**self.schema.__dict__, "has_log": True})

    # -- reporting ---------------------------------------------------------------------------------

    def image_counts(self) -> dict[str, tuple[int, int]]:
        """Per table: (rows, rows with an image)."""
        counts = {"tracks": _one(self._con, "SELECT count(*), count(album_image_url) FROM tracks")}
        if self.schema.has_artists:
            counts["artists"] = _one(self._con, "SELECT count(*), count(image_url) FROM artists")
        return counts

    def remembered_counts(self) -> dict[tuple[str, str], int]:
        if not self.schema.has_log:
            return {}
        rows = self._con.execute(f"SELECT kind, outcome, count(*) FROM {LOG_TABLE} GROUP BY ALL").fetchall()
        return {(kind, outcome): n for kind, outcome, n in rows}

    def samples(self) -> dict[str, tuple[str, str] | None]:
        track = self._con.execute(
            "SELECT track_name, album_image_url FROM tracks WHERE album_image_url IS NOT NULL "
            "ORDER BY spotify_track_uri LIMIT 1"
        ).fetchone()
        artist = None
        if self.schema.has_artists:
            artist = self._con.execute(
                "SELECT artist_name, image_url FROM artists WHERE image_url IS NOT NULL ORDER BY artist_name LIMIT 1"
            ).fetchone()
        return {"track": track, "artist": artist}

    # -- the Top lists of `verify --html` (read-only) -----------------------------------------------

    def ranking(self) -> Ranking:
        """How the dashboard ranks its Top lists on this file: listening time, else play count, else none."""
        if not self.schema.has_plays:
            return "name"
        has_ms = _one(
            self._con,
            "SELECT count(*) > 0 FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND lower(table_name) = 'plays' AND lower(column_name) = 'ms_played'",
        )
        return "ms_played" if has_ms else "plays"

    def top_tracks(self, limit: int) -> list[TopItem]:
        """The dashboard's Top Tracks: plays grouped by track and artist name, joined to `tracks` by URI."""
        ranking = self.ranking()
        if ranking == "name":
            rows = self._con.execute(
                "SELECT track_name, primary_artist_name, spotify_track_uri, spotify_track_uri, album_image_url, "
                "NULL, NULL FROM tracks ORDER BY track_name, primary_artist_name, spotify_track_uri LIMIT ?",
                [limit],
            ).fetchall()
        else:
            ms = "sum(p.ms_played)" if ranking == "ms_played" else "NULL::BIGINT"
            rows = self._con.execute(
                f"""SELECT p.track_name, p.artist_name, any_value(p.spotify_track_uri), t.spotify_track_uri,
                           t.album_image_url, count(*) AS n, {ms} AS ms
                    FROM plays p LEFT JOIN tracks t ON p.spotify_track_uri = t.spotify_track_uri
                    GROUP BY p.track_name, p.artist_name, t.spotify_track_uri, t.album_image_url
                    ORDER BY ms DESC NULLS LAST, n DESC, p.track_name NULLS LAST, p.artist_name NULLS LAST,
                             t.spotify_track_uri NULLS LAST
                    LIMIT ?""",
                [limit],
            ).fetchall()
        misses = self._misses("track", [uri[len(TRACK_URI_PREFIX) :] for *_, uri, _, _, _ in rows if uri])
        items = []
        for name, artist, played_uri, uri, url, n, total_ms in rows:
            if url is not None:
                why = None
            elif uri is None:  # no row in `tracks`: never a candidate
                why = "no_track_row" if _valid_uri(played_uri) else "invalid_uri"
            elif not _valid_uri(uri):
                why = "invalid_uri"
            else:
                why = misses.get(uri[len(TRACK_URI_PREFIX) :], "pending")
            items.append(TopItem(name, artist, url, n, total_ms, why))
        return items

    def top_artists(self, limit: int) -> list[TopItem]:
        """The dashboard's Top Artists: plays grouped by artist name, joined to `artists` by name."""
        if not self.schema.has_artists:
            return []
        ranking = self.ranking()
        # The id a run would fetch for each artist still without a photo (its own, or one recovered).
        pending = f"LEFT JOIN ({self._artist_rows()}) r ON r.name = a.artist_name"
        if ranking == "name":
            rows = self._con.execute(
                f"""SELECT a.artist_name, TRUE, a.image_url, r.id, NULL, NULL FROM artists a {pending}
                    ORDER BY a.artist_name LIMIT ?""",
                [limit],
            ).fetchall()
        else:
            ms = "sum(p.ms_played)" if ranking == "ms_played" else "NULL::BIGINT"
            rows = self._con.execute(
                f"""SELECT p.artist_name, a.artist_name IS NOT NULL, a.image_url, any_value(r.id),
                           count(*) AS n, {ms} AS ms
                    FROM plays p LEFT JOIN artists a ON p.artist_name = a.artist_name {pending}
                    GROUP BY p.artist_name, a.artist_name, a.spotify_artist_id, a.image_url
                    ORDER BY ms DESC NULLS LAST, n DESC, p.artist_name NULLS LAST LIMIT ?""",
                [limit],
            ).fetchall()
        misses = self._misses("artist", [id_ for *_, id_, _, _ in rows if id_])
        items = []
        for name, known, url, id_, n, total_ms in rows:
            if url is not None:
                why = None
            elif not known:
                why = "no_artist_row"
            elif id_ is None:
                why = "no_artist_id"
            else:
                why = misses.get(id_, "pending")
            items.append(TopItem(name, None, url, n, total_ms, why))
        return items

    def _misses(self, kind: LogKind, ids: list[str]) -> dict[str, str]:
        """Remembered misses among `ids`: id → 'not_found' or 'no_image'."""
        if not self.schema.has_log or not ids:
            return {}
        rows = self._con.execute(
            f"SELECT spotify_id, outcome FROM {LOG_TABLE} WHERE kind = ? AND list_contains(?, spotify_id)",
            [kind, ids],
        ).fetchall()
        return dict(rows)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    assert row is not None
    return row if len(row) > 1 else row[0]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


_REQUIRED = {
    "tracks": ("spotify_track_uri", "album_image_url"),
    "artists": ("artist_name", "spotify_artist_id", "image_url"),
}


def _check_schema(con: duckdb.DuckDBPyConnection, need_artists: bool) -> Schema:
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table.lower(), set()).add(column.lower())
    for table in ("tracks", "artists") if need_artists else ("tracks",):
        if table not in columns:
            raise StoreError(f"table '{table}' not found in the database: is this a spotify-wrapped history?")
        missing = [c for c in _REQUIRED[table] if c not in columns[table]]
        if missing:
            raise StoreError(f"table '{table}' has no column {', '.join(repr(c) for c in missing)}")
    tracks = columns["tracks"]
    return Schema(
        has_artists="artists" in columns and all(c in columns["artists"] for c in _REQUIRED["artists"]),
        has_plays="plays" in columns and {"spotify_track_uri", "artist_name"} <= columns["plays"],
        has_primary_artist_id={"primary_artist_id", "primary_artist_name"} <= tracks,
        has_album_grouping={"album_name", "primary_artist_name"} <= tracks,
        has_log=LOG_TABLE in columns,
    )


Ranking = Literal["ms_played", "plays", "name"]


@dataclass(frozen=True)
class TopItem:
    """One row of a Top list, and why it has no image when it has none."""

    name: str | None
    artist: str | None  # tracks: the artist's name
    image_url: str | None
    plays: int | None  # None without a plays table
    ms_played: int | None  # None without plays.ms_played
    # None (it has one), 'invalid_uri', 'no_track_row', 'no_artist_row', 'no_artist_id', 'not_found',
    # 'no_image' (both remembered from an earlier run) or 'pending' (a run would fetch it)
    missing: str | None


def _valid_uri(uri: str | None) -> bool:
    return uri is not None and re.fullmatch(SQL_TRACK_URI_RE, uri) is not None
