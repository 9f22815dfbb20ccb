"""A Spotify Web API emulator: the service the tests (and the benchmark) talk to instead of Spotify.

It serves a `Catalog` with the real API's shapes and habits, as described in spotify-facts.md: client
credentials tokens that expire, batch endpoints that Development Mode apps lose (403), a rolling-window
rate limit whose Retry-After penalty grows when you keep calling, a daily quota, 5xx errors and dropped
connections. Everything it received is recorded, so tests can check how a client behaved.

Run alone with `python -m backfill.emulator --port N` (see `main`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import random
import secrets
import threading
import time
from collections import deque
from email.utils import formatdate

from aiohttp import web

from backfill.emulator import faults
from backfill.emulator.catalog import Catalog
from backfill.emulator.config import EmulatorConfig, Outcome, Received
from backfill.emulator.hosting import Hosted
from backfill.emulator.oembed import THUMBNAIL_HOST, OEmbedService
from backfill.emulator.pictures import IMAGE_PATH, Pictures
from backfill.emulator.render import Renderer, dumps
from backfill.emulator.wire import (
    JSON_TYPE,
    MAX_IDS,
    SERVER_ERRORS,
    Answer,
    classify,
    error,
    oauth_error,
    quota_answer,
    route,
)


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
        # Tokens carry a serial so expire_tokens() is one assignment, safe from another thread.
        self._tokens: dict[str, tuple[int, float]] = {}
        self._token_serial = 0
        self._token_floor = 0
        self._window: deque[float] = deque()  # arrival times of API requests in the rolling window
        self._penalty_end = 0.0
        self._penalties: list[list[float]] = []
        self._answered = 0  # API requests counted against the quota
        self._injected: deque[tuple[Outcome, str | None]] = deque()
        self._inject_lock = threading.Lock()  # inject() may be called from a test thread
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
        return [(start, end) for start, end in list(self._penalties)]

    def new_day(self) -> None:
        """The daily quota starts again (the bench's next day): API requests count from zero."""
        self._answered = 0

    def expire_tokens(self) -> None:
        self._token_floor = self._token_serial

    def inject(self, *outcomes: Outcome, endpoint: str | None = None) -> None:
        """Queue forced outcomes for the next matching API requests, consumed in order.

        An int status gets a Spotify error body; "drop" closes the connection; (429, seconds) is a
        rate-limit 429 that starts a penalty; "quota" is a QUOTA_EXCEEDED 429. aiohttp's client resends
        an idempotent request once after a disconnect, so it only reports ("drop", "drop").
        """
        for outcome in outcomes:
            valid = outcome in ("drop", "quota") or (isinstance(outcome, int) and 400 <= outcome <= 599)
            if not valid and not (isinstance(outcome, tuple) and len(outcome) == 2 and outcome[0] == 429):
                raise ValueError(f"unknown outcome {outcome!r}")  # here, not as a 500 from the server
        with self._inject_lock:
            self._injected.extend((outcome, endpoint) for outcome in outcomes)

    def invalidate_cache(self) -> None:
        """Forget serialised objects, after a test changed the catalog."""
        self._renderers.clear()

    # -- request handling -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        path = request.path
        if path == "/api/token":
            answer = await self._token(request, now)
            self.received.append(Received(now, request.method, path, "token", (), answer.status, False, None))
            return web.Response(body=answer.body, status=answer.status, content_type=JSON_TYPE, charset="utf-8")

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

        answer = self._gatekeep(now, endpoint, token, request.method)
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
        return None

    async def _handle_oembed(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        base = self.base_url or f"{request.scheme}://{request.host}"
        host = f"{base}{IMAGE_PATH}" if self.config.local_images else THUMBNAIL_HOST
        answer, ids = self.oembed_service.answer(request.query.get("url"), now, host)
        status = 0 if answer.drop else answer.status
        self.received.append(Received(now, request.method, request.path, "oembed", ids, status, False, None))
        if self.config.oembed.latency > 0:
            await asyncio.sleep(self.config.oembed.latency)
        if answer.drop:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        return web.Response(
            body=answer.body, status=answer.status, headers=answer.headers, content_type=answer.content_type
        )

    async def _token(self, request: web.Request, now: float) -> Answer:
        fault = self.config.token_fault
        if fault == "hang":
            await asyncio.sleep(3600)
        if fault == "redirect":
            return Answer(302, b"", {"Location": "/login"})
        if fault == "html-500":
            return Answer(500, b"<html>Internal Server Error</html>", content_type="text/html")
        if request.method != "POST":
            return Answer(405, dumps({"error": "method_not_allowed"}))
        form = await request.post()
        grant = form.get("grant_type")
        if grant != "client_credentials":
            description = "grant_type parameter is missing" if grant is None else "unsupported grant type"
            return oauth_error("unsupported_grant_type", description)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return oauth_error("invalid_client", "Invalid client")
        config = self.config
        if client_id != config.client_id or client_secret != config.client_secret:
            return oauth_error("invalid_client", "Invalid client")
        self._token_serial += 1
        token = "BQ" + secrets.token_urlsafe(80)  # opaque, roughly the length of a real one
        self._tokens[token] = (self._token_serial, now + config.token_ttl)
        expires: int | str = "soon" if config.token_fault == "expires-soon" else config.token_ttl
        body = {"access_token": token, "token_type": "Bearer", "expires_in": expires}
        return Answer(200, dumps(body))

    def _forced(self, endpoint: str) -> Outcome | None:
        if not self._injected:
            return None
        with self._inject_lock:
            for index, (outcome, wanted) in enumerate(self._injected):
                if wanted is None or wanted == endpoint:
                    del self._injected[index]
                    return outcome
        return None

    def _start_penalty(self, now: float, seconds: int | None) -> Answer:
        """A 429 starting a penalty of `seconds`; None: a 429 that names no Retry-After at all."""
        self._penalty_end = max(self._penalty_end, now + (seconds or 1))
        self._penalties.append([now, self._penalty_end])
        return self._rate_limited(seconds)

    def _rate_limited(self, retry_after: int | None) -> Answer:
        answer = error(429)
        if retry_after is not None and self.config.retry_after_date:
            # Whole seconds from the Date header this answer carries: HTTP-dates have no fractions.
            now = int(time.time())
            answer.headers["Date"] = formatdate(now, usegmt=True)
            answer.headers["Retry-After"] = formatdate(now + retry_after, usegmt=True)
        elif retry_after is not None:
            answer.headers["Retry-After"] = str(retry_after)
        return answer

    def _gatekeep(self, now: float, endpoint: str, token: str | None, method: str) -> Answer | None:
        """What happens before routing: quota, injected outcomes, rate limit, faults, auth.

        Returns None when the request should be routed normally.
        """
        in_penalty = now < self._penalty_end
        answer = self._gate(now, endpoint, token, method, in_penalty)
        if answer is not None:
            answer.in_penalty = in_penalty
        return answer

    def _gate(self, now: float, endpoint: str, token: str | None, method: str, in_penalty: bool) -> Answer | None:
        config = self.config
        if config.quota is not None and self._answered >= config.quota:
            return quota_answer(config.quota_retry_after)
        forced = self._forced(endpoint)
        if forced == "quota":
            return quota_answer(config.quota_retry_after)
        self._answered += 1

        # Every API request occupies the rolling window, 429'd ones included.
        window = self._window
        window.append(now)
        horizon = now - config.rate_window
        while window and window[0] <= horizon:
            window.popleft()

        if forced is not None:
            return self._forced_answer(now, forced)
        if in_penalty:
            # Calling during a Retry-After lengthens it (spotify-facts: calls made then count against you).
            self._penalty_end += config.penalty_extension
            self._penalties[-1][1] = self._penalty_end
            return self._rate_limited(max(1, math.ceil(self._penalty_end - now)))
        limit = config.rate_limit
        if limit is not None and len(window) > limit:
            # Room for the next request once all but limit-1 of the entries (this one included) expired.
            wait = window[len(window) - max(limit, 1)] + config.rate_window - now
            return self._start_penalty(now, max(1, math.ceil(wait)))
        if config.drop_rate > 0 and self.rng.random() < config.drop_rate:
            return Answer(0, drop=True)
        if config.error_rate > 0 and self.rng.random() < config.error_rate:
            return error(self.rng.choice(SERVER_ERRORS))
        if not self._token_valid(token, now):
            return error(401)
        if method != "GET":
            return error(405)
        return None

    def _forced_answer(self, now: float, forced: Outcome) -> Answer:
        if forced == "drop":
            return Answer(0, drop=True)
        if isinstance(forced, tuple):
            return self._start_penalty(now, forced[1])
        if forced == 429:
            return self._start_penalty(now, 1)
        if isinstance(forced, int):
            return error(forced)
        raise ValueError(f"unknown injected outcome {forced!r}")

    def _token_valid(self, token: str | None, now: float) -> bool:
        if token is None:
            return False
        issued = self._tokens.get(token)
        return issued is not None and issued[0] > self._token_floor and now < issued[1]

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
