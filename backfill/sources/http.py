"""One request and what can go wrong with it, shared by every source.

`fetch` sends one request and reads at most MAX_BODY bytes of JSON; it never raises for what a server
does. `PacedSource._get` adds the source's pacing, the Retry-After gate, and retries with backoff; each
source decides what its other statuses mean (`_judge`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import aiohttp

from backfill.config import DEFAULT_GIVE_UP_AFTER, DEFAULT_TIMEOUT
from backfill.sources.health import Fatal as Fatal  # where the sources' fatal errors have always come from
from backfill.sources.health import Health
from backfill.sources.pacing import Pace, backoff
from backfill.sources.proxy import proxy_for

Kind = Literal["tracks", "artists"]
ALL_KINDS: frozenset[Kind] = frozenset(("tracks", "artists"))
Json = dict[str, Any]
# The biggest real answer, 50 full tracks with their markets, is under 1 MB: anything far bigger is not
# an answer we can use, and reading it whole would cost memory (a 50 MB body lifted the peak to ~500 MB).
MAX_BODY = 8 * 1024 * 1024
TRANSIENT = frozenset({500, 502, 503, 504})
_MAX_RATE_LIMIT_RETRIES = 20


class RateLimited(Exception):
    """A wait longer than we are willing to sleep through (e.g. the daily quota)."""

    def __init__(self, retry_after: float, quota: bool, source: str = "api") -> None:
        self.retry_after = retry_after
        self.quota = quota
        self.source = source
        self.resume_after = datetime.now().astimezone() + timedelta(seconds=retry_after)
        what = "daily quota exceeded" if quota else "rate limited"
        super().__init__(f"{source}: {what}, Retry-After {retry_after:.0f} s")


class RequestFailed(Exception):
    """A request that did not succeed after its retries, or failed in a way retrying cannot mend."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the last HTTP status; 0 when no usable answer came


@dataclass(frozen=True, slots=True)
class Reply:
    status: int  # 0 when no answer came
    body: Any = None  # parsed JSON, or None
    retry_after: float | None = None
    error: str | None = None  # why there is no usable body
    location: str | None = None
    unreachable: bool = False  # no connection at all (refused, DNS, proxy, TLS), as opposed to no answer in time


def parse_retry_after(value: str | None, server_date: str | None = None) -> float | None:
    """Seconds to wait: RFC 9110 allows delay-seconds or an HTTP-date (measured from the server's Date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        now = datetime.now(UTC)
        if server_date:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                now = parsedate_to_datetime(server_date)
        if when.tzinfo is None or now.tzinfo is None:
            return None
        seconds = max(0.0, (when - now).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


async def read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes | None:
    """The body, or None once more than `cap` bytes arrive: a chunked answer announces no length, so count."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    timeout: float,  # noqa: ASYNC109 - aiohttp's per-request timeout, handed straight to it
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    allow_redirects: bool = True,
    via: dict[str, Any] | None = None,
) -> Reply:
    """One request; a Reply whatever the server did (status 0 when no answer, or no readable one, came)."""
    try:
        async with session.request(
            method,
            url,
            params=params,
            headers=headers,
            data=data,
            allow_redirects=allow_redirects,
            timeout=aiohttp.ClientTimeout(total=timeout),
            **(proxy_for(url) if via is None else via),  # `via`: looked up once per source, not per request
        ) as resp:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), resp.headers.get("Date"))
            status, location = resp.status, resp.headers.get("Location")
            if resp.content_length is not None and resp.content_length > MAX_BODY:
                too_big = f"a {resp.content_length:,}-byte response, over {MAX_BODY:,} bytes"
                return Reply(status, None, retry_after, too_big, location)
            raw = await read_capped(resp, MAX_BODY)
            if raw is None:
                return Reply(status, None, retry_after, f"a response over {MAX_BODY:,} bytes", location)
    except (aiohttp.ClientError, TimeoutError) as exc:
        if isinstance(exc, TimeoutError):
            return Reply(0, None, None, f"no answer within {timeout:g} s")
        what = type(exc).__name__
        # ClientConnectorError covers refused, DNS, proxy and TLS failures; a proxy refusing CONNECT is the same.
        unreachable = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientHttpProxyError)
        return Reply(0, None, None, f"{what}: {exc}".rstrip(": ") if str(exc) else what, unreachable=unreachable)
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return Reply(status, None, retry_after, "a response that is not JSON", location)
    return Reply(status, body, retry_after, None, location)


@dataclass(frozen=True)
class ClientOptions:
    rate: float = 5.0  # requests per second
    concurrency: int = 8  # requests in flight
    max_wait: float = 120.0  # longest Retry-After slept through; longer stops the run
    max_retries: int = 5  # for 5xx, timeouts, dropped connections and garbled answers
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    timeout: float = DEFAULT_TIMEOUT
    give_up_after: float = DEFAULT_GIVE_UP_AFTER  # no answer at all for this long (and MUTE_LIMIT timeouts): mute


