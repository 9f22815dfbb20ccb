"""Shared by the fallback sources' tests: the provider world's rows as lookups, and asking a source about them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager

from aiohttp import web

from backfill.records import Lookup
from backfill.sources.answers import Answer
from backfill.sources.base import Source
from backfill.sources.http import ClientOptions, Kind
from standin.hosting import Hosted
from standin.provider_world import ProviderWorld

# Fast, with few and short retries: a test's faults end in a second or two, not in the default minutes.
FAST = ClientOptions(rate=1_000.0, concurrency=8, max_retries=2, backoff_base=0.01, backoff_cap=0.05, timeout=5.0)


def track_lookups(world: ProviderWorld) -> dict[str, Lookup]:
    return {r.uri: Lookup(r.uri, r.artist, r.title, r.album) for r in world.history}


def artist_lookups(world: ProviderWorld) -> dict[str, Lookup]:
    found: dict[str, Lookup] = {}
    for name in world.history_artists:
        rows = [r for r in world.history if r.artist == name]
        tracks = tuple(dict.fromkeys(r.title for r in rows))
        albums = tuple(dict.fromkeys(r.album for r in rows if r.album))
        found[name] = Lookup(name, name, tracks=tracks, albums=albums)
    return found


def track_rows(world: ProviderWorld, artist: str, album: str | None = None) -> dict[str, Lookup]:
    """The lookups of the history rows by `artist` (on `album`, when given)."""
    rows = track_lookups(world)
    return {k: v for k, v in rows.items() if v.artist == artist and (album is None or v.album == album)}


async def ask(source: Source, kind: Kind, lookups: Mapping[str, Lookup]) -> dict[str, Answer]:
    """Every answer `source` gives, by row key; each key answered exactly once."""
    answers: dict[str, Answer] = {}
    async for key, answer in source.singles(kind, list(lookups), lookups):
        assert key not in answers, f"{key} answered twice"
        answers[key] = answer
    assert set(answers) == set(lookups)
    return answers


@asynccontextmanager
async def capturing_agents(emulator: Hosted) -> AsyncIterator[list[str]]:
    """Start `emulator`, recording the User-Agent of every request it receives."""
    agents: list[str] = []

    @web.middleware
    async def capture(request: web.Request, handler: Callable[[web.Request], object]) -> web.StreamResponse:
        agents.append(request.headers.get("User-Agent", ""))
        response = await handler(request)  # type: ignore[misc]
        assert isinstance(response, web.StreamResponse)
        return response

    emulator.app.middlewares.append(capture)
    async with emulator:
        yield agents


class Stepping:
    """An emulator clock that moves on by `step` seconds each time it is read (once per request received)."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answering(body: object) -> Handler:
    """A handler answering `body` (HTTP 200, JSON) to every request."""

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response(body)

    return answer


async def hanging(request: web.Request) -> web.StreamResponse:
    """A handler that never answers."""
    await asyncio.sleep(3600)
    return web.Response()


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A server on 127.0.0.1 running `handler` for every GET; yields its base URL."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server  # aiohttp exposes no public way to learn the port chosen for port 0
        assert isinstance(server, asyncio.Server)
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


def urls(answers: Iterable[Answer]) -> list[str]:
    return [a.url for a in answers if a.url is not None]
