"""Spotify's oEmbed endpoint: album art (300 px) for a track URL, a photo for an artist URL.

It needs no credentials and spends no Web API quota. Its rate limit is undocumented, so its pace adapts
(see backfill.pacing), with a gate of its own: a 429 here never holds back Web API calls, nor the reverse.
"""

from __future__ import annotations

import aiohttp

from backfill.pacing import Pace
from backfill.sources.answers import Answer, oembed_answer
from backfill.sources.http import ClientOptions, Json, Kind, PacedSource, Reply

_PAGE = "https://open.spotify.com"


class OEmbedClient(PacedSource):
    name = "oembed"

    def __init__(self, session: aiohttp.ClientSession, oembed_url: str, options: ClientOptions) -> None:
        pace = Pace("oembed", options.rate, options.concurrency, adaptive=True)
        super().__init__(session, pace, options, oembed_url)
        # No trailing slash: `/oembed/` answered 404 in a reported outage.
        self._url = oembed_url.rstrip("/")

    async def image(self, kind: Kind, item_id: str) -> Answer:
        what = f"{'track' if kind == 'tracks' else 'artist'}/{item_id}"
        body = await self._get(kind, self._url, f"oEmbed {what}", {"url": f"{_PAGE}/{what}"})
        return oembed_answer(body, what)

    async def _judge(self, reply: Reply, path: str, sent_with: object) -> Json | bool | None:
        # Unknown ids: 404 reported, 400 seen elsewhere; our ids are always well-formed, so both mean "no such id".
        if reply.status in (400, 404):
            return None
        return await super()._judge(reply, path, sent_with)
