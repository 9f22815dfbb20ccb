"""The Web API's side of the wire in the emulator: error bodies, which endpoint a path names, and the answer
to a request that passed the gatekeeping."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from standin.catalog import Catalog
from standin.render import Renderer, dumps

# Deliberately not shared with backfill.ids: the emulator is the other side of the wire, and a bug in
# the client's notion of an id should not be mirrored here.
ID_RE: Final = re.compile(r"[0-9A-Za-z]{22}")
JSON_TYPE: Final = "application/json"
MAX_IDS: Final = {"tracks": 50, "artists": 50, "albums": 20}
SERVER_ERRORS: Final = (500, 502, 503, 504)
MESSAGES: Final = {
    400: "Bad request",
    401: "Missing/invalid/expired access token",  # the 2026 wording
    403: "Forbidden",
    404: "non existing id",
    405: "Method not allowed",
    429: "API rate limit exceeded",
    500: "Server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
WWW_AUTH: Final = {"WWW-Authenticate": 'Bearer realm="spotify", error="invalid_token"'}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    in_penalty: bool = False
    content_type: str = JSON_TYPE


def error(status: int, message: str | None = None, **extra: Any) -> Answer:
    body = {"error": {"status": status, "message": message or MESSAGES.get(status, "Error"), **extra}}
    headers = dict(WWW_AUTH) if status == 401 else {}
    return Answer(status, dumps(body), headers)


def oauth_error(error: str, description: str) -> Answer:
    return Answer(400, dumps({"error": error, "error_description": description}))


def classify(path: str) -> tuple[str, str | None]:
    """The endpoint a path names, and the id in the path if any."""
    # Spotify answers "/v1/tracks/?ids=..." like "/v1/tracks?ids=..." (spotipy sends the former).
    path = path.rstrip("/") or "/"
    parts = path.split("/")  # "/v1/albums/x/tracks" -> ["", "v1", "albums", "x", "tracks"]
    if len(parts) < 3 or parts[0] or parts[1] != "v1":
        return "other", None
    kind = parts[2]
    if kind not in MAX_IDS:
        return "other", None
    if len(parts) == 3:
        return kind, None
    if len(parts) == 4:
        return kind[:-1], parts[3]
    if len(parts) == 5 and kind == "albums" and parts[4] == "tracks":
        return "album_tracks", parts[3]
    return "other", None


def route(
    request: web.Request,
    endpoint: str,
    path_id: str | None,
    ids: tuple[str, ...],
    render: Renderer,
    catalog: Catalog,
    dev_mode: bool,
) -> Answer:
    """The Web API answer to one request that passed the gatekeeping (rate limit, quota, token)."""
    if endpoint == "other":
        return error(404, "Service not found")
    if path_id is None:  # a batch call
        if dev_mode:
            return error(403)
        if not ids:
            return error(400, "invalid id")
        if len(ids) > MAX_IDS[endpoint]:
            return error(400, "Too many ids requested")
        if not all(ID_RE.fullmatch(i) for i in ids):
            return error(400, "invalid id")  # one bad id fails the whole batch
        items: list[bytes]
        if endpoint == "tracks":
            items = [render.track(t) if (t := catalog.tracks.get(i)) else b"null" for i in ids]
        elif endpoint == "artists":
            items = [render.artist(artist) if (artist := catalog.artists.get(i)) else b"null" for i in ids]
        else:
            items = [render.album(album) if (album := catalog.albums.get(i)) else b"null" for i in ids]
        return Answer(200, b'{"' + endpoint.encode() + b'":[' + b",".join(items) + b"]}")

    if not ID_RE.fullmatch(path_id):
        return error(400, "invalid id")
    if endpoint == "track":
        track = catalog.tracks.get(path_id)
        return Answer(200, render.track(track)) if track else error(404)
    if endpoint == "artist":
        artist = catalog.artists.get(path_id)
        return Answer(200, render.artist(artist)) if artist else error(404)
    album = catalog.albums.get(path_id)
    if endpoint == "album":
        return Answer(200, render.album(album)) if album else error(404)
    limit = int_param(request, "limit", 20)
    offset = int_param(request, "offset", 0)
    if limit is None or not 1 <= limit <= 50:
        return error(400, "Invalid limit")
    if offset is None or offset < 0:
        return error(400, "Invalid offset")
    return Answer(200, render.album_tracks(album, offset, limit)) if album else error(404)


def quota_answer(retry_after: int) -> Answer:
    answer = error(429, "Too many requests", reason="QUOTA_EXCEEDED")
    answer.headers["Retry-After"] = str(retry_after)
    return answer


def int_param(request: web.Request, name: str, default: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return None
