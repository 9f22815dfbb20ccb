"""The two kinds of rows backfill fills, described once; what counts as a Spotify id, how track ids are read
from URIs, and what counts as an image URL worth storing. Shared by every layer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ID_PATTERN = "[0-9A-Za-z]{22}"
TRACK_URI_PREFIX = "spotify:track:"
# The same rules as SQL regular expressions, so DuckDB can classify rows without Python.
SQL_TRACK_URI_RE = f"^{TRACK_URI_PREFIX}{ID_PATTERN}$"
SQL_ID_RE = f"^{ID_PATTERN}$"

_ID = re.compile(ID_PATTERN)
# An absolute http(s) URL with a host and no whitespace: the only values backfill writes into an image column,
# whoever supplies them (a source's answer, or `backfill set`). backfill.sources.images has the same rule inline.
HTTP_URL_PATTERN = r"https?://[^\s/?#@]+(?:[/?#]\S*)?"
MAX_URL_LENGTH = 2048
_HTTP_URL = re.compile(HTTP_URL_PATTERN)


def is_spotify_id(value: object) -> bool:
    """True for exactly 22 base-62 characters: anything else would fail a whole batch call."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def track_id_from_uri(uri: object) -> str | None:
    """The id of a `spotify:track:<id>` URI; None for local files, episodes, empty or malformed URIs."""
    if not isinstance(uri, str) or not uri.startswith(TRACK_URI_PREFIX):
        return None
    candidate = uri[len(TRACK_URI_PREFIX) :]
    return candidate if is_spotify_id(candidate) else None


def is_http_url(value: object) -> bool:
    """An absolute http(s) URL with a host, at most MAX_URL_LENGTH characters: anything else would be stored as
    garbage the dashboard can't show."""
    return isinstance(value, str) and len(value) <= MAX_URL_LENGTH and _HTTP_URL.fullmatch(value) is not None


KindName = Literal["tracks", "artists"]
LogKind = Literal["track", "artist"]


@dataclass(frozen=True)
class Kind:
    """One kind of row: where it lives in the user's file, and how it is named."""

    name: KindName  # the plural: JSON keys, options (`--only tracks`), per-kind counts
    log: LogKind  # the singular: the `kind` column of the tool's own tables, "track 3nF…" in messages
    table: str
    key: str  # the column that names a row
    image: str  # the image column backfill fills
    match: str  # the column a fetched id is matched on
    label: str  # what its images are called in summaries


TRACKS = Kind("tracks", "track", "tracks", "spotify_track_uri", "album_image_url", "spotify_track_uri", "album art")
ARTISTS = Kind("artists", "artist", "artists", "artist_name", "image_url", "spotify_artist_id", "artist photos")
KINDS: dict[str, Kind] = {k.name: k for k in (TRACKS, ARTISTS)}
