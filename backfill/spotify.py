"""The Spotify Web API client: pacing, the shared Retry-After gate, retries, and batch-endpoint detection.

Every request goes: wait for the gate → take a concurrency slot → wait for the rate limiter → check the
gate again (a 429 may have arrived meanwhile) → send. Sleeps (Retry-After, backoff) happen outside the
slot, so a waiting request never blocks one that could go.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import aiohttp
from aiolimiter import AsyncLimiter

from backfill.gate import RetryAfterGate
from backfill.proxy import proxy_for
from backfill.token import TokenSource

Kind = Literal["tracks", "artists"]
Json = dict[str, Any]

BATCH_SIZE = 50  # the most ids /tracks and /artists take in one call
ALBUM_PAGE = 50  # the most tracks /albums/{id}/tracks returns in one page
_TRANSIENT = frozenset({500, 502, 503, 504})
_MAX_AUTH_RETRIES = 3
_MAX_RATE_LIMIT_RETRIES = 20


class RateLimited(Exception):
    """Spotify asked for a wait longer than we are willing to sleep through (e.g. the daily quota)."""

    def __init__(self, retry_after: float, quota: bool) -> None:
        self.retry_after = retry_after
        self.quota = quota
        self.resume_after = datetime.now().astimezone() + timedelta(seconds=retry_after)
        what = "daily quota exceeded" if quota else "rate limited"
        super().__init__(f"Spotify: {what}, Retry-After {retry_after:.0f} s")


class RequestFailed(Exception):
    """A request that did not succeed after its retries, or failed in a way retrying cannot mend."""


class AccessDenied(Exception):
    """A single-item call answered 403: the app may not use the API at all (e.g. its owner lost Premium)."""


class BatchForbidden(Exception):
    """A batch endpoint answered 403: this app is in Development Mode (since February 2026)."""


@dataclass(frozen=True)
class ClientOptions:
    rate: float = 5.0  # requests per second
    concurrency: int = 8  # requests in flight
    max_wait: float = 120.0  # longest Retry-After slept through; longer stops the run
    max_retries: int = 5  # for 5xx, timeouts and dropped connections
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    timeout: float = 30.0


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP-date: Spotify sends seconds; fall back to backoff
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class _BatchSupport:
    """Whether this app may use a batch endpoint: learnt from the first batch call, then shared."""

    def __init__(self) -> None:
        self.allowed: bool | None = None
        self.probe = asyncio.Lock()
        self.answered = asyncio.Event()  # set whenever a probe ends, whatever its answer


class SpotifyClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenSource,
        api_url: str,
        options: ClientOptions,
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._api = api_url.rstrip("/")
        self._via = proxy_for(self._api)
        self._options = options
        self.gate = RetryAfterGate()
        # max_rate=1 over 1/rate seconds: an even pace with no start-up burst (aiolimiter's documented recipe).
        self._limiter = AsyncLimiter(1, 1.0 / options.rate)
        self._slots = asyncio.Semaphore(options.concurrency)
        self._batch: dict[Kind, _BatchSupport] = {"tracks": _BatchSupport(), "artists": _BatchSupport()}
        self.requests: Counter[str] = Counter()  # per kind, every request sent (retries included)

    # -- public calls ----------------------------------------------------------------------------

    def batch_allowed(self, kind: Kind) -> bool | None:
        """True/False once the first batch call of this kind has answered; None before."""
        return self._batch[kind].allowed

    async def probe_settled(self, kind: Kind) -> bool | None:
        """Wait for the next batch probe of this kind to end; its answer (None if it failed for another reason)."""
        support = self._batch[kind]
        if support.allowed is None:
            support.answered.clear()
            await support.answered.wait()
        return support.allowed

    async def tracks(self, ids: Sequence[str]) -> dict[str, Json | None] | None:
        """Batch-fetch up to 50 tracks; None when this app may not use the batch endpoint."""
        return await self._batch_call("tracks", "/tracks", ids)

    async def artists(self, ids: Sequence[str]) -> dict[str, Json | None] | None:
        return await self._batch_call("artists", "/artists", ids)

    async def track(self, track_id: str) -> Json | None:
        return await self._get("tracks", f"/tracks/{track_id}")

    async def artist(self, artist_id: str) -> Json | None:
        return await self._get("artists", f"/artists/{artist_id}")

    async def album(self, album_id: str) -> Json | None:
        return await self._get("tracks", f"/albums/{album_id}")

    async def album_tracks(self, album_id: str, offset: int) -> Json | None:
        return await self._get(
            "tracks", f"/albums/{album_id}/tracks", {"limit": str(ALBUM_PAGE), "offset": str(offset)}
        )

    # -- batch detection -------------------------------------------------------------------------

    async def _batch_call(self, kind: Kind, path: str, ids: Sequence[str]) -> dict[str, Json | None] | None:
        if len(ids) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} ids per batch call")
        support = self._batch[kind]
        if support.allowed is None:
            # The first caller probes; the others wait for its answer, as a 403 costs quota too.
            async with support.probe:
                if support.allowed is None:
                    try:
                        result = await self._try_batch(kind, path, ids)
                        support.allowed = result is not None
                        return result
                    finally:
                        support.answered.set()
        if not support.allowed:
            return None
        result = await self._try_batch(kind, path, ids)
        if result is None:
            support.allowed = False  # access withdrawn mid-run: single items from now on
        return result

    async def _try_batch(self, kind: Kind, path: str, ids: Sequence[str]) -> dict[str, Json | None] | None:
        try:
            body = await self._get(kind, path, {"ids": ",".join(ids)}, batch=True)
        except BatchForbidden:
            return None
        entries = body.get(kind) if isinstance(body, dict) else None
        if not isinstance(entries, list) or len(entries) != len(ids):
            raise RequestFailed(f"unexpected answer from {path}: no list of {len(ids)} {kind}")
        # Spotify answers in request order, with null for an id it does not know.
        return {i: (e if isinstance(e, dict) else None) for i, e in zip(ids, entries, strict=True)}

    # -- one request, with everything that can go wrong ------------------------------------------

    async def _get(
        self, kind: Kind, path: str, params: dict[str, str] | None = None, *, batch: bool = False
    ) -> Json | None:
        """GET a JSON object; None for 404 (no such id). Raises RateLimited, RequestFailed, BatchForbidden."""
        url = self._api + path
        failures = auth_failures = rate_limits = 0
        while True:
            await self.gate.wait()
            async with self._slots:
                await self._limiter.acquire()
                if self.gate.remaining > 0:
                    continue  # a 429 arrived while we waited for our turn: go back to the gate
                token = await self._tokens.get()
                self.requests[kind] += 1
                status, body, retry_after, error = await self._send(url, params, token)
            if status == 200:
                if isinstance(body, dict):
                    return body
                error = "a response that is not a JSON object"
            elif status == 404:
                return None
            elif status == 401:
                auth_failures += 1
                if auth_failures > _MAX_AUTH_RETRIES:
                    raise RequestFailed(f"{path}: access token refused {auth_failures} times")
                self._tokens.invalidate(token)
                continue
            elif status == 429:
                rate_limits += 1
                wait = retry_after if retry_after is not None else self._backoff(rate_limits)
                quota = _reason(body) == "QUOTA_EXCEEDED"
                self.gate.close_for(wait)  # every worker holds off, even if this run stops here
                if wait > self._options.max_wait or rate_limits > _MAX_RATE_LIMIT_RETRIES:
                    raise RateLimited(wait, quota)
                continue
            elif status == 403:
                if batch:
                    raise BatchForbidden(path)
                # Every other request would be refused too: stop the run rather than fail item by item.
                detail = f": {_message(body)}" if _message(body) else ""
                raise AccessDenied(
                    f"Spotify refused access (HTTP 403{detail}). Development Mode apps need their owner "
                    "to have Spotify Premium; check the app in the developer dashboard"
                )
            elif status not in _TRANSIENT and status != 0:
                raise RequestFailed(f"{path}: HTTP {status} {_message(body)}".rstrip())
            # 5xx, timeouts, dropped connections and garbled bodies: back off and try again.
            failures += 1
            if failures > self._options.max_retries:
                raise RequestFailed(f"{path}: {error or f'HTTP {status}'} after {failures} attempts")
            await asyncio.sleep(self._backoff(failures))

    async def _send(
        self, url: str, params: dict[str, str] | None, token: str
    ) -> tuple[int, Any, float | None, str | None]:
        """(status, parsed body or None, Retry-After, error text); status 0 when no answer came."""
        try:
            async with self._session.get(
                url,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=aiohttp.ClientTimeout(total=self._options.timeout),
                **self._via,
            ) as resp:
                raw = await resp.read()
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, None, None, f"{type(exc).__name__}: {exc}".rstrip(": ")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return (0 if status == 200 else status), None, retry_after, "an unreadable response body"
        return status, body, retry_after, None

    def _backoff(self, attempt: int) -> float:
        # Exponential with full jitter, so retrying workers do not return in step.
        ceiling = min(self._options.backoff_cap, self._options.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def _error(body: Any) -> dict[str, Any]:
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def _reason(body: Any) -> str | None:
    reason = _error(body).get("reason")
    return reason if isinstance(reason, str) else None


def _message(body: Any) -> str:
    message = _error(body).get("message")
    return message if isinstance(message, str) else ""
