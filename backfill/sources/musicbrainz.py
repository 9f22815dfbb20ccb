"""MusicBrainz and its Cover Art Archive (no key) as a fallback provider: album art only (`kinds`).

A track row: the release groups named like the row's album (or, for a single, its title) by the row's artist
(`/release-group?query=artist:"A" AND releasegroup:"B"&fmt=json`), judged by `matching.match_album`; the one
confirmed has its front cover from the Cover Art Archive (backfill.sources.coverart), or none. Namesakes'
release groups of one title stay unconfirmed: MusicBrainz lists no tracks here to tell them apart.

MusicBrainz allows 1 request per second per address and answers 503 beyond it: a rate limit, handled as a
429 (every worker holds off, the pace slows down, the request is sent again). It requires a User-Agent that
names the application, its version and a contact, and refuses (or drops) others: a 403 gives the source up.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from backfill.config import DEFAULT_COVERART_URL, DEFAULT_MUSICBRAINZ_URL
from backfill.records import Lookup
from backfill.sources.answers import Answer
from backfill.sources.coverart import CoverArtClient
from backfill.sources.fallback import FallbackSource, Memo, album_answer, album_search, user_agent
from backfill.sources.health import SourceDown
from backfill.sources.http import ClientOptions, Json, Kind, RateLimited, Reply, RequestFailed
from backfill.sources.matching import AlbumCandidate, match_album
from backfill.sources.pacing import Pace

# Just under one request a second, never more (the pace adapts downward on 503s and climbs back to this, not
# above): requests sent exactly 1 s apart arrive a few ms closer now and then, and are refused (bench 12).
MUSICBRAINZ_OPTIONS = ClientOptions(rate=0.95, concurrency=2)
_LIMIT = "50"
_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')
_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def phrase(text: str) -> str:
    """`text` as one Lucene phrase, its special characters escaped: `AC/DC` -> `"AC\\/DC"`."""
    return '"' + _LUCENE_SPECIAL.sub(r"\\\1", " ".join(text.split())) + '"'


def release_group_query(artist: str, title: str) -> str:
    return f"artist:{phrase(artist)} AND releasegroup:{phrase(title)}"


def _credit(group: Json) -> tuple[str, str] | None:
    """(the first credited artist's id, the whole credit as written: "Bob Marley & The Wailers")."""
    credits = group.get("artist-credit")
    if not isinstance(credits, list) or not credits:
        return None
    names: list[str] = []
    first: str | None = None
    for credit in credits:
        if not isinstance(credit, dict):
            return None
        artist = credit.get("artist")
        artist = artist if isinstance(artist, dict) else {}
        name = credit.get("name", artist.get("name"))
        joiner = credit.get("joinphrase", "")
        if not isinstance(name, str) or not isinstance(joiner, str):
            return None
        first = first or (artist.get("id") if isinstance(artist.get("id"), str) else None)
        names.append(name + joiner)
    return (first, "".join(names).strip()) if first else None


def release_groups(body: Json | None) -> list[AlbumCandidate] | None:
    """The release groups of a search answer as album candidates; None when it is no such answer."""
    groups: Any = body.get("release-groups") if body is not None else []
    if not isinstance(groups, list):
        return None
    found: list[AlbumCandidate] = []
    for group in groups:
        if not isinstance(group, dict):
            continue
        mbid, title, credit = group.get("id"), group.get("title"), _credit(group)
        if not isinstance(mbid, str) or not _MBID.match(mbid) or not isinstance(title, str) or credit is None:
            continue
        kind = group.get("primary-type")
        single = kind == "Single" if isinstance(kind, str) else None
        found.append(AlbumCandidate(mbid, title, credit[0], credit[1], single))
    return found


class MusicBrainzSource(FallbackSource):
    name = "musicbrainz"
    provider = "musicbrainz"
    kinds = frozenset({"tracks"})  # album art only: the engine asks it about no artist
    service = "the MusicBrainz web service"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_MUSICBRAINZ_URL,
        coverart_url: str = DEFAULT_COVERART_URL,
        options: ClientOptions | None = None,
        coverart_options: ClientOptions | None = None,
        *,
        contact: str | None = None,
    ) -> None:
        options = options or MUSICBRAINZ_OPTIONS
        self.agent = user_agent(contact)
        pace = Pace("musicbrainz", options.rate, options.concurrency, adaptive=True)
        super().__init__(session, pace, options, base_url)
        self._url = base_url.rstrip("/")
        self.coverart = CoverArtClient(session, coverart_url, coverart_options or options, self.requests)
        self.coverart.agent = self.agent
        self._groups: Memo[tuple[str, str], tuple[AlbumCandidate, ...]] = Memo()
        self._fronts: Memo[str, Answer] = Memo()

    @property
    def label(self) -> str:
        return "MusicBrainz"

    def _rate_limited(self, reply: Reply) -> bool:
        return reply.status == 503

    async def _judge(self, reply: Reply, path: str, sent_with: object) -> Json | bool | None:
        if reply.status == 403:
            down = SourceDown(self.name, f"MusicBrainz ({self.health.host}) refuses this client (HTTP 403): {path}")
            self.pace.gate.shut(down)
            raise down
        return await super()._judge(reply, path, sent_with)

    async def _row(self, kind: Kind, lookup: Lookup) -> Answer:
        if (search := album_search(lookup)) is None:
            return Answer("not_found")
        row, wanted, key = search
        groups = await self._groups.get(key, lambda: self._search(row.artist, wanted))
        verdict = match_album(row, groups)
        return await album_answer(verdict, self.provider, self._front)

    async def _search(self, artist: str, title: str) -> tuple[AlbumCandidate, ...]:
        params = {"query": release_group_query(artist, title), "fmt": "json", "limit": _LIMIT}
        body = await self._get("tracks", f"{self._url}/release-group", "MusicBrainz release-group search", params)
        found = release_groups(body)
        if found is None:
            self.health.wrong("JSON without release groups", self.service)
            raise RequestFailed("MusicBrainz release-group search: an answer without release groups", 200)
        self.health.usable()
        return tuple(found)

    async def _front(self, group: AlbumCandidate) -> Answer:
        try:
            return await self._fronts.get(group.id, lambda: self.coverart.front(group.id))
        except RateLimited as exc:  # the archive is MusicBrainz's: losing it loses this source
            raise RateLimited(exc.retry_after, exc.quota, self.name) from exc
        except SourceDown as exc:
            raise SourceDown(self.name, str(exc)) from exc
