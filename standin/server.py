"""A Spotify Web API emulator: the service the tests (and the benchmark) talk to instead of Spotify.

It serves a `Catalog` with the real API's shapes and habits, as described in spotify-facts.md: client
credentials tokens that expire, batch endpoints that Development Mode apps lose (403), a rolling-window
rate limit whose Retry-After penalty grows when you keep calling, a daily quota, 5xx errors and dropped
connections. Everything it received is recorded, so tests can check how a client behaved.

Beside it: `accounts` (the token endpoint), `gatekeeper` (the limits an API request meets before routing),
`wire` (endpoints, routes, error bodies), `faults`, `oembed`, `pictures`, `config`, `hosting`.

Run alone with `python -m standin --port N` (see `main`).
"""

from __future__ import annotations

import asyncio
import random
import time

from aiohttp import web

from standin import faults
from standin.accounts import Accounts
from standin.catalog import Catalog
from standin.config import EmulatorConfig, Outcome, Received
from standin.gatekeeper import Gatekeeper
from standin.hosting import Hosted
from standin.oembed import THUMBNAIL_HOST, OEmbedService
from standin.pictures import IMAGE_PATH, Pictures
from standin.render import Renderer
from standin.wire import JSON_TYPE, MAX_IDS, Answer, classify, route


