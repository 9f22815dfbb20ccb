"""The Top lists of `verify --html`, ranked as the dashboard ranks them (read-only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from backfill.kinds import SQL_TRACK_URI_RE, TRACK_URI_PREFIX, LogKind
from backfill.store.schema import LOG_TABLE, one
from backfill.store.store import Store

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


def ranking(store: Store) -> Ranking:
    """How the dashboard ranks its Top lists on this file: listening time, else play count, else none."""
    if not store.schema.has_plays:
        return "name"
    has_ms = one(
        store.reader(),
        "SELECT count(*) > 0 FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND lower(table_name) = 'plays' AND lower(column_name) = 'ms_played'",
    )
    return "ms_played" if has_ms else "plays"


# The dashboard groups plays by (track_name, artist_name, tracks.spotify_track_uri, tracks.album_image_url) after
# joining every play to `tracks`: at a million tracks that hash join and the four-string aggregate beside it
# outgrow the memory cap. The same groups, in steps that each fit: plays aggregated per (uri, names) first; a
# played uri found in `tracks` is then its own group already (the image depends on the uri), and only the rows
# whose uri `tracks` lacks are merged by name. The image is looked up for the rows kept.
_TOP_TRACKS = """
WITH played AS MATERIALIZED (
    SELECT pa.*, t.spotify_track_uri IS NOT NULL AS known
    FROM (SELECT spotify_track_uri AS uri, track_name, artist_name, count(*) AS n, {ms} AS ms
          FROM plays GROUP BY ALL) pa
    LEFT JOIN tracks t ON t.spotify_track_uri = pa.uri
), top AS (
    SELECT * FROM (
        SELECT track_name, artist_name, uri AS played_uri, uri, n, ms FROM played WHERE known
        UNION ALL
        SELECT track_name, artist_name, any_value(uri), NULL, sum(n)::BIGINT, sum(ms)::BIGINT
        FROM played WHERE NOT known GROUP BY track_name, artist_name)
    ORDER BY ms DESC NULLS LAST, n DESC, track_name NULLS LAST, artist_name NULLS LAST, uri NULLS LAST
    LIMIT ?
)
SELECT top.track_name, top.artist_name, top.played_uri, top.uri, t.album_image_url, top.n, top.ms
FROM top LEFT JOIN tracks t ON t.spotify_track_uri = top.uri
ORDER BY top.ms DESC NULLS LAST, top.n DESC, top.track_name NULLS LAST, top.artist_name NULLS LAST,
         top.uri NULLS LAST"""


def top_tracks(store: Store, limit: int) -> list[TopItem]:
    """The dashboard's Top Tracks: plays grouped by track and artist name, joined to `tracks` by URI."""
    order = ranking(store)
    if order == "name":
        rows = _query(
            store,
            "SELECT track_name, primary_artist_name, spotify_track_uri, spotify_track_uri, album_image_url, "
            "NULL, NULL FROM tracks ORDER BY track_name, primary_artist_name, spotify_track_uri LIMIT ?",
            limit,
        )
    else:
        rows = _query(store, _TOP_TRACKS.format(ms="sum(ms_played)" if order == "ms_played" else "NULL::BIGINT"), limit)
    misses = _misses(store, "track", [uri[len(TRACK_URI_PREFIX) :] for *_, uri, _, _, _ in rows if uri])
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


def top_artists(store: Store, limit: int) -> list[TopItem]:
    """The dashboard's Top Artists: plays grouped by artist name, joined to `artists` by name."""
    if not store.schema.has_artists:
        return []
    order = ranking(store)
    # The id a run would fetch for each artist still without a photo (its own, or one recovered).
    pending = f"LEFT JOIN ({store.artist_rows()}) r ON r.name = a.artist_name"
    if order == "name":
        rows = _query(
            store,
            f"""SELECT a.artist_name, TRUE, a.image_url, r.id, NULL, NULL FROM artists a {pending}
                ORDER BY a.artist_name LIMIT ?""",
            limit,
        )
    else:
        ms = "sum(p.ms_played)" if order == "ms_played" else "NULL::BIGINT"
        rows = _query(
            store,
            f"""SELECT p.artist_name, a.artist_name IS NOT NULL, a.image_url, any_value(r.id),
                       count(*) AS n, {ms} AS ms
                FROM plays p LEFT JOIN artists a ON p.artist_name = a.artist_name {pending}
                GROUP BY p.artist_name, a.artist_name, a.spotify_artist_id, a.image_url
                ORDER BY ms DESC NULLS LAST, n DESC, p.artist_name NULLS LAST LIMIT ?""",
            limit,
        )
    misses = _misses(store, "artist", [id_ for *_, id_, _, _ in rows if id_])
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


def _misses(store: Store, kind: LogKind, ids: list[str]) -> dict[str, str]:
    """Remembered misses among `ids`: id → 'not_found' or 'no_image'."""
    if not store.schema.has_log or not ids:
        return {}
    rows = (
        store.reader()
        .execute(
            f"SELECT spotify_id, outcome FROM {LOG_TABLE} WHERE kind = ? AND list_contains(?, spotify_id)",
            [kind, ids],
        )
        .fetchall()
    )
    return dict(rows)


def _query(store: Store, sql: str, limit: int) -> list[tuple[Any, ...]]:
    return store.reader().execute(sql, [limit]).fetchall()
