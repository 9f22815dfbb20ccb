"""Deezer (no key) as a fallback provider: album covers for track rows, photos for artist rows.

A track row: the albums named like the row's album (or, for a single, its title) by the row's artist, from
the advanced search (`artist:"A" album:"B"`), or from plain text when that finds none with the right names;
`matching.match_album` decides, and when namesakes' albums tie, a track search shows which of them lists the
row's track. An artist row: plain `q=NAME` (the advanced `artist:"NAME"` ranks longer names first); each
candidate with the history's name is judged by its catalogue (`/artist/{id}/albums`, and `/artist/{id}/top`
unless its albums alone already confirm a lone candidate) against the user's own titles (`confirm_artist`).

Deezer allows 50 requests per 5 s; over it, it answers HTTP 200 with error code 4 and no Retry-After: a
rate limit, handled as a 429 (the adaptive pace slows down and the request is asked again), never a miss.
Error code 800 ("no data") is not found; any other error code is a failure.
"""

from __future__ import annotations

from dataclasses import replace

import aiohttp

from backfill.config import DEFAULT_DEEZER_URL
from backfill.records import Lookup
from backfill.sources.answers import Answer
from backfill.sources.deezer_search import (
    Json,
    advanced,
    album_candidate,
    album_of,
    artist_candidate,
    page_items,
    picture,
    titles,
)
from backfill.sources.fallback import FallbackSource, Memo, album_answer, album_search, confirmed, user_agent
from backfill.sources.http import ClientOptions, Kind, Reply, RequestFailed, error_of, message_of
from backfill.sources.matching import (
    AlbumCandidate,
    ArtistCandidate,
    ArtistHistory,
    Catalogue,
    Confirmed,
    NotFound,
    PlayedTrack,
    Unconfirmed,
    confirm_artist,
    match_album,
    normalise,
    normalise_title,
    same_name,
    same_title,
)
from backfill.sources.pacing import Pace

# 8 a second is 40 per 5 s, under Deezer's 50: room for the retries that follow a quota answer.
DEEZER_OPTIONS = ClientOptions(rate=8.0, concurrency=4)
QUOTA_EXCEEDED = 4  # `error.code` of the 200 that means "too many requests"
NO_DATA = 800  # `error.code` of an unknown id
_SEARCH_LIMIT = "50"
_TOP_TRACKS = "50"
_ALBUMS = "100"

Found = tuple[tuple[AlbumCandidate, Json], ...]


