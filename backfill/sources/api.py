"""The Spotify Web API: batch and single-item calls, tokens, and finding out whether batches are allowed."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping, Sequence

import aiohttp

from backfill.records import Lookup
from backfill.sources import BATCH_SIZE
from backfill.sources.answers import Answer, album_listing, artist_answer, batch_entries, page_ids, track_answer
from backfill.sources.auth import TokenSource
from backfill.sources.http import (
    ClientOptions,
    Fatal,
    Json,
    Kind,
    PacedSource,
    Reply,
    RequestFailed,
    fetch,
    message_of,
)
from backfill.sources.pacing import Pace

ALBUM_PAGE = 50  # the most tracks /albums/{id}/tracks returns in one page
# Fresh tokens refused with 401 and no success in between: then the API is not going to take any. Each fetch
# counts, even when the token endpoint hands out the same string again.
_MAX_REFUSED_TOKENS = 3


class AccessDenied(Fatal):
    """A single-item call answered 403: the app may not use the API at all (e.g. its owner lost Premium)."""


class AuthRefused(Fatal):
    """Every access token is refused with 401, even fresh ones."""


class BatchForbidden(Exception):
    """A batch endpoint answered 403: this app is in Development Mode (since February 2026)."""


class _BatchSupport:
    """Whether this app may use a batch endpoint: learnt from the first batch call that gets an answer.

    The first call is a probe that the other batch calls of this kind wait for, since a 403 costs quota too.
    A probe that fails otherwise (5xx, garbage, no answer) leaves the question open, but later batches no
    longer wait: each finds out for itself.
    """

    def __init__(self) -> None:
        self.allowed: bool | None = None
        self.probed = asyncio.Event()  # set once the first probe has ended, whatever its answer
        self.lock = asyncio.Lock()


class SpotifyClient(PacedSource):
    name = "api"
    provider = "spotify"

    def __init__(
        self, session: aiohttp.ClientSession, tokens: TokenSource, api_url: str, options: ClientOptions
    ) -> None:
        super().__init__(session, Pace("api", options.rate, options.concurrency), options, api_url)
        self._tokens = tokens
        self._api = api_url.rstrip("/")
        self._batch: dict[Kind, _BatchSupport] = {"tracks": _BatchSupport(), "artists": _BatchSupport()}
        self._refused: set[int] = set()  # serials of the fetched tokens refused since the last success

    # -- public calls ----------------------------------------------------------------------------

    def batch_allowed(self, kind: Kind) -> bool | None:
        """True/False once a batch call of this kind has answered; None before."""
        return self._batch[kind].allowed

    async def probe_settled(self, kind: Kind) -> bool | None:
        """Wait until the first batch probe of this kind has ended; its answer (None if it failed otherwise)."""
        support = self._batch[kind]
        await support.probed.wait()
        return support.allowed

    async def tracks(self, ids: Sequence[str]) -> dict[str, Answer] | None:
        """Batch-fetch up to 50 tracks; None when this app may not use the batch endpoint."""
        return await self._batch_call("tracks", "/tracks", ids)

    async def artists(self, ids: Sequence[str]) -> dict[str, Answer] | None:
        return await self._batch_call("artists", "/artists", ids)

    async def track(self, track_id: str) -> tuple[Answer, Json | None]:
        """The track's image answer, and its album object (for album grouping) when it has one."""
        body = await self._get("tracks", self._api + f"/tracks/{track_id}", f"/tracks/{track_id}")
        answer = track_answer(body, track_id)
        album = body.get("album") if isinstance(body, dict) else None
        return answer, album if isinstance(album, dict) else None

    async def artist(self, artist_id: str) -> Answer:
        body = await self._get("artists", self._api + f"/artists/{artist_id}", f"/artists/{artist_id}")
        return artist_answer(body, artist_id)

    async def album(self, album_id: str) -> Json | None:
        return await self._get("tracks", self._api + f"/albums/{album_id}", f"/albums/{album_id}")

    async def album_tracks(self, album_id: str, offset: int) -> Json | None:
        path = f"/albums/{album_id}/tracks"
        return await self._get("tracks", self._api + path, path, {"limit": str(ALBUM_PAGE), "offset": str(offset)})

    # -- the Source interface (backfill.sources.base) ----------------------------------------------

    async def batch(self, kind: Kind, ids: Sequence[str]) -> dict[str, Answer] | None:
        """One batch call; a call that fails after its retries fails each of its ids (none goes elsewhere)."""
        try:
            return await (self.tracks(ids) if kind == "tracks" else self.artists(ids))
        except RequestFailed as exc:
            return {i: Answer.failure(exc) for i in ids}

    async def singles(
        self, kind: Kind, ids: Sequence[str], lookups: Mapping[str, Lookup] | None = None
    ) -> AsyncIterator[tuple[str, Answer]]:
        if kind == "artists":
            for artist_id in ids:
                try:
                    yield artist_id, await self.artist(artist_id)
                except RequestFailed as exc:
                    yield artist_id, Answer.failure(exc)
            return
        async for item in self._album_group(ids):
            yield item

    async def _album_group(self, ids: Sequence[str]) -> AsyncIterator[tuple[str, Answer]]:
        """Tracks that probably share an album: fetch one, then its album's track list.

        A track gets the album's image only if Spotify lists it on that album; the others (another edition,
        a compilation) go round again with one of them as the next anchor. The album route is taken only
        when it costs fewer requests than fetching the rest one by one.
        """
        rest = list(ids)
        while rest:
            anchor = rest.pop(0)
            try:
                answer, album = await self.track(anchor)
            except RequestFailed as exc:
                yield anchor, Answer.failure(exc)
                continue
            yield anchor, answer
            if answer.status not in ("updated", "no_image") or album is None or not rest:
                continue
            total = album.get("total_tracks")
            pages = math.ceil(total / ALBUM_PAGE) if isinstance(total, int) and total > 0 else None
            listing = None
            if isinstance(album.get("id"), str) and pages is not None and pages < len(rest):
                try:
                    listing = await self._album_listing(str(album["id"]), set(rest))
                except RequestFailed:
                    listing = None
            if listing is None:  # one by one, then
                for track_id in rest:
                    try:
                        yield track_id, (await self.track(track_id))[0]
                    except RequestFailed as exc:
                        yield track_id, Answer.failure(exc)
                return
            listed, album_answer = listing
            for track_id in [i for i in rest if i in listed]:
                yield track_id, album_answer
            rest = [i for i in rest if i not in listed]

    async def _album_listing(self, album_id: str, wanted: set[str]) -> tuple[set[str], Answer] | None:
        """The album's track ids (pages fetched only until every wanted id is seen) and its image answer."""
        listing = album_listing(await self.album(album_id))
        if listing is None:
            return None
        listed, answer, next_offset = listing
        while next_offset is not None and not wanted <= listed:
            ids, next_offset = page_ids(await self.album_tracks(album_id, next_offset))
            listed |= ids
        return listed, answer

    # -- batch detection -------------------------------------------------------------------------

    async def _batch_call(self, kind: Kind, path: str, ids: Sequence[str]) -> dict[str, Answer] | None:
        if len(ids) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} ids per batch call")
        support = self._batch[kind]
        if not support.probed.is_set():
            async with support.lock:  # the first caller probes; the others wait for it to end
                if not support.probed.is_set():
                    try:
                        return await self._try_batch(kind, path, ids)
                    finally:
                        support.probed.set()
        if support.allowed is False:
            return None
        return await self._try_batch(kind, path, ids)

    async def _try_batch(self, kind: Kind, path: str, ids: Sequence[str]) -> dict[str, Answer] | None:
        support = self._batch[kind]
        try:
            body = await self._get(kind, self._api + path, path, {"ids": ",".join(ids)})
        except BatchForbidden:
            support.allowed = False  # Development Mode, or access withdrawn mid-run: single items from now on
            return None
        if body is None:  # a 404 for the batch endpoint itself: not "no such id"
            raise RequestFailed(f"{path}: HTTP 404 (no such endpoint: is SPOTIFY_API_URL right?)", 404)
        support.allowed = True
        return batch_entries(body, kind, ids)

    # -- statuses only the Web API has ------------------------------------------------------------

    async def _send(self, url: str, params: dict[str, str] | None) -> tuple[Reply, object]:
        token, serial = await self._tokens.lease()
        headers = {"Authorization": f"Bearer {token}"}
        reply = await fetch(
            self._session, "GET", url, params=params, headers=headers, timeout=self._options.timeout, via=self._via
        )
        if reply.status in (200, 404):
            self._refused.clear()
        return reply, (token, serial)

    async def _judge(self, reply: Reply, path: str, sent_with: object) -> Json | bool | None:
        status = reply.status
        if status == 404:
            return None
        if status == 401:  # refresh on any 401, whatever the message says (its text changed in 2026)
            assert isinstance(sent_with, tuple)
            token, serial = sent_with
            self._refused.add(serial)
            if len(self._refused) > _MAX_REFUSED_TOKENS:
                raise AuthRefused(
                    f"Spotify refused {len(self._refused)} fresh access tokens in a row (HTTP 401 on {path}): "
                    "check that SPOTIFY_API_URL and SPOTIFY_TOKEN_URL belong to the same service"
                )
            self._tokens.invalidate(token, serial)
            return True
        if status == 403:
            if path in ("/tracks", "/artists"):
                raise BatchForbidden(path)
            detail = f": {message_of(reply.body)}" if message_of(reply.body) else ""
            # Every other request would be refused too: stop the run rather than fail item by item.
            raise AccessDenied(
                f"Spotify refused access (HTTP 403{detail}). Development Mode apps need their owner "
                "to have Spotify Premium; check the app in the developer dashboard"
            )
        raise RequestFailed(f"{path}: HTTP {status} {message_of(reply.body)}".rstrip(), status)
