"""Access tokens: one fetch for every worker that finds the token gone, whatever the timing."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from backfill.sources.auth import TokenSource

WAITERS = 12


async def test_concurrent_gets_after_invalidate_fetch_one_token() -> None:
    """The token endpoint holds its answer until the test lets it go, so every waiter is queued behind the one
    fetch: each must find the new token there instead of fetching its own."""
    release = asyncio.Event()
    arrived = asyncio.Event()
    issued: list[str] = []

    async def token_endpoint(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        issued.append(f"token-{len(issued)}")
        body = {"access_token": issued[-1], "token_type": "Bearer", "expires_in": 3600}
        return web.Response(text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/token", token_endpoint)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        tokens = TokenSource(session, str(server.make_url("/api/token")), "id", "secret", timeout=30)
        release.set()
        first = await tokens.get()
        release.clear()
        arrived.clear()

        tokens.invalidate(first)
        waiters = [asyncio.create_task(tokens.get()) for _ in range(WAITERS)]
        await arrived.wait()  # the one fetch is at the endpoint; every other get() has run up to the lock
        assert not any(w.done() for w in waiters)
        release.set()
        got = await asyncio.gather(*waiters)

    assert issued == ["token-0", "token-1"]
    assert got == ["token-1"] * WAITERS
    assert tokens.fetches == 2
