"""The Top lists of `verify --html`, ranked as the dashboard ranks them, with who wrote each image; and the
fallback providers' unconfirmed candidates, for a person to pick from (read-only)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from backfill.kinds import SQL_TRACK_URI_RE, TRACK_URI_PREFIX, LogKind
from backfill.store.provenance import sources_of
from backfill.store.schema import FALLBACK_LOG_TABLE, LOG_TABLE, one
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
    key: str | None = None  # the row it shows: a track URI, an artist name (None: no row in its table)
    source: str | None = None  # who wrote its image: spotify, deezer, musicbrainz, manual; None: not backfill


@dataclass(frozen=True)
class Unconfirmed:
    """A row a fallback provider found candidates for, none of them confirmed by the history (still no image)."""

    provider: str
    kind: LogKind
    key: str  # what `backfill set` takes: the track URI, or the artist name
    name: str  # how a person knows it: "title by artist", or the artist name
    candidates: tuple[str, ...]


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
        items.append(TopItem(name, artist, url, n, total_ms, why, uri))
    return _with_sources(store, "track", items)


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
        items.append(TopItem(name, None, url, n, total_ms, why, name if known else None))
    return _with_sources(store, "artist", items)


def _with_sources(store: Store, kind: LogKind, items: list[TopItem]) -> list[TopItem]:
    """The items, each with who wrote its image (backfill.store.provenance)."""
    pairs = [(i.key, i.image_url) for i in items if i.key is not None and i.image_url is not None]
    found = sources_of(store.reader(), store.schema, kind, pairs)
    return [replace(i, source=found.get((i.key or "", i.image_url or ""))) for i in items]


def unconfirmed(store: Store, limit: int) -> tuple[int, list[Unconfirmed]]:
    """How many rows still without an image have unconfirmed candidates, and the first `limit` of them (the
    most recently checked first)."""
    con, schema = store.reader(), store.schema
    if not schema.has_fallback_log:
        return 0, []
    named = "t.track_name || ' by ' || t.primary_artist_name" if schema.has_track_names else "t.spotify_track_uri"
    parts = [
        f"""SELECT f.provider, f.kind, f.row_key, any_value({named}), f.candidates, f.checked_at
            FROM {FALLBACK_LOG_TABLE} f JOIN tracks t ON t.spotify_track_uri = f.row_key
            WHERE f.kind = 'track' AND f.outcome = 'unconfirmed' AND t.album_image_url IS NULL GROUP BY ALL"""
    ]
    if schema.has_artists:
        parts.append(
            f"""SELECT f.provider, f.kind, f.row_key, f.row_key, f.candidates, f.checked_at
                FROM {FALLBACK_LOG_TABLE} f JOIN artists a ON a.artist_name = f.row_key
                WHERE f.kind = 'artist' AND f.outcome = 'unconfirmed' AND a.image_url IS NULL GROUP BY ALL"""
        )
    rows = con.execute(
        f"SELECT *, count(*) OVER () FROM ({' UNION ALL '.join(parts)}) ORDER BY 6 DESC, 2, 3, 1 LIMIT ?", [limit]
    ).fetchall()
    total = rows[0][-1] if rows else 0
    return total, [
        Unconfirmed(p, k, key, name or key, tuple(c for c in (cands or "").split(" | ") if c))
        for p, k, key, name, cands, _, _ in rows
    ]


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
