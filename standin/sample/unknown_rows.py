"""History rows for ids Spotify no longer knows: artists and tracks enriched once, gone since."""

from __future__ import annotations

import random

from standin.catalog import Catalog
from standin.sample.catalog_builder import random_release_date
from standin.sample.names import fresh_name, shuffled_track_names
from standin.sample.randomness import Draw
from standin.sample.world import ENRICHED_FROM, ENRICHED_SPAN, TRACK_PREFIX, Columns, release_columns


def new_unknown_artists(catalog: Catalog, draw: Draw, n: int) -> list[tuple[str, str]]:
    """(id, name) of artists gone from Spotify: well-formed ids the catalog does not know."""
    taken = {a.name for a in catalog.artists.values()}
    out: list[tuple[str, str]] = []
    while len(out) < n:
        artist_id = draw.id()
        if artist_id not in catalog.artists:
            out.append((artist_id, fresh_name(draw.rng, taken)))
    return out


def add_unknown_rows(
    catalog: Catalog,
    draw: Draw,
    n: int,
    n_known: int,
    unknown_artists: list[tuple[str, str]],
    out: Columns,
) -> set[str]:
    """Tracks enriched once but gone from Spotify since: some inside a known album group, some on their own."""
    rng = draw.rng
    ids: set[str] = set()
    performers = [a for a in catalog.artists.values() if a.name != "Various Artists"]
    names = shuffled_track_names(random.Random(rng.getrandbits(64)))
    while len(ids) < n:
        track_id = draw.id()
        if track_id in catalog.tracks or track_id in ids:
            continue
        ids.add(track_id)
        r = rng.random()
        if n_known and r < 0.35:
            # A removed track of an album that is still there: same group, different answer (none).
            j = int(rng.random() * n_known)
            artist_name, artist_id = out["primary_artist_name"][j], out["primary_artist_id"][j]
            album_name, date = out["album_name"][j], out["release_date"][j]
        else:
            if unknown_artists and r < 0.75:
                artist_id, artist_name = unknown_artists[int(rng.random() * len(unknown_artists))]
            else:
                artist = performers[int(rng.random() * len(performers))]
                artist_id, artist_name = artist.id, artist.name
            album_name = names[int(rng.random() * len(names))]
            date = random_release_date(rng, rng.randint(1990, 2024))
        release_date, year, decade = release_columns(date)
        row = {
            "spotify_track_uri": TRACK_PREFIX + track_id,
            "track_name": names[int(rng.random() * len(names))],
            "primary_artist_name": artist_name,
            "album_name": album_name,
            "album_image_url": None,
            "release_date": release_date,
            "release_year": year,
            "release_decade": decade,
            "popularity": 0,
            "duration_ms": max(45_000, int(rng.gauss(215_000, 55_000))),
            "explicit": rng.random() < 0.15,
            "enriched_at": ENRICHED_FROM + int(rng.random() * ENRICHED_SPAN),
            "primary_artist_id": artist_id,
        }
        for column, value in row.items():
            out[column].append(value)
    return ids
