"""History rows whose URI is no track id: local files, episodes, empty and malformed ids."""

from __future__ import annotations

import itertools

from standin.catalog import Catalog
from standin.sample.names import ADJ, LOCAL_ARTISTS, NOUN, SHOWS
from standin.sample.randomness import Draw
from standin.sample.world import BASE62, TRACK_COLUMNS, TRACK_PREFIX, Columns

_ODD_KINDS = ("local", "episode", "empty", "short", "long", "bad_char")


def add_odd_rows(catalog: Catalog, draw: Draw, n: int, known: list[str], out: Columns) -> list[str]:
    """Rows whose URI is no track id: local files, episodes, '', and malformed ids (some one slip from real)."""
    rng = draw.rng
    bases = known or list(catalog.tracks)
    uris: list[str] = []
    seen: set[str] = set()
    for number in itertools.count():
        if len(uris) >= n:
            break
        kind = _ODD_KINDS[number % len(_ODD_KINDS)]
        base = catalog.tracks[bases[int(rng.random() * len(bases))]]
        title, artist = base.name, catalog.artists[base.artist_ids[0]].name
        album: str | None = catalog.albums[base.album_id].name
        if kind == "local":
            artist, album = rng.choice(LOCAL_ARTISTS), rng.choice((None, "Mixtape", "Live Bootleg"))
            title = f"{rng.choice(ADJ)} {rng.choice(NOUN)} (demo)"
            parts = (artist, album or "", title, str(rng.randint(90, 400)))
            uri = "spotify:local:" + ":".join(p.replace(" ", "+") for p in parts)
        elif kind == "episode":
            artist = album = rng.choice(SHOWS)
            title = f"Episode {rng.randint(1, 300)}: {rng.choice(ADJ)} {rng.choice(NOUN)}"
            uri = "spotify:episode:" + draw.id()  # its tail is a well-formed id: it must still not be sent
        elif kind == "empty":
            if "" in seen:
                continue
            uri, title, artist, album = "", "Unknown Track", "Unknown Artist", None
        elif kind == "short":
            uri = TRACK_PREFIX + base.id[:21]
        elif kind == "long":
            uri = TRACK_PREFIX + base.id + rng.choice(BASE62)
        else:
            at = rng.randrange(22)
            uri = TRACK_PREFIX + base.id[:at] + rng.choice("-_!.") + base.id[at + 1 :]
        if uri in seen:
            continue
        seen.add(uri)
        uris.append(uri)
        row = dict.fromkeys(TRACK_COLUMNS)
        row.update(spotify_track_uri=uri, track_name=title, primary_artist_name=artist, album_name=album)
        for column, value in row.items():
            out[column].append(value)
    return uris
