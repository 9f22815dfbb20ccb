"""Client-credentials access tokens: fetched once, refreshed on expiry or on any 401, one refresh for all."""

from __future__ import annotations

import asyncio
import base64
import math
from typing import Any

import aiohttp

from backfill.sources.http import Reply, fetch


class CredentialsRejected(Exception):
    """The token endpoint refused the client id/secret."""


class TokenUnavailable(Exception):
    """The token endpoint could not be reached or answered nonsense."""


# Refresh a little before Spotify says the token expires, so no request is sent with a dying token.
_EXPIRY_MARGIN = 60.0
_DEFAULT_LIFETIME = 3600.0  # what Spotify grants; used when expires_in is missing or not a number
_ATTEMPTS = 3


def _lifetime(value: object) -> float:
    if not isinstance(value, str | int | float):  # JSON: null, a list or an object is no number
        return _DEFAULT_LIFETIME
    try:
        seconds = float(value)
    except ValueError:
        return _DEFAULT_LIFETIME
    return seconds if math.isfinite(seconds) and seconds > 0 else _DEFAULT_LIFETIME


class TokenSource:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._url = token_url
        self._timeout = timeout
        # Basic auth by hand: aiohttp.BasicAuth is deprecated in 3.14 and its replacement is new there.
        pair = f"{client_id}:{client_secret}".encode()
        self._auth_header = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0
        # Which fetch the current token came from: an endpoint may hand out the same string again, and a
        # refused token fetched anew must count as a new one.
        self.serial = 0

    async def get(self) -> str:
        return (await self.lease())[0]

    async def lease(self) -> tuple[str, int]:
        """The current token and the serial of the fetch that got it."""
        loop = asyncio.get_running_loop()
        if self._token is not None and loop.time() < self._expires_at:
            return self._token, self.serial
        async with self._lock:  # many workers may ask at once: only the first fetches
            if self._token is None or loop.time() >= self._expires_at:
                await self._fetch()
            assert self._token is not None
            return self._token, self.serial

    def invalidate(self, token: str, serial: int | None = None) -> None:
        """A request with `token` got 401: drop it, unless another worker has already replaced it."""
        if self._token == token and serial in (None, self.serial):
            self._token = None

    async def _fetch(self) -> None:
        self.fetches += 1
        why = ""
        for attempt in range(_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.5 * 2**attempt)
            # No redirects: a POST that is redirected turns into a GET elsewhere, whose answer means nothing.
            reply = await fetch(
                self._session,
                "POST",
                self._url,
                data={"grant_type": "client_credentials"},
                headers=self._auth_header,
                timeout=self._timeout,
                allow_redirects=False,
            )
            body: Any = reply.body
            if reply.status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
                self._token = body["access_token"]
                self.serial += 1
                lifetime = _lifetime(body.get("expires_in"))
                self._expires_at = asyncio.get_running_loop().time() + max(lifetime - _EXPIRY_MARGIN, lifetime / 2)
                return
            if reply.status in (400, 401) and _oauth_error(body) in ("invalid_client", "unauthorized_client"):
                raise CredentialsRejected(
                    f"Spotify rejected the client credentials ({_describe(body, reply)}): "
                    "check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
                )
            if 300 <= reply.status < 400:
                where = f" to {reply.location}" if reply.location else ""
                raise TokenUnavailable(
                    f"the token endpoint {self._url} redirects (HTTP {reply.status}{where}): check SPOTIFY_TOKEN_URL"
                )
            if reply.status in (400, 401, 403, 404, 405):
                raise TokenUnavailable(
                    f"the token endpoint {self._url} answered HTTP {reply.status} ({_describe(body, reply)}): "
                    "check SPOTIFY_TOKEN_URL"
                )
            why = _describe(body, reply) if reply.status else (reply.error or "no answer")
            if reply.status:
                why = f"HTTP {reply.status}, {why}" if why != f"HTTP {reply.status}" else why
        raise TokenUnavailable(
            f"could not get an access token from {self._url} ({_ATTEMPTS} tries, {self._timeout:g} s each): {why}"
        )


def _oauth_error(body: object) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


def _describe(body: object, reply: Reply) -> str:
    if isinstance(body, dict):
        for key in ("error_description", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    if reply.error:
        return reply.error
    return f"HTTP {reply.status}"
