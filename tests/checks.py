"""Independent checks of a database against the world it was made from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standin.oembed import THUMBNAIL_HOST
from standin.sample import World
from tests.conftest import table

TRACK_PREFIX = "spotify:track:"


def valid_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 22 and value.isascii() and value.isalnum()


def track_id(uri: object) -> str | None:
    if isinstance(uri, str) and uri.startswith(TRACK_PREFIX) and valid_id(uri[len(TRACK_PREFIX) :]):
        return uri[len(TRACK_PREFIX) :]
    return None


def other_columns(path: Path) -> tuple[list[Any], list[Any], list[Any]]:
    """Everything but the image columns (and artist ids, checked separately), in a stable order."""
    tracks = table(path, "SELECT * EXCLUDE (album_image_url) FROM tracks ORDER BY ALL")
    artists = table(path, "SELECT * EXCLUDE (image_url, spotify_artist_id) FROM artists ORDER BY ALL")
    plays = table(path, "SELECT count(*), sum(ms_played), min(played_at), max(played_at) FROM plays")
    return tracks, artists, plays


def same_image(url: str | None, expected: str | None) -> bool:
    """The expected image: the same URL, or (from oEmbed) the same image id on oEmbed's CDN host."""
    if url == expected:
        return True
    return (
        url is not None
        and expected is not None
        and url.startswith(THUMBNAIL_HOST)
        and url.rsplit("/", 1)[-1] == expected.rsplit("/", 1)[-1]
    )


def check_images(path: Path, world: World, *, complete: bool) -> dict[str, int]:
    """Every image is right: prefilled values unchanged, fetched values the expected ones.

    complete=False (a stopped run) allows NULL where a value was expected. Returns counts of filled rows.
    """
    filled = {"tracks": 0, "artists": 0}
    for uri, url in table(path, "SELECT spotify_track_uri, album_image_url FROM tracks"):
        if uri in world.prefilled_tracks:
            assert url == world.prefilled_tracks[uri], f"prefilled {uri} changed"
            continue
        tid = track_id(uri)
        expected = world.expected_track_url.get(tid) if tid else None
        if url is None:
            assert not complete or expected is None, f"{uri} left empty, expected {expected}"
        else:
            assert same_image(url, expected), f"{uri}: got {url}, expected {expected}"
            filled["tracks"] += 1
    for name, artist_id, url in table(path, "SELECT artist_name, spotify_artist_id, image_url FROM artists"):
        if name in world.prefilled_artists:
            assert url == world.prefilled_artists[name], f"prefilled artist {name} changed"
            continue
        expected = world.expected_artist_url.get(artist_id) if valid_id(artist_id) else None
        if url is None:
            assert not complete or expected is None, f"artist {name} left empty, expected {expected}"
        else:
            assert same_image(url, expected), f"artist {name}: got {url}, expected {expected}"
            filled["artists"] += 1
    return filled
