"""What counts as a Spotify id, and how track ids are read from URIs."""

from __future__ import annotations

import re

ID_PATTERN = "[0-9A-Za-z]{22}"
TRACK_URI_PREFIX = "spotify:track:"
# The same rules as SQL regular expressions, so DuckDB can classify rows without Python.
SQL_TRACK_URI_RE = f"^{TRACK_URI_PREFIX}{ID_PATTERN}$"
SQL_ID_RE = f"^{ID_PATTERN}$"

_ID = re.compile(ID_PATTERN)


def is_spotify_id(value: object) -> bool:
    """True for exactly 22 base-62 characters: anything else would fail a whole batch call."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def track_id_from_uri(uri: object) -> str | None:
    """The id of a `spotify:track:<id>` URI; None for local files, episodes, empty or malformed URIs."""
    if not isinstance(uri, str) or not uri.startswith(TRACK_URI_PREFIX):
        return None
    candidate = uri[len(TRACK_URI_PREFIX) :]
    return candidate if is_spotify_id(candidate) else None