class Emulator(Hosted):
    """The Spotify Web API (accounts token endpoint included) over a `Catalog`, as an aiohttp app."""

    def __init__(self, catalog: Catalog, config: EmulatorConfig | None = None) -> None:
        super().__init__()
        self.catalog = catalog
        self.config = config or EmulatorConfig()
        self.received: list[Received] = []
        self.rng = random.Random(self.config.seed)
        self.faults_served = 0
        self.api_url = ""
        self.token_url = ""
        self.accounts = Accounts(self.config)
        self.gatekeeper = Gatekeeper(self.config, self.rng, self.accounts)
        self._renderers: dict[tuple[bool, bool], Renderer] = {}
        self.pictures = Pictures(catalog)
        self.oembed_service = OEmbedService(catalog, self.config.oembed, self.rng)
        self.app.router.add_get("/oembed", self._handle_oembed)
        # Image files, as Spotify's CDN serves them: no token, no rate limit, not recorded as API traffic.
        self.app.router.add_get("/image/{image_id}", self._image)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def _bound(self) -> None:
        self.api_url = self.base_url + "/v1"
        self.token_url = self.base_url + "/api/token"
        self._renderers.clear()  # hrefs embed the base URL

    # -- inspection and control -------------------------------------------------------------------

    def api(self) -> list[Received]:
        return [r for r in list(self.received) if r.endpoint not in ("token", "oembed")]

    def oembed_requests(self) -> list[Received]:
        return [r for r in list(self.received) if r.endpoint == "oembed"]

    def token_requests(self) -> list[Received]:
        return [r for r in list(self.received) if r.endpoint == "token"]

    def penalties(self) -> list[tuple[float, float]]:
        """(start, end) of each rate-limit penalty; `end` includes extensions from calls made during it."""
        return self.gatekeeper.penalties()

    def new_day(self) -> None:
        """The daily quota starts again (the bench's next day): API requests count from zero."""
        self.gatekeeper.new_day()

    def expire_tokens(self) -> None:
        self.accounts.expire_all()

    def inject(self, *outcomes: Outcome, endpoint: str | None = None) -> None:
        """Queue forced outcomes for the next matching API requests, consumed in order.

        An int status gets a Spotify error body; "drop" closes the connection; (429, seconds) is a
        rate-limit 429 that starts a penalty; "quota" is a QUOTA_EXCEEDED 429. aiohttp's client resends
        an idempotent request once after a disconnect, so it only reports ("drop", "drop").
        """
        self.gatekeeper.inject(*outcomes, endpoint=endpoint)

    def invalidate_cache(self) -> None:
        """Forget serialised objects, after a test changed the catalog."""
        self._renderers.clear()

    # -- request handling -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        path = request.path
        if path == "/api/token":
            token_answer = await self.accounts.answer(request, now)
            status = token_answer.status
            self.received.append(Received(now, request.method, path, "token", (), status, False, None))
            return web.Response(body=token_answer.body, status=status, content_type=JSON_TYPE, charset="utf-8")

        endpoint, path_id = classify(path)
        if path_id is not None:
            ids: tuple[str, ...] = (path_id,)
        elif endpoint in MAX_IDS:
            raw = request.query.get("ids")
            ids = tuple(raw.split(",")) if raw else ()
        else:
            ids = ()
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None

        answer = self.gatekeeper.check(now, endpoint, token, request.method)
        special = None
        if answer is None:
            render = self._renderer(request)
            answer = route(request, endpoint, path_id, ids, render, self.catalog, self.config.dev_mode)
            special = self._fault(answer, endpoint)
            if special == "redirect-loop":
                answer = Answer(302, b"", {"Location": request.path_qs})
            elif special == "hang":
                await asyncio.sleep(3600)
        self.received.append(
            Received(
                now,
                request.method,
                path,
                endpoint,
                ids,
                0 if answer.drop else answer.status,
                answer.in_penalty,
                token,
            )
        )

        config = self.config
        if config.latency > 0:
            jitter = config.latency * config.latency_jitter
            await asyncio.sleep(max(0.0, self.rng.uniform(config.latency - jitter, config.latency + jitter)))
        if answer.drop:
            # Closing the transport first makes aiohttp's write of the response below fail quietly
            # (ConnectionError is swallowed in finish_response), so the client gets no bytes at all:
            # it sees ServerDisconnectedError, as with a real connection dropped mid-request (after aiohttp's
            # one silent resend of an idempotent request, which reaches us as a second request).
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        if special == "chunked":
            return await self._chunked(request, answer)
        return web.Response(
            body=answer.body,
            status=answer.status,
            headers=answer.headers or None,
            content_type=answer.content_type,
            charset="utf-8" if answer.content_type == JSON_TYPE else None,
        )

    def _fault(self, answer: Answer, endpoint: str) -> str | None:
        """Apply the configured fault mode to a 200 answer; the name of a mode the handler must act out."""
        config = self.config
        mode = config.fault_mode
        if mode is None or answer.status != 200 or (config.fault_endpoints and endpoint not in config.fault_endpoints):
            return None
        if config.fault_count is not None and self.faults_served >= config.fault_count:
            return None
        self.faults_served += 1
        if mode in faults.SPECIAL:
            return mode
        answer.status, answer.body, answer.content_type = faults.rewrite(mode, answer.body, self.rng)
        return "chunked" if mode == "padded-chunked" else None

    async def _chunked(self, request: web.Request, answer: Answer) -> web.StreamResponse:
        """The answer in 1 MB chunks, with no Content-Length; a client may hang up part way."""
        response = web.StreamResponse(status=answer.status)
        response.content_type = answer.content_type
        response.enable_chunked_encoding()
        await response.prepare(request)
        step = 1 << 20
        try:
            for start in range(0, len(answer.body), step):
                await response.write(answer.body[start : start + step])
            await response.write_eof()
        except ConnectionError:
            pass
        return response

    async def _handle_oembed(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        base = self.base_url or f"{request.scheme}://{request.host}"
        host = f"{base}{IMAGE_PATH}" if self.config.local_images else THUMBNAIL_HOST
        answer, ids = self.oembed_service.answer(request.query.get("url"), now, host)
        status = 0 if answer.drop else answer.status
        self.received.append(Received(now, request.method, request.path, "oembed", ids, status, False, None))
        if self.config.oembed.fault == "mute":  # the connection is accepted, and no answer ever comes
            await asyncio.sleep(3600)
        if self.config.oembed.latency > 0:
            await asyncio.sleep(self.config.oembed.latency)
        if answer.drop:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        return web.Response(
            body=answer.body, status=answer.status, headers=answer.headers, content_type=answer.content_type
        )

    def _renderer(self, request: web.Request) -> Renderer:
        key = (self.config.dev_mode, self.config.local_images)
        renderer = self._renderers.get(key)
        if renderer is None:
            # Outside start() (e.g. under aiohttp's test client) the base URL comes from the request.
            base = self.base_url or f"{request.scheme}://{request.host}"
            renderer = self._renderers[key] = Renderer(self.catalog, base, key[0], images_here=key[1])
        return renderer

    async def _image(self, request: web.Request) -> web.Response:
        body = self.pictures.get(request.match_info["image_id"])
        if body is None:
            return web.Response(status=404, text="no such image")
        return web.Response(body=body, content_type="image/png", headers={"Cache-Control": "max-age=86400"})
