"""`verify --html --embed-images`: the Top lists' pictures put inside the page, as data: URIs.

Such a page shows its pictures with no server and no network, e.g. after the demo's emulator has stopped.
Only what is safe and small is embedded: an http(s) URL (redirects too), answered 200 with a raster image
type, under a size cap, within a short time for all of them. Anything else keeps its stored URL, so the page
shows exactly what it would have without the option. Nothing is written to the database.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from backfill.config import DEFAULT_EMBED_TIMEOUT
from backfill.sources.http import read_capped
from backfill.sources.proxy import proxy_for

MAX_PICTURE = 2 * 1024 * 1024  # a real cover (640 px JPEG) is about 100 KB
# Raster only: an SVG could carry markup and scripts into a page that promises to run none.
TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"})
# Each picture gets its timeout (BACKFILL_EMBED_TIMEOUT, config); all of them together three times that.
_CONCURRENCY = 8


@dataclass
class Embedded:
    uris: dict[str, str] = field(default_factory=dict)  # stored URL -> data: URI
    failed: dict[str, str] = field(default_factory=dict)  # stored URL -> why it kept its URL

    def summary(self) -> str:
        total = len(self.uris) + len(self.failed)
        line = f"Embedded {len(self.uris):,} of {total:,} pictures in the page"
        if self.failed:
            url, why = next(iter(self.failed.items()))
            line += f"; {len(self.failed):,} kept their URL (e.g. {urlsplit(url).hostname or url}: {why})"
        return line


async def _fetch(session: aiohttp.ClientSession, url: str) -> str:
    """The data: URI of the picture at `url`; raises ValueError with the reason it cannot be embedded."""
    async with session.get(url, **proxy_for(url)) as response:
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}")
        if urlsplit(str(response.url)).scheme not in ("http", "https"):
            raise ValueError("redirected away from http(s)")
        kind = response.content_type.lower()
        if kind not in TYPES:
            raise ValueError(f"not a picture ({kind or 'no type'})")
        if (response.content_length or 0) > MAX_PICTURE:
            raise ValueError("too large")
        body = await read_capped(response, MAX_PICTURE)
        if body is None:
            raise ValueError("too large")
    return f"data:{kind};base64,{base64.b64encode(body).decode('ascii')}"


async def _embed(urls: list[str], seconds: float) -> Embedded:
    found = Embedded()
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        async with gate:
            try:
                found.uris[url] = await _fetch(session, url)
            except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
                found.failed[url] = str(exc) or type(exc).__name__

    limits = aiohttp.ClientTimeout(total=seconds)
    async with aiohttp.ClientSession(timeout=limits, trust_env=False) as session:
        tasks = [asyncio.create_task(one(session, url)) for url in urls]
        _, late = await asyncio.wait(tasks, timeout=3 * seconds)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    for url in urls:
        if url not in found.uris and url not in found.failed:
            found.failed[url] = "no answer in time"
    return found


def embed(urls: Iterable[str | None], timeout: float = DEFAULT_EMBED_TIMEOUT) -> Embedded:
    """Fetch each distinct http(s) URL once; other URLs are reported as kept, never fetched."""
    wanted: list[str] = []
    skipped: dict[str, str] = {}
    for url in dict.fromkeys(u for u in urls if u):
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            scheme = ""
        if scheme in ("http", "https"):
            wanted.append(url)
        else:
            skipped[url] = "not an http(s) URL"
    found = asyncio.run(_embed(wanted, timeout)) if wanted else Embedded()
    found.failed.update(skipped)
    return found
