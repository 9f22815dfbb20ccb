"""The listening history of a sample world: the `tracks` rows (known, unknown, odd, prefilled), the `artists`
rows, and the right answer for each."""

from __future__ import annotations

import random

from standin.catalog import Catalog
from standin.sample.artist_rows import fill_artists_table
from standin.sample.catalog_builder import CatalogBuilder
from standin.sample.odd_rows import add_odd_rows
from standin.sample.randomness import Draw, no_gc, other_url, share_count
from standin.sample.unknown_rows import add_unknown_rows, new_unknown_artists
from standin.sample.world import (
    ENRICHED_FROM,
    ENRICHED_SPAN,
    LONG_ALBUM_PAGE,
    TRACK_COLUMNS,
    TRACK_PREFIX,
    Columns,
    SampleSpec,
    World,
    preferred_image,
    release_columns,
)


def build_world(spec: SampleSpec) -> World:
    """The catalog plus a history of spec.tracks track rows and about spec.artists artist rows."""
    with no_gc():
        return _build_world(spec)


def _build_world(spec: SampleSpec) -> World:
    catalog, plan = CatalogBuilder(spec.seed, spec.tracks, spec.artists).build()
    rng = random.Random(f"backfill.emulator.sample:{spec.seed}:history")
    draw = Draw(rng)

    n_odd = share_count(spec.tracks, spec.odd, 6, when=100)
    n_unknown = share_count(spec.tracks - n_odd, spec.unknown, 3, when=100)
    n_known = max(0, spec.tracks - n_odd - n_unknown)
    known = plan.picks[:n_known]
    n_unknown = spec.tracks - n_odd - len(known)  # tiny worlds: whatever the picks do not cover

    tracks: Columns = {c: [] for c in TRACK_COLUMNS}
    _known_rows(catalog, known, rng, tracks)
    unknown_artists = new_unknown_artists(catalog, draw, share_count(spec.artists, spec.unknown, 1, when=20))
    unknown_ids = add_unknown_rows(catalog, draw, n_unknown, len(known), unknown_artists, tracks)
    odd_uris = add_odd_rows(catalog, draw, n_odd, known, tracks)

    world = World(
        spec=spec,
        catalog=catalog,
        expected_track_url={},
        expected_artist_url={},
        prefilled_tracks={},
        prefilled_artists={},
        tracks_table=tracks,
        artists_table={},
        unknown_track_ids=unknown_ids,
        unknown_artist_ids={a for a, _ in unknown_artists},
        odd_uris=odd_uris,
    )
    _expected_tracks(world, known)
    _prefill_tracks(world, rng, draw)
    fill_artists_table(world, plan, draw, unknown_artists)
    _structure(world, known)
    if spec.play_count:
        world.null_uri_plays = share_count(spec.play_count, 0.002, 1, when=50)
    if spec.old_schema:
        del tracks["primary_artist_id"]
    return world


def _known_rows(catalog: Catalog, known: list[str], rng: random.Random, out: Columns) -> None:
    """Rows for catalog tracks, column by column (comprehensions: a million rows in a couple of seconds)."""
    rows = [catalog.tracks[t] for t in known]
    albums = catalog.albums
    artists = catalog.artists
    release: dict[str, tuple[str, int, str]] = {}
    for t in rows:
        if t.album_id not in release:
            release[t.album_id] = release_columns(albums[t.album_id].release_date)
    rel = [release[t.album_id] for t in rows]
    out["spotify_track_uri"] += [TRACK_PREFIX + t.id for t in rows]
    out["track_name"] += [t.name for t in rows]
    out["primary_artist_name"] += [artists[t.artist_ids[0]].name for t in rows]
    out["album_name"] += [albums[t.album_id].name for t in rows]
    out["album_image_url"] += [None] * len(rows)
    out["release_date"] += [r[0] for r in rel]
    out["release_year"] += [r[1] for r in rel]
    out["release_decade"] += [r[2] for r in rel]
    out["popularity"] += [t.popularity for t in rows]
    out["duration_ms"] += [t.duration_ms for t in rows]
    out["explicit"] += [t.explicit for t in rows]
    rand = rng.random
    pool = [ENRICHED_FROM + int(rand() * ENRICHED_SPAN) for _ in range(8192)]  # shared ints: less memory
    out["enriched_at"] += [pool[int(rand() * 8192)] for _ in rows]
    out["primary_artist_id"] += [t.artist_ids[0] for t in rows]


def _album_urls(catalog: Catalog, album_ids: set[str]) -> dict[str, str | None]:
    return {a: preferred_image(catalog.albums[a].images) for a in album_ids}


def _expected_tracks(world: World, known: list[str]) -> None:
    tracks = world.catalog.tracks
    album_ids = [tracks[t].album_id for t in known]
    url = _album_urls(world.catalog, set(album_ids))
    world.expected_track_url = {t: url[a] for t, a in zip(known, album_ids, strict=True)}


def _prefill_tracks(world: World, rng: random.Random, draw: Draw) -> None:
    table = world.tracks_table
    n_valid = len(table["spotify_track_uri"]) - len(world.odd_uris)  # valid rows come first
    for i in sorted(rng.sample(range(n_valid), share_count(n_valid, world.spec.prefilled, 1, when=20))):
        uri = table["spotify_track_uri"][i]
        url = other_url(draw, world.expected_track_url.get(uri[len(TRACK_PREFIX) :]))
        table["album_image_url"][i] = url
        world.prefilled_tracks[uri] = url


def _structure(world: World, known: list[str]) -> None:
    """Album groups as a backfill sees them, and which of them mix editions or span pages."""
    catalog = world.catalog
    groups: dict[tuple[str, str], dict[str, None]] = {}
    past_first_page: set[str] = set()
    for track_id in known:
        track = catalog.tracks[track_id]
        album = catalog.albums[track.album_id]
        key = (album.name, catalog.artists[track.artist_ids[0]].name)
        groups.setdefault(key, {})[album.id] = None
        if track.track_number > LONG_ALBUM_PAGE:
            past_first_page.add(album.id)
    world.groups = {key: list(albums) for key, albums in groups.items()}
    world.editions = [key for key, albums in world.groups.items() if len(albums) > 1]
    world.long_albums = sorted(past_first_page)
