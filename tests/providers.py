"""Shared by the tests of the stand-in providers: one world, a clock tests move by hand, a GET that parses."""

from __future__ import annotations

import json
import struct
from typing import Any

import aiohttp

from standin.provider_world import ProviderWorld, ProviderWorldSpec, build_provider_world

AGENT = {"User-Agent": "backfill/0.1.0 ( https://example.org/backfill )"}
WORLD = build_provider_world(ProviderWorldSpec(seed=5, filler=30))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def get(session: aiohttp.ClientSession, url: str, **options: Any) -> tuple[int, Any, aiohttp.ClientResponse]:
    """(status, parsed JSON or else the raw bytes, response)."""
    async with session.get(url, **options) as response:
        raw = await response.read()
        try:
            body = json.loads(raw) if response.content_type == "application/json" else raw
        except ValueError:
            body = raw
        return response.status, body, response


def act_artist(world: ProviderWorld, key: str) -> int:
    return next(a.id for a in world.deezer_artists.values() if a.act == key)


def row(world: ProviderWorld, artist: str, album: str) -> str:
    return next(r.uri for r in world.history if r.artist == artist and r.album == album)


def png_width(body: bytes) -> int:
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    return int(struct.unpack(">I", body[16:20])[0])
