"""The Cover Art Archive (no key): whether a MusicBrainz release group has a front cover, and its URL.

`/release-group/{mbid}/front-250` answers a redirect (307) to the file at archive.org when the group has a
front image, and 404 when it has none (no art at all, or only a back). The redirect is not followed: its
existence is the answer, and the `front-250` URL itself is what is stored (250 px, the archive's size nearest
300, and it works in an `<img>`). A 503 is the archive's way of slowing a client down: a rate limit.
"""

from __future__ import annotations

from collections import Counter

import aiohttp

from backfill.sources.answers import Answer
from backfill.sources.fallback import PoliteSource
from backfill.sources.http import ClientOptions, Json, Reply
from backfill.sources.pacing import Pace

FRONT = "front-250"


class CoverArtClient(PoliteSource):
    """Not a source of its own: MusicBrainz's album answers ask it, on a pace and a gate of its own."""

    name = "coverart"
    service = "the Cover Art Archive"

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, options: ClientOptions, requests: Counter[str]
    ) -> None:
        super().__init__(session, Pace("coverart", options.rate, options.concurrency, adaptive=True), options, base_url)
        self._url = base_url.rstrip("/")
        self.requests = requests  # counted with the MusicBrainz requests they serve

    @property
    def label(self) -> str:
        return "the Cover Art Archive"

    async def front(self, mbid: str) -> Answer:
        """The release group's front cover: "updated" with its URL, or "no_image"."""
        url = f"{self._url}/release-group/{mbid}/{FRONT}"
        body = await self._get("tracks", url, f"Cover Art Archive release group {mbid}")
        if body is None:
            return Answer("no_image")
        if not body.get("location"):  # a 200 with JSON: not what this URL answers
            return Answer("failed", why=f"Cover Art Archive release group {mbid}: no redirect to an image")
        return Answer("updated", url)

    def _rate_limited(self, reply: Reply) -> bool:
        return reply.status == 503

    def _unusable(self, reply: Reply) -> None:
        if 300 <= reply.status < 400 and reply.location:
            return  # the answer: there is a front image
        super()._unusable(reply)

    async def _judge(self, reply: Reply, path: str, sent_with: object) -> Json | bool | None:
        if 300 <= reply.status < 400 and reply.location:
            self.health.usable()
            return {"location": reply.location}
        if reply.status == 404:
            self.health.usable()
            return None
        return await super()._judge(reply, path, sent_with)
