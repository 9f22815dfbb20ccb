"""A Deezer API stand-in (no key) over a provider world: the shapes, limits and habits of api.deezer.com.

- `/search/artist`, `/search/album`, `/search/track`, `/search` (`q` plain or `artist:"A" track:"T" album:"B"`),
  `/artist/{id}`, `/artist/{id}/top?limit=`, `/artist/{id}/albums`, `/album/{id}`, `/track/{id}` and
  `/track/isrc:{isrc}`; lists are `{"data": [...], "total": N}` with `next` only when there is more (`index`,
  `limit`). See `deezer_search` for the ranking and `deezer_shapes` for the objects.
- A rolling window of 50 requests per 5 s per client address; over it, **HTTP 200** with the quota error
  (code 4) and no Retry-After. Answers refused that way do not count in the window.
- An unknown id: HTTP 200 with `{"error": {"type": "DataException", "message": "no data", "code": 800}}`.
- Faults (`DeezerConfig.fault`): "5xx" (502 with an HTML page), "html" (200 with HTML), "malformed" (200 with
  cut-off JSON), "busy" (200 with error code 700), "slow" (answers after `slow_seconds`), "hang" (never
  answers), "drop" (closes the connection); the first `fault_count` requests get it, or all.

Everything received is recorded (`received`). Time comes from `clock`, so tests can move it instead of waiting.
Run alone with `python -m standin.deezer --port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from standin.deezer_search import search_albums, search_artists, search_tracks
from standin.deezer_shapes import Json, Shapes
from standin.hosting import Hosted
from standin.provider_images import picture_response
from standin.provider_world import DEEZER_IMAGE_HOST, ProviderWorld, ProviderWorldSpec, build_provider_world

QUOTA_ERROR: Json = {"error": {"type": "Exception", "message": "Quota limit exceeded", "code": 4}}
NO_DATA: Json = {"error": {"type": "DataException", "message": "no data", "code": 800}}
BUSY: Json = {"error": {"type": "Exception", "message": "Service busy", "code": 700}}
FAULTS = ("5xx", "html", "malformed", "busy", "slow", "hang", "drop")
_MAX_LIMIT = 100
# Broken answers: (status, body, content type).
_BROKEN = {
    "5xx": (502, b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "text/html"),
    "html": (200, b"<!DOCTYPE html><html><body>Deezer - maintenance</body></html>", "text/html"),
    "malformed": (200, b'{"data": [{"id": 27, "name": "Daft Pu', "application/json"),
}


@dataclass
class DeezerConfig:
    """Read at request time, so a test may change it while the server runs."""

    rate_limit: int = 50  # requests per rolling window per client address
    rate_window: float = 5.0  # seconds
    fault: str | None = None  # one of FAULTS
    fault_count: int | None = None  # how many requests get it (None: all)
    slow_seconds: float = 5.0
    page_size: int = 25  # `limit` when a request gives none
    local_images: bool = False  # image URLs on this server (`/images/...`), for pages shown offline


@dataclass(frozen=True)
class DeezerRequest:
    at: float  # the emulator's clock on arrival
    path: str
    query: str
    remote: str
    status: int  # 0 for a dropped connection or one never answered
    error_code: int | None  # the `error.code` of an error body (4: quota, 800: no data)


def _error(code: int, kind: str, message: str) -> Json:
    return {"error": {"type": kind, "message": message, "code": code}}


class DeezerEmulator(Hosted):
    def __init__(
        self, world: ProviderWorld, config: DeezerConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.world = world
        self.config = config or DeezerConfig()
        self.clock = clock
        self.received: list[DeezerRequest] = []
        self.faults_served = 0
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        # Image files, as Deezer's CDN serves them (with `local_images`): no quota, not recorded as API traffic.
        self.app.router.add_get("/images/{kind}/{md5:[0-9a-f]*}/{file}", self._image)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def quota_answers(self) -> list[DeezerRequest]:
        return [r for r in self.received if r.error_code == 4]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now = self.clock()
        remote = request.remote or ""
        window = self._windows[remote]
        while window and window[0] <= now - self.config.rate_window:
            window.popleft()
        if len(window) >= self.config.rate_limit:
            return self._json(request, now, QUOTA_ERROR)
        window.append(now)
        fault = self._fault()
        if fault in ("hang", "drop"):
            self.received.append(DeezerRequest(now, request.path, request.query_string, remote, 0, None))
            if fault == "hang":
                await asyncio.sleep(3600)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        if fault == "slow":
            await asyncio.sleep(self.config.slow_seconds)
        if fault in _BROKEN:
            status, raw, kind = _BROKEN[fault]
            self.received.append(DeezerRequest(now, request.path, request.query_string, remote, status, None))
            return web.Response(status=status, body=raw, content_type=kind)
        if fault == "busy":
            return self._json(request, now, BUSY)
        if request.method != "GET":
            return self._json(request, now, _error(500, "OAuthException", "Invalid method"))
        answer = self._route(request)
        if isinstance(answer, web.StreamResponse):
            self.received.append(DeezerRequest(now, request.path, request.query_string, remote, answer.status, None))
            return answer
        return self._json(request, now, answer)

    def _fault(self) -> str | None:
        config = self.config
        if config.fault is None or (config.fault_count is not None and self.faults_served >= config.fault_count):
            return None
        self.faults_served += 1
        return config.fault

    def _json(self, request: web.Request, now: float, body: Json) -> web.Response:
        error = body.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        self.received.append(DeezerRequest(now, request.path, request.query_string, request.remote or "", 200, code))
        return web.Response(text=json.dumps(body, ensure_ascii=False), content_type="application/json")

    def _shapes(self, request: web.Request) -> Shapes:
        base = self.base_url or f"{request.scheme}://{request.host}"
        return Shapes(self.world, base, base if self.config.local_images else DEEZER_IMAGE_HOST)

    def _route(self, request: web.Request) -> Json | web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        shapes = self._shapes(request)
        world = self.world
        if parts and parts[0] == "search":
            return self._search(request, shapes, parts[1] if len(parts) == 2 else "track" if len(parts) == 1 else "")
        if len(parts) < 2:
            return NO_DATA
        kind, key, rest = parts[0], parts[1], parts[2:]
        if kind == "track" and not rest and key.startswith("isrc:"):
            track = next((t for t in world.deezer_tracks.values() if t.isrc == key[5:]), None)
            return shapes.track(track) if track else NO_DATA
        item_id = int(key) if key.isdigit() else -1
        if kind == "artist" and item_id in world.deezer_artists:
            artist = world.deezer_artists[item_id]
            if not rest:
                return shapes.artist(artist)
            if rest == ["top"]:
                tracks = [shapes.track(t, "listed") for t in world.top_tracks(item_id)]
                return self._page(request, shapes, tracks, default_limit=5)
            if rest == ["albums"]:
                return self._page(request, shapes, [shapes.album(a, "nested") for a in world.albums_of(item_id)])
            if rest == ["image"]:
                return web.Response(status=302, headers={"Location": shapes.artist(artist)["picture_big"]})
        if kind == "album" and item_id in world.deezer_albums:
            album = world.deezer_albums[item_id]
            if not rest:
                return shapes.album(album)
            if rest == ["tracks"]:
                return self._page(request, shapes, [shapes.track(t, "listed") for t in world.tracks_of(item_id)])
            if rest == ["image"]:
                return web.Response(status=302, headers={"Location": shapes.album(album)["cover_big"]})
        if kind == "track" and item_id in world.deezer_tracks and not rest:
            return shapes.track(world.deezer_tracks[item_id])
        return NO_DATA

    def _search(self, request: web.Request, shapes: Shapes, what: str) -> Json:
        q = request.query.get("q", "")
        if not q.strip():
            return _error(501, "MissingParameterException", "Missing parameters: q")
        world = self.world
        if what == "artist":
            found = [shapes.artist(a, "listed") for a in search_artists(world, q)]
        elif what == "album":
            found = [shapes.album(a, "listed") for a in search_albums(world, q)]
        elif what == "track":
            found = [shapes.track(t, "listed") for t in search_tracks(world, q)]
        else:
            return NO_DATA
        return self._page(request, shapes, found)

    def _page(self, request: web.Request, shapes: Shapes, items: Sequence[Json], default_limit: int = 0) -> Json:
        def number(name: str, default: int) -> int:
            raw = request.query.get(name, "")
            return int(raw) if raw.isdigit() else default

        index = number("index", 0)
        limit = max(1, min(number("limit", default_limit or self.config.page_size), _MAX_LIMIT))
        body: dict[str, Any] = {"data": list(items[index : index + limit]), "total": len(items)}
        query = dict(request.query)
        if index > 0:
            body["prev"] = f"{shapes.api}{request.path}?{urlencode(query | {'index': max(0, index - limit)})}"
        if index + limit < len(items):
            body["next"] = f"{shapes.api}{request.path}?{urlencode(query | {'index': index + limit})}"
        return body

    async def _image(self, request: web.Request) -> web.Response:
        info = request.match_info
        return picture_response(info["md5"], info["file"], artist=info["kind"] == "artist")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standin.deezer", description="Serve a stand-in Deezer API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed", type=int, default=ProviderWorldSpec.seed)
    parser.add_argument("--filler", type=int, default=ProviderWorldSpec.filler)
    parser.add_argument("--fault", choices=FAULTS)
    parser.add_argument("--local-images", action="store_true")
    args = parser.parse_args(argv)
    world = build_provider_world(ProviderWorldSpec(seed=args.seed, filler=args.filler))
    emulator = DeezerEmulator(world, DeezerConfig(fault=args.fault, local_images=args.local_images))

    async def serve() -> None:
        await emulator.start(args.host, args.port)
        print(f"deezer stand-in listening on {emulator.base_url}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
