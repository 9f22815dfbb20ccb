"""Client-credentials access tokens: fetched once, refreshed on expiry or on any 401, one refresh for all."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp

from backfill.proxy import proxy_for


class CredentialsRejected(Exception):
    """The token endpoint refused the client id/secret."""


class TokenUnavailable(Exception):
    """The token endpoint could not be reached or answered nonsense."""


# Refresh a little before Spotify says the token expires, so no request is sent with a dying token.
_EXPIRY_MARGIN = 60.0


class TokenSource:
    def __init__(self, session: aiohttp.ClientSession, token_url: str, client_id: str, client_secret: str) -> None:
        self._session = session
        self._url = token_url
        self._via = proxy_for(token_url)
        # Basic auth by hand: aiohttp.BasicAuth is deprecated in 3.14 and its replacement is new there.
        pair = f"{client_id}:{client_secret}".encode()
        self._auth_header = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get(self) -> str:
        loop = asyncio.get_running_loop()
        if self._token is not None and loop.time() < self._expires_at:
            return self._token
        async with self._lock:  # many workers may ask at once: only the first fetches
            if self._token is None or loop.time() >= self._expires_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """A request with `token` got 401: drop it, unless another worker has already replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch(self) -> None:
        self.fetches += 1
        last_error: Exception | None = None
        for attempt in range(4):
            if attempt:
                await asyncio.sleep(0.5 * 2**attempt)
            try:
                async with self._session.post(
                    self._url, data={"grant_type": "client_credentials"}, headers=self._auth_header, **self._via
                ) as resp:
                    body: Any = await resp.json(content_type=None)
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last_error = exc
                continue
            if status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
                expires_in = float(body.get("expires_in") or 3600)
                self._token = body["access_token"]
                loop = asyncio.get_running_loop()
                self._expires_at = loop.time() + max(expires_in - _EXPIRY_MARGIN, expires_in / 2)
                return
            if status in (400, 401):
                detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
                raise CredentialsRejected(
                    f"Spotify rejected the client credentials ({detail or f'HTTP {status}'}): "
                    "check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
                )
            last_error = TokenUnavailable(f"token endpoint answered HTTP {status}")
        raise TokenUnavailable(f"could not get an access token from {self._url}: {last_error}")
