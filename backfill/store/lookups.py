"""What the history says of a row a fallback provider is asked about: a `Lookup`, from the row's own columns or,
for a local file, from its URI.

Spotify names a local file `spotify:local:<artist>:<album>:<title>:<seconds>`, each part URL-encoded with `+`
for a space (so a `:` inside a name is `%3A`); a part may be empty (many local files have no album). The URI's
parts win, since they are what the player read from the file's tags; an empty one is taken from the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

from backfill.records import Lookup

LOCAL_PREFIX = "spotify:local:"


@dataclass(frozen=True, slots=True)
class LocalFile:
    artist: str
    album: str
    title: str
    seconds: int | None


def parse_local_uri(uri: str) -> LocalFile | None:
    """The tags in a local file's URI; None when `uri` is not one (or has not its four parts)."""
    if not uri.startswith(LOCAL_PREFIX):
        return None
    parts = uri[len(LOCAL_PREFIX) :].split(":")
    if len(parts) != 4:
        return None
    artist, album, title, seconds = (unquote_plus(p).strip() for p in parts)
    return LocalFile(artist, album, title, int(seconds) if seconds.isdigit() else None)


def track_lookup(key: str, title: str | None, artist: str | None, album: str | None) -> Lookup:
    """A track row's lookup: a local file's tags, else (or where they are empty) the row's own columns."""
    own = (title or "").strip(), (artist or "").strip(), (album or "").strip()
    local = parse_local_uri(key)
    if local is None:
        return Lookup(key, own[1], own[0], own[2])
    return Lookup(key, local.artist or own[1], local.title or own[0], local.album or own[2])


def artist_lookup(name: str, tracks: list[str] | None, albums: list[str] | None) -> Lookup:
    """An artist row's lookup: its name, and the user's track titles and album names by that name."""
    return Lookup(name, name, tracks=tuple(tracks or ()), albums=tuple(albums or ()))