class PacedSource:
    """A source's request loop. Subclasses say how to send (`_send`) and what statuses mean (`_judge`)."""

    name = "source"
    kinds = ALL_KINDS  # what this source answers (base.Source.kinds)

    def __init__(self, session: aiohttp.ClientSession, pace: Pace, options: ClientOptions, base_url: str) -> None:
        self._session = session
        self._via = proxy_for(base_url)  # the environment's proxy for this source, looked up once
        self.pace = pace
        self._options = options
        self.requests: Counter[str] = Counter()  # per kind, every request sent (retries included)
        self.health = Health(self.pace.gate, self.name, self.label, base_url, options.timeout, options.give_up_after)

    @property
    def label(self) -> str:
        return {"api": "the Web API", "oembed": "oEmbed"}.get(self.name, self.name)

    async def _send(self, url: str, params: dict[str, str] | None) -> tuple[Reply, object]:
        """Send once; the reply, and whatever `_judge` needs to know of how it was sent (e.g. the token)."""
        reply = await fetch(self._session, "GET", url, params=params, timeout=self._options.timeout, via=self._via)
        return reply, None

    async def _judge(self, reply: Reply, path: str, sent_with: object) -> Json | bool | None:
        """A status the loop does not handle itself: a body, None (not found), True (send again) or raise."""
        raise RequestFailed(f"{path}: HTTP {reply.status}", reply.status)

    def _rate_limited(self, reply: Reply) -> bool:
        """A reply other than a 429 that means "too fast" (a 200 with an error body, a 503): handled as a 429,
        so the pace slows down, every worker holds off, and the request is sent again."""
        return False

    def _unusable(self, reply: Reply) -> None:
        """A 200 whose body is not a JSON object (or a redirect not followed): for a source to judge."""

    async def _get(self, kind: str, url: str, path: str, params: dict[str, str] | None = None) -> Json | None:
        """GET a JSON object; None when the source says there is no such item."""
        failures = rate_limits = 0
        unannounced_wait = 0.0  # seconds slept on 429s that named no Retry-After, in a row
        while True:
            async with self.pace.turn() as epoch:
                reply, sent_with = await self._send(url, params)
                self.requests[kind] += 1
            status = reply.status
            if status == 0:
                self.health.no_reply(
                    reply.error or "no answer", reply.unreachable
                )  # raises SourceDown when the source is unreachable or mute
            else:
                self.health.replied()
            if status == 429 or self._rate_limited(reply):
                rate_limits += 1
                self.pace.throttled(epoch)
                wait = reply.retry_after
                if wait is None:
                    # Grows with this source's 429s in a row, not only this item's: with many items in turn,
                    # each item's own count stays low and the server would be asked again every second.
                    attempt = max(rate_limits, self.pace.overshoots)
                    wait = backoff(attempt, max(1.0, self._options.backoff_base), self._options.backoff_cap)
                    unannounced_wait += wait
                quota = _reason(reply.body) == "QUOTA_EXCEEDED"
                self.pace.gate.close_for(wait)  # every worker of this source holds off, even if we stop here
                if (
                    wait > self._options.max_wait
                    or unannounced_wait > self._options.max_wait
                    or rate_limits > _MAX_RATE_LIMIT_RETRIES
                ):
                    raise RateLimited(wait, quota, self.name)
                continue
            unannounced_wait = 0.0
            if status == 200 and isinstance(reply.body, dict):
                self.pace.succeeded()
                return reply.body
            if status == 200 or 300 <= status < 400:
                self._unusable(reply)  # may give the source up: its answers are not this service's
            if status == 200 or status in TRANSIENT or status == 0:
                # 5xx, timeouts, dropped connections and garbled bodies: back off and try again.
                failures += 1
                if failures > self._options.max_retries:
                    why = reply.error or ("a response that is not a JSON object" if status == 200 else "")
                    raise RequestFailed(f"{path}: {why or f'HTTP {status}'} after {failures} attempts", status)
                await asyncio.sleep(backoff(failures, self._options.backoff_base, self._options.backoff_cap))
                continue
            judged = await self._judge(reply, path, sent_with)
            if judged is True:
                continue
            if judged is None or isinstance(judged, dict):
                self.pace.succeeded()
                return judged
            raise RequestFailed(f"{path}: HTTP {status}", status)


def error_of(body: Any) -> dict[str, Any]:
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def _reason(body: Any) -> str | None:
    reason = error_of(body).get("reason")
    return reason if isinstance(reason, str) else None


def message_of(body: Any) -> str:
    message = error_of(body).get("message")
    return message if isinstance(message, str) else ""
