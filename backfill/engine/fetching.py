"""Workers' side of the pipeline: turning one job into answers, from the cheapest source that works.

Per kind, in order of cost: the Web API's batch endpoint (50 ids a call) where the app may use it; else
oEmbed, one call per item but free of Web API quota; else (or for items oEmbed could not answer) the Web
API's single-item calls, with album grouping for tracks.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from backfill.sources.answers import Answer, album_listing, page_ids
from backfill.sources.api import ALBUM_PAGE, SpotifyClient
from backfill.sources.health import SourceDown
from backfill.sources.http import Kind, RateLimited, RequestFailed
from backfill.sources.oembed import OEmbedClient

# (kind, id, answer, source that answered, HTTP status behind a failure or a miss, recovered artist names)
Emit = Callable[[Kind, str, Answer, str, int, tuple[str, ...]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TrackJob:
    groups: list[list[str]]  # album groups (most-played track first); at most BATCH_SIZE ids in all
    batch: bool = False  # one batch call for all of them
    probe: bool = False  # the first batch call of the run: on 403 the producer queues these ids again


@dataclass(frozen=True, slots=True)
class ArtistJob:
    items: list[tuple[str, tuple[str, ...]]]  # (id, names whose id was recovered)
    batch: bool = False
    probe: bool = False


# A source given up for the rest of the run: a wait longer than --max-wait (e.g. the daily quota), or a host
# that cannot be reached, never answers, or is not the service. In `auto` its remaining work goes to the other.
GiveUp = (RateLimited, SourceDown)


class Fetcher:
    def __init__(self, api: SpotifyClient | None, oembed: OEmbedClient | None, emit: Emit) -> None:
        self.api = api
        self.oembed = oembed
        self._emit = emit
        self.served: Counter[tuple[str, str]] = Counter()  # (kind, source) → items answered (failures are not)
        self.given_up: dict[str, RateLimited | SourceDown] = {}  # source → why, while the other went on
        self._api_lost = asyncio.Event()  # a probe skipped once the Web API is given up must not be awaited

    def usable(self, source: str) -> bool:
        client = self.api if source == "api" else self.oembed
        return client is not None and source not in self.given_up

    def _lost(self, source: str, exc: RateLimited | SourceDown) -> None:
        """Give `source` up for the rest of the run; raises `exc` (the run stops) when no other source is left."""
        other = "oembed" if source == "api" else "api"
        if not self.usable(other):
            raise exc
        self.given_up.setdefault(source, exc)
        client = self.api if source == "api" else self.oembed
        if client is not None:  # its workers parked behind a Retry-After of hours stop waiting, and move on
            client.pace.gate.shut(exc)
        if source == "api":
            self._api_lost.set()

    async def probe_settled(self, kind: Kind) -> bool | None:
        """The batch probe's answer (see SpotifyClient.probe_settled); None when the Web API was given up first."""
        assert self.api is not None
        settled = asyncio.ensure_future(self.api.probe_settled(kind))
        lost = asyncio.ensure_future(self._api_lost.wait())
        try:
            await asyncio.wait({settled, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not settled.done():
                settled.cancel()
        return settled.result() if settled.done() and not settled.cancelled() else None

    def batch_allowed(self, kind: Kind) -> bool | None:
        """False when single-item jobs are the way (no API, or batches refused); None until a batch answered."""
        return False if self.api is None or not self.usable("api") else self.api.batch_allowed(kind)

    async def _answer(self, kind: Kind, item_id: str, answer: Answer, source: str, **kw: tuple[str, ...]) -> None:
        if answer.status != "failed":  # a malformed answer is a failure, not an answer
            self.served[(kind, source)] += 1
        status = 404 if answer.status == "not_found" else 200
        await self._emit(kind, item_id, answer, source, status, kw.get("names", ()))

    async def _fail(self, kind: Kind, item_id: str, exc: Exception, source: str, **kw: tuple[str, ...]) -> None:
        status = exc.status if isinstance(exc, RequestFailed) else 0
        await self._emit(kind, item_id, Answer("failed", why=str(exc)), source, status, kw.get("names", ()))

    # -- tracks ------------------------------------------------------------------------------------

    async def tracks(self, job: TrackJob) -> None:
        ids = [i for group in job.groups for i in group]
        if job.batch and self.usable("api"):
            assert self.api is not None
            try:
                found = await self.api.tracks(ids)
            except GiveUp as exc:
                self._lost("api", exc)  # the ids go to oEmbed, below
                found = None
            except RequestFailed as exc:
                for i in ids:
                    await self._fail("tracks", i, exc, "api")
                return
            if found is not None:
                for i in ids:
                    await self._answer("tracks", i, found[i], "api")
                return
            if job.probe and "api" not in self.given_up:  # refused: the producer queues the probe's groups again
                return
        for group in job.groups:
            if self.usable("oembed"):
                await self._tracks_by_oembed(group)
            else:
                await self._resolve_group(group)

    async def _tracks_by_oembed(self, ids: list[str]) -> None:
        assert self.oembed is not None
        for n, track_id in enumerate(ids):
            if not self.usable("oembed"):  # given up meanwhile: the Web API takes the rest
                await self._resolve_group(ids[n:])
                return
            try:
                answer = await self.oembed.image("tracks", track_id)
            except GiveUp as exc:
                self._lost("oembed", exc)
                await self._resolve_group(ids[n:])
                return
            except RequestFailed as exc:
                if not self.usable("api"):
                    await self._fail("tracks", track_id, exc, "oembed")
                else:  # oEmbed could not answer after its retries: the Web API may
                    await self._single_track(track_id)
                continue
            if answer.status == "failed" and self.usable("api"):
                await self._single_track(track_id)
            else:
                await self._answer("tracks", track_id, answer, "oembed")

    async def _single_track(self, track_id: str) -> dict[str, object] | None:
        """Fetch one track from the Web API and emit its answer; its album object when it has an image answer."""
        assert self.api is not None
        try:
            answer, album = await self.api.track(track_id)
        except GiveUp as exc:
            self._lost("api", exc)  # oEmbed already failed this one: it stays empty, the next run tries again
            await self._fail("tracks", track_id, exc, "api")
            return None
        except RequestFailed as exc:
            await self._fail("tracks", track_id, exc, "api")
            return None
        await self._answer("tracks", track_id, answer, "api")
        return album if answer.status in ("updated", "no_image") else None

    async def _resolve_group(self, ids: list[str]) -> None:
        """Tracks that probably share an album: fetch one, then its album's track list.

        A track gets the album's image only if Spotify lists it on that album; the others (another edition,
        a compilation) go round again with one of them as the next anchor. The album route is taken only
        when it costs fewer requests than fetching the rest one by one.
        """
        rest = list(ids)
        while rest:
            anchor = rest.pop(0)
            album = await self._single_track(anchor)
            if album is None or not rest:
                continue
            total = album.get("total_tracks")
            pages = math.ceil(total / ALBUM_PAGE) if isinstance(total, int) and total > 0 else None
            listing = None
            if isinstance(album.get("id"), str) and pages is not None and pages < len(rest):
                try:
                    listing = await self._album_listing(str(album["id"]), set(rest))
                except GiveUp as exc:
                    self._lost("api", exc)
                    listing = None
                except RequestFailed:
                    listing = None
            if listing is None:
                for track_id in rest:
                    await self._single_track(track_id)
                return
            listed, answer = listing
            for track_id in [i for i in rest if i in listed]:
                await self._answer("tracks", track_id, answer, "api")
            rest = [i for i in rest if i not in listed]

    async def _album_listing(self, album_id: str, wanted: set[str]) -> tuple[set[str], Answer] | None:
        """The album's track ids (pages fetched only until every wanted id is seen) and its image answer."""
        assert self.api is not None
        listing = album_listing(await self.api.album(album_id))
        if listing is None:
            return None
        listed, answer, next_offset = listing
        while next_offset is not None and not wanted <= listed:
            ids, next_offset = page_ids(await self.api.album_tracks(album_id, next_offset))
            listed |= ids
        return listed, answer

    # -- artists -----------------------------------------------------------------------------------

    async def artists(self, job: ArtistJob) -> None:
        names = dict(job.items)
        if job.batch and self.usable("api"):
            assert self.api is not None
            try:
                found = await self.api.artists(list(names))
            except GiveUp as exc:
                self._lost("api", exc)
                found = None
            except RequestFailed as exc:
                for artist_id, recovered in names.items():
                    await self._fail("artists", artist_id, exc, "api", names=recovered)
                return
            if found is not None:
                for artist_id, recovered in names.items():
                    await self._answer("artists", artist_id, found[artist_id], "api", names=recovered)
                return
            if job.probe and "api" not in self.given_up:
                return
        for artist_id, recovered in names.items():
            await self._single_artist(artist_id, recovered)

    async def _single_artist(self, artist_id: str, recovered: tuple[str, ...]) -> None:
        if self.usable("oembed"):
            assert self.oembed is not None
            try:
                answer = await self.oembed.image("artists", artist_id)
            except GiveUp as exc:
                self._lost("oembed", exc)  # the Web API takes it, below
            except RequestFailed as exc:
                if not self.usable("api"):
                    await self._fail("artists", artist_id, exc, "oembed", names=recovered)
                    return
            else:
                if answer.status != "failed" or not self.usable("api"):
                    await self._answer("artists", artist_id, answer, "oembed", names=recovered)
                    return
        assert self.api is not None
        try:
            answer = await self.api.artist(artist_id)
        except GiveUp as exc:
            self._lost("api", exc)
            await self._fail("artists", artist_id, exc, "api", names=recovered)
            return
        except RequestFailed as exc:
            await self._fail("artists", artist_id, exc, "api", names=recovered)
            return
        await self._answer("artists", artist_id, answer, "api", names=recovered)
