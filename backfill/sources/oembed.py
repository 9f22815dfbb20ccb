"""Spotify's oEmbed endpoint: album art (300 px) for a track URL, a photo for an artist URL.

It needs no credentials and spends no Web API quota. Its rate limit is undocumented, so its pace adapts
(see backfill.sources.pacing), with a gate of its own: a 429 here never holds back Web API calls, nor the reverse.
Answers that show the URL is not an oEmbed endpoint at all (HTML, a JSON list or string, a redirect to
another host, as a captive portal or a wrong URL gives) give the source up after a few (sources.health).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from urllib.parse import urlsplit

import aiohttp

from backfill.records import Lookup
from backfill.sources.answers import Answer, oembed_answer
from backfill.sources.base import SingleItemSource
from backfill.sources.http import ClientOptions, Json, Kind, PacedSource, Reply, RequestFailed, fetch
from backfill.sources.pacing import Pace

_PAGE = "https://open.spotify.com"
_SERVICE = "an oEmbed endpoint"


class OEmbedClient(SingleItemSource, PacedSource):
    name = "oembed"
    provider = "spotify"

    def __init__(self, session: aiohttp.ClientSession, oembed_url: str, options: ClientOptions) -> None:
        pace = Pace("oembed", options.rate, options.concurrency, adaptive=True)
        super().__init__(session, pace, options, oembed_url)
        # No trailing slash: `/oembed/` answered 404 in a reported outage.
        self._url = oembed_url.rstrip("/")

    async def image(self, kind: Kind, item_id: str) -> Answer:
        what = f"{'track' if kind == 'tracks' else 'artist'}/{item_id}"
        body = await self._get(kind, self._url, f"oEmbed {what}", {"url": f"{_PAGE}/{what}"})
        answer = oembed_answer(body, what)
        if answer.status == "failed" and answer.why.endswith("not an oEmbed answer"):
            self.health.wrong("JSON that is not an oEmbed answer", _SERVICE)
        else:
            self.health.usable()
        return answer

    async def singles(
        self, kind: Kind, ids: Sequence[str], lookups: Mapping[str, Lookup] | None = None
    ) -> AsyncIterator[tuple[str, Answer]]:
        for item_id in ids:
            try:
                yield item_id, await self.image(kind, item_id)
            except RequestFailed as exc:
                yield item_id, Answer.failure(exc)

    async def _send(self, url: str, params: dict[str, str] | None) -> tuple[Reply, object]:
        # Redirects are not followed: the real endpoint gives none, and one to a login page is not an answer.
        options = self._options
        reply = await fetch(
            self._session, "GET", url, params=params, timeout=options.timeout, allow_redirects=False, via=self._via
        )
        return reply, None

    def _unusable(self, reply: Reply) -> None:
        if 300 <= reply.status < 400:
            where = urlsplit(reply.location or "").netloc
            self.health.wrong(f"HTTP {reply.status}, a redirect to {where or reply.location or 'nowhere'}", _SERVICE)
        elif reply.error == "a response that is not JSON":
            self.health.wrong("a page that is not JSON (HTML?)", _SERVICE)
        elif reply.error is None:
            shape = "an empty body" if reply.body is None else f"JSON that is a {type(reply.body).__name__}"
            self.health.wrong(f"{shape}, not an object", _SERVICE)

    async def _judge(self, reply: Reply, path: str, sent_with: object) -> Json | bool | None:
        # Unknown ids: 404 reported, 400 seen elsewhere; our ids are always well-formed, so both mean "no such id".
        if reply.status in (400, 404):
            return None
        return await super()._judge(reply, path, sent_with)
