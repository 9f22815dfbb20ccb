"""What is missing: the SQL that finds the ids to fetch, the queues the plan builds from it, and their pages.

The store's selection (backfill.store.selection) says which rows are candidates: those without an image (a run)
or with one (a refresh), and per kind an SQL condition on candidates `c` that is true for ids to leave out
(remembered misses for a run, recent answers for a refresh).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from backfill.kinds import SQL_ID_RE, SQL_TRACK_URI_RE, TRACK_URI_PREFIX
from backfill.records import KindPlan, Plan
from backfill.store.schema import Schema, one

if TYPE_CHECKING:
    from backfill.store.selection import Selection

TRACK_QUEUE = "backfill_track_queue"  # TEMP tables of the in-memory connection, never in the file
ARTIST_QUEUE = "backfill_artist_queue"
PAGE_ROWS = 2048


def _image(has_image: bool) -> str:
    return "IS NOT NULL" if has_image else "IS NULL"


def track_candidates(schema: Schema, has_image: bool) -> str:
    """One row per distinct valid track id still missing album art: (id, album group key, plays).

    Distinct uris first, then their plays: joining the plays before the GROUP BY would carry every
    row through the join, and needs several times the memory at a million tracks.
    """
    s = schema
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
              WHERE album_image_url {_image(has_image)} AND regexp_full_match(spotify_track_uri, '{SQL_TRACK_URI_RE}')
              GROUP BY 1) u {plays}"""


def artist_rows(schema: Schema, has_image: bool, recovers_ids: bool) -> str:
    """One row per artist name missing a photo (with one, for a refresh), with the id to fetch (own, or
    recovered) or NULL."""
    s = schema
    if s.has_primary_artist_id and recovers_ids:  # a refresh writes no id: it recovers none
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
        WHERE a.image_url {_image(has_image)}"""


def artist_candidates(schema: Schema, has_image: bool, recovers_ids: bool) -> str:
    return f"""
        SELECT id, list(name ORDER BY name) FILTER (WHERE recovered) AS names, sum(plays) AS plays
        FROM ({artist_rows(schema, has_image, recovers_ids)}) WHERE id IS NOT NULL GROUP BY id"""


def queue_plan(con: duckdb.DuckDBPyConnection, schema: Schema, selection: Selection, kinds: Sequence[str]) -> Plan:
    """Count what is missing, and queue the ids to fetch (most-played first) for `pages`.

    The queues are TEMP tables of this connection, built by one sort each: the fetch streams then read
    them in short pages, so no query stays open while the writer commits (a long read would hold back
    DuckDB's checkpoints, and with them the memory of every row version written meanwhile).
    """
    tracks, artists = KindPlan(), KindPlan()
    has_image, recovers = selection.has_image, selection.recovers_ids
    image = _image(has_image)
    if "tracks" in kinds:
        tracks.missing_rows, tracks.invalid = one(
            con,
            f"SELECT count(*), count(*) FILTER (WHERE NOT coalesce(regexp_full_match("
            f"spotify_track_uri, '{SQL_TRACK_URI_RE}'), FALSE)) FROM tracks WHERE album_image_url {image}",
        )
        condition, params = selection.skip(schema, "track")
        # Album groups stay contiguous, ordered by their most-played pending track.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {TRACK_QUEUE} AS
                WITH c AS (SELECT *, {condition} AS skip FROM ({track_candidates(schema, has_image)}) c),
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
    if "artists" in kinds and schema.has_artists:
        artists.missing_rows, artists.invalid, artists.recovered = one(
            con,
            f"SELECT count(*), count(*) FILTER (WHERE id IS NULL), count(*) FILTER (WHERE recovered) "
            f"FROM ({artist_rows(schema, has_image, recovers)})",
        )
        condition, params = selection.skip(schema, "artist")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {ARTIST_QUEUE} AS
                SELECT id, names, {condition} AS skip FROM ({artist_candidates(schema, has_image, recovers)}) c
                ORDER BY skip, plays DESC, id""",
            params,
        )
        artists.ids, artists.pending = one(
            con, f"SELECT count(*), count(*) FILTER (WHERE NOT skip) FROM {ARTIST_QUEUE}"
        )
        artists.remembered = artists.ids - artists.pending
    return Plan(tracks, artists, schema.log_repair)


def pages(con: duckdb.DuckDBPyConnection, table: str, columns: str, pending: int) -> Generator[list[Any], None, None]:
    """Pages of PAGE_ROWS rows of `columns` from one of the queues: its first `pending` rows, in order."""
    # Pending ids come first in the queue, and a TEMP table's rowids are its insertion order.
    for start in range(0, pending, PAGE_ROWS):
        yield con.execute(
            f"SELECT {columns} FROM {table} WHERE rowid >= ? AND rowid < ? ORDER BY rowid",
            [start, min(start + PAGE_ROWS, pending)],
        ).fetchall()
