"""The accounts service in the emulator: its token endpoint (client credentials in, a bearer token out, or one
of the broken answers `EmulatorConfig.token_fault` asks for), and which tokens the Web API still accepts."""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets

from aiohttp import web

from standin.config import EmulatorConfig
from standin.render import dumps
from standin.wire import Answer, oauth_error

# Broken token endpoints (`EmulatorConfig.token_fault`). "same-token": every request gets one and the same token,
# which the Web API refuses (a token endpoint of another service, or a cache in front of it).
TOKEN_FAULTS = ("hang", "redirect", "html-500", "expires-soon", "same-token")
_REFUSED_TOKEN = "BQ" + "refused-by-the-api" * 4


class Accounts:
    """Issues client-credentials tokens, and says which are still good."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        # Tokens carry a serial so expire_all() is one assignment, safe from another thread.
        self._tokens: dict[str, tuple[int, float]] = {}
        self._token_serial = 0
        self._token_floor = 0
        self._faults_served = 0  # token answers that got `token_fault` (see token_fault_count)

    def expire_all(self) -> None:
        """Every token issued so far is refused from now on."""
        self._token_floor = self._token_serial

    def valid(self, token: str | None, now: float) -> bool:
        if token is None:
            return False
        issued = self._tokens.get(token)
        return issued is not None and issued[0] > self._token_floor and now < issued[1]

    async def answer(self, request: web.Request, now: float) -> Answer:
        """The token endpoint's answer to one request."""
        fault = self.config.token_fault
        limit = self.config.token_fault_count
        if fault is not None and limit is not None and self._faults_served >= limit:
            fault = None  # the endpoint has mended: a client still asking gets good tokens from now on
        self._faults_served += fault is not None
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
        if fault == "same-token":  # never registered, so valid() refuses it
            body = {"access_token": _REFUSED_TOKEN, "token_type": "Bearer", "expires_in": config.token_ttl}
            return Answer(200, dumps(body))
        self._token_serial += 1
        token = "BQ" + secrets.token_urlsafe(80)  # opaque, roughly the length of a real one
        self._tokens[token] = (self._token_serial, now + config.token_ttl)
        expires: int | str = "soon" if fault == "expires-soon" else config.token_ttl
        body = {"access_token": token, "token_type": "Bearer", "expires_in": expires}
        return Answer(200, dumps(body))