class DeezerSource(FallbackSource):
    name = "deezer"
    provider = "deezer"
    service = "the Deezer API"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_DEEZER_URL,
        options: ClientOptions | None = None,
        *,
        contact: str | None = None,
    ) -> None:
        options = options or DEEZER_OPTIONS
        self.agent = user_agent(contact)
        super().__init__(session, Pace("deezer", options.rate, options.concurrency, adaptive=True), options, base_url)
        self._url = base_url.rstrip("/")
        self._albums: Memo[tuple[str, str], Found] = Memo()  # (artist, title) -> albums found
        self._listing: Memo[tuple[str, str, str], frozenset[str]] = Memo()  # row -> ids of albums listing its track
        self._artists: Memo[str, tuple[Json, ...]] = Memo()  # name -> artists found
        self._catalogue: Memo[tuple[str, str], tuple[str, ...]] = Memo()  # (artist id, "albums"/"top") -> titles

    @property
    def label(self) -> str:
        return "Deezer"

    def _rate_limited(self, reply: Reply) -> bool:
        return reply.status == 200 and error_of(reply.body).get("code") == QUOTA_EXCEEDED

    async def _list(self, kind: Kind, path: str, params: dict[str, str]) -> list[Json]:
        """The objects of a list answer; [] for "no data"; a failure for an error code or another shape."""
        body = await self._get(kind, f"{self._url}{path}", f"Deezer {path}", params)
        error = error_of(body)
        if error:
            code = error.get("code")
            if code == NO_DATA:
                return []
            raise RequestFailed(f"Deezer {path}: error {code}: {message_of(body) or 'no message'}", 200)
        found = page_items(body)
        if found is None:
            self.health.wrong("JSON without a list of data", self.service)
            raise RequestFailed(f"Deezer {path}: an answer without a list of data", 200)
        self.health.usable()
        return found

    async def _row(self, kind: Kind, lookup: Lookup) -> Answer:
        return await (self._track(lookup) if kind == "tracks" else self._artist(lookup))

    # -- tracks: the album's cover -------------------------------------------------------------------

    async def _track(self, lookup: Lookup) -> Answer:
        if (search := album_search(lookup)) is None:
            return Answer("not_found")
        row, wanted, key = search
        found = await self._albums.get(key, lambda: self._search_albums(row.artist, wanted))
        covers = {candidate.id: album for candidate, album in found}
        candidates = [candidate for candidate, _ in found]
        verdict = match_album(row, candidates)
        if isinstance(verdict, Unconfirmed) and row.title:
            # Namesakes' albums of one title: the one listing the row's track is better evidenced.
            listing = await self._listing.get((*key, normalise_title(row.title)), lambda: self._listing_of(row))
            candidates = [replace(c, tracks=(row.title,)) if c.id in listing else c for c in candidates]
            verdict = match_album(row, candidates)

        async def cover(candidate: AlbumCandidate) -> Answer:
            return picture(covers[candidate.id], "cover", f"album {candidate.id}")

        return await album_answer(verdict, self.provider, cover)

    async def _search_albums(self, artist: str, title: str) -> Found:
        found = await self._albums_for(advanced(artist=artist, album=title))
        if not any(same_name(c.artist_name, artist) and same_title(c.title, title) for c, _ in found):
            plain = await self._albums_for(f"{artist} {title}")
            seen = {c.id for c, _ in found}
            found += tuple(pair for pair in plain if pair[0].id not in seen)
        return found

    async def _albums_for(self, query: str) -> Found:
        albums = await self._list("tracks", "/search/album", {"q": query, "limit": _SEARCH_LIMIT})
        return tuple((c, album) for album in albums if (c := album_candidate(album)) is not None)

    async def _listing_of(self, row: PlayedTrack) -> frozenset[str]:
        fields = {"artist": row.artist, "track": row.title} | ({"album": row.album} if row.album else {})
        tracks = await self._list("tracks", "/search/track", {"q": advanced(**fields), "limit": _SEARCH_LIMIT})
        return frozenset(
            album
            for track in tracks
            if same_title(str(track.get("title", "")), row.title) and (album := album_of(track))
        )

    # -- artists: the photo --------------------------------------------------------------------------

    async def _artist(self, lookup: Lookup) -> Answer:
        name = (lookup.artist or lookup.key).strip()
        if not name:
            return Answer("not_found")
        listed = await self._artists.get(normalise(name), lambda: self._search_artists(name))
        named: dict[str, tuple[ArtistCandidate, Json]] = {}
        for artist in listed:
            candidate = artist_candidate(artist)
            if candidate is not None and same_name(candidate.name, name):
                named.setdefault(candidate.id, (candidate, artist))
        if not named:
            return Answer("not_found")
        history = ArtistHistory(name, lookup.tracks, lookup.albums)
        albums = {c.id: await self._titles(c.id, "albums") for c, _ in named.values()}
        verdict = confirm_artist(history, [(c, Catalogue(albums=albums[c.id])) for c, _ in named.values()])
        if len(named) > 1 or not isinstance(verdict, Confirmed):
            # Every namesake's top tracks count too: a lone album match may be outweighed by another's tracks.
            catalogues = [(c, Catalogue(albums[c.id], await self._titles(c.id, "top"))) for c, _ in named.values()]
            verdict = confirm_artist(history, catalogues)
        if isinstance(verdict, NotFound):
            return Answer("not_found")
        if isinstance(verdict, Unconfirmed):
            return Answer("unconfirmed", candidates=tuple(_named(c) for c in verdict.candidates))
        chosen = named[verdict.candidate.id][1]
        return confirmed(picture(chosen, "picture", f"artist {verdict.candidate.id}"), verdict)

    async def _search_artists(self, name: str) -> tuple[Json, ...]:
        return tuple(await self._list("artists", "/search/artist", {"q": name, "limit": _SEARCH_LIMIT}))

    async def _titles(self, artist_id: str, what: str) -> tuple[str, ...]:
        async def fetch() -> tuple[str, ...]:
            limit = _ALBUMS if what == "albums" else _TOP_TRACKS
            return titles(await self._list("artists", f"/artist/{artist_id}/{what}", {"limit": limit}))

        return await self._catalogue.get((artist_id, what), fetch)


def _named(candidate: ArtistCandidate) -> str:
    fans = "" if candidate.fans is None else f", {candidate.fans:,} fans"
    return f"{candidate.name} (deezer {candidate.id}{fans})"
