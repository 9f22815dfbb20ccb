"""Producer → workers → writer.

- The producer streams pending ids from DuckDB into a bounded job queue (memory does not grow with the table).
- Workers turn jobs into Spotify requests through the client (which paces them and owns the Retry-After gate)
  and put one Outcome per id on a bounded result queue.
- One writer drains the results and applies them in transactions of many rows, at least every 2 seconds.
Data flows one way; a stop (quota, signal, fatal error) cancels the fetching side and lets the writer
commit what was already fetched.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from backfill.images import choose_image
from backfill.spotify import ALBUM_PAGE, BATCH_SIZE, Json, RateLimited, RequestFailed, SpotifyClient
from backfill.store import MissFilter, Outcome, Plan, Status, Store

T = TypeVar("T")
Stopped = Literal["rate_limited", "interrupted", "error"]
FLUSH_SECONDS = 2.0
FLUSH_ROWS = 10_000


class Progress(Protocol):
    def advance(self, kind: str, n: int) -> None: ...


@dataclass
class KindStats:
    pending: int = 0
    updated: int = 0
    no_image: int = 0
    not_found: int = 0
    failed: int = 0

    @property
    def remaining(self) -> int:
        """Pending ids this run did not reach (it was stopped)."""
        return self.pending - self.updated - self.no_image - self.not_found - self.failed


@dataclass
class RunResult:
    stats: dict[str, KindStats]
    requests: Counter[str] = field(default_factory=Counter)
    stopped: Stopped | None = None
    resume_after: datetime | None = None
    quota: bool = False
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class TrackJob:
    groups: list[list[str]]  # album groups (most-played track first); at most BATCH_SIZE ids in all


@dataclass(frozen=True, slots=True)
class ArtistJob:
    items: list[tuple[str, tuple[str, ...]]]  # (id, names whose id was recovered)


_DONE: Any = object()


class Pipeline:
    def __init__(
        self,
        store: Store,
        client: SpotifyClient,
        plan: Plan,
        *,
        kinds: tuple[str, ...] = ("tracks", "artists"),
        misses: MissFilter | None = None,
        workers: int = 8,
        progress: Progress | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._kinds = kinds
        self._misses = misses or MissFilter()
        self._workers = workers
        self._progress = progress
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="duckdb")
        self._jobs: asyncio.Queue[TrackJob | ArtistJob | None] = asyncio.Queue(maxsize=workers * 2)
        self._results: asyncio.Queue[Outcome] = asyncio.Queue(maxsize=FLUSH_ROWS * 2)
        self._stop = asyncio.Event()
        self.result = RunResult(
            stats={
                "tracks": KindStats(plan.tracks.pending if "tracks" in kinds else 0),
                "artists": KindStats(plan.artists.pending if "artists" in kinds else 0),
            },
            requests=client.requests,
        )

    # -- control -----------------------------------------------------------------------------------

    def halt(self, reason: Stopped) -> None:
        """Stop fetching (first reason wins); what was fetched is still written."""
        if self.result.stopped is None:
            self.result.stopped = reason
        self._stop.set()

    async def run(self) -> RunResult:
        try:
            fetchers = [asyncio.create_task(self._guard(self._produce()))]
            fetchers += [asyncio.create_task(self._guard(self._work())) for _ in range(self._workers)]
            writer = asyncio.create_task(self._guard(self._write()))
            all_fetched = asyncio.ensure_future(asyncio.wait(fetchers))
            stop = asyncio.create_task(self._stop.wait())
            try:
                await asyncio.wait({all_fetched, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in fetchers:
                    task.cancel()
                await asyncio.gather(*fetchers, return_exceptions=True)
                all_fetched.cancel()
                stop.cancel()
                if not writer.done():
                    await self._results.put(_DONE)
                await writer
        finally:
            self._db_thread.shutdown(wait=True)
        return self.result

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except RateLimited as exc:
            self.result.resume_after = exc.resume_after
            self.result.quota = exc.quota
            self.halt("rate_limited")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.result.error is None:
                self.result.error = exc
            self.halt("error")

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, fn, *args)

    # -- producer ----------------------------------------------------------------------------------

    async def _produce(self) -> None:
        try:
            producers = []
            if "tracks" in self._kinds:
                producers.append(self._produce_tracks())
            if "artists" in self._kinds and self._store.schema.has_artists:
                producers.append(self._produce_artists())
            # Both kinds at once, interleaved in the job queue, so artists do not wait for every track.
            await asyncio.gather(*producers)
        finally:
            for _ in range(self._workers):
                await self._jobs.put(None)

    async def _chunks(self, stream: Iterator[list[T]]) -> Any:
        try:
            while chunk := await self._db(next, stream, None):
                yield chunk
        finally:
            await self._db(stream.close)  # type: ignore[attr-defined]

    async def _track_groups(self) -> Any:
        """Album groups of pending track ids (consecutive rows sharing album and artist), at most 50 ids each."""
        group: list[str] = []
        key: tuple[str, str] | None = None
        async for chunk in self._chunks(self._store.stream_tracks(self._misses)):
            for track_id, album, artist in chunk:
                k = (album, artist) if album is not None and artist is not None else None
                if group and (k is None or k != key or len(group) >= BATCH_SIZE):
                    yield group
                    group = []
                group.append(track_id)
                key = k
        if group:
            yield group

    async def _produce_tracks(self) -> None:
        """Shape track jobs for the mode the client finds.

        The first job is a probe of exactly 50 ids; until it answers nothing else is queued (no worker
        could use it before then). With batch endpoints, every job is then exactly 50 ids, groups split
        freely; without them (Development Mode) jobs hold whole album groups.
        """
        groups: list[list[str]] = []
        size = 0
        allowed: bool | None = None

        async def emit(n: int) -> None:
            nonlocal groups, size, allowed
            job: list[list[str]] = []
            taken = 0
            while groups and taken < n:
                head = groups[0]
                if taken + len(head) <= n:
                    job.append(groups.pop(0))
                    taken += len(head)
                else:
                    job.append(head[: n - taken])
                    groups[0] = head[n - taken :]
                    taken = n
            size -= taken
            await self._jobs.put(TrackJob(job))
            if allowed is None:
                allowed = await self._client.probe_settled("tracks")

        async for group in self._track_groups():
            groups.append(group)
            size += len(group)
            while groups:
                if allowed is None or allowed:
                    if size < BATCH_SIZE:
                        break
                    await emit(BATCH_SIZE)
                elif size > BATCH_SIZE:
                    await emit(size - len(groups[-1]))  # whole groups only
                else:
                    break
        while groups:
            await emit(BATCH_SIZE if allowed is not False else size)  # size <= 50 here: whole groups

    async def _produce_artists(self) -> None:
        items: list[tuple[str, tuple[str, ...]]] = []
        async for chunk in self._chunks(self._store.stream_artists(self._misses)):
            for artist_id, names in chunk:
                items.append((artist_id, tuple(names or ())))
                if len(items) == BATCH_SIZE:
                    await self._jobs.put(ArtistJob(items))
                    items = []
        if items:
            await self._jobs.put(ArtistJob(items))

    # -- workers -----------------------------------------------------------------------------------

    async def _work(self) -> None:
        while (job := await self._jobs.get()) is not None:
            if isinstance(job, TrackJob):
                await self._fetch_tracks(job)
            else:
                await self._fetch_artists(job)

    async def _emit(self, kind: Literal["tracks", "artists"], item_id: str, status: Status, **kw: Any) -> None:
        await self._results.put(Outcome(kind, item_id, status, **kw))

    async def _emit_image(self, kind: Literal["tracks", "artists"], item_id: str, images: Any, **kw: Any) -> None:
        url = choose_image(images)
        await self._emit(kind, item_id, "updated" if url else "no_image", url=url, **kw)

    async def _emit_track(self, track_id: str, track: Json | None) -> None:
        if track is None:
            await self._emit("tracks", track_id, "not_found")
        else:
            await self._emit_image("tracks", track_id, (track.get("album") or {}).get("images"))

    async def _fetch_tracks(self, job: TrackJob) -> None:
        ids = [i for group in job.groups for i in group]
        try:
            found = await self._client.tracks(ids)
        except RequestFailed:
            for i in ids:
                await self._emit("tracks", i, "failed")
            return
        if found is not None:
            for i in ids:
                await self._emit_track(i, found[i])
            return
        # No batch endpoint (Development Mode): one request per item, saved by album grouping.
        for group in job.groups:
            await self._resolve_group(group)

    async def _single_track(self, track_id: str) -> Json | None:
        try:
            track = await self._client.track(track_id)
        except RequestFailed:
            await self._emit("tracks", track_id, "failed")
            return None
        await self._emit_track(track_id, track)
        return track

    async def _resolve_group(self, ids: list[str]) -> None:
        """Tracks that probably share an album: fetch one, then its album's track list.

        A track gets the album's image only if Spotify lists it on that album; the others (another edition,
        a compilation) go round again with one of them as the next anchor. The album route is taken only
        when it costs fewer requests than fetching the rest one by one.
        """
        rest = list(ids)
        while rest:
            anchor = rest.pop(0)
            track = await self._single_track(anchor)
            if track is None or not rest:
                continue
            album = track.get("album") or {}
            total = album.get("total_tracks")
            pages = math.ceil(total / ALBUM_PAGE) if isinstance(total, int) and total > 0 else None
            listing = None
            if album.get("id") and pages is not None and pages < len(rest):
                try:
                    listing = await self._album_listing(album["id"], set(rest))
                except RequestFailed:
                    listing = None
            if listing is None:
                for track_id in rest:
                    await self._single_track(track_id)
                return
            listed, images = listing
            for track_id in [i for i in rest if i in listed]:
                await self._emit_image("tracks", track_id, images)
            rest = [i for i in rest if i not in listed]

    async def _album_listing(self, album_id: str, wanted: set[str]) -> tuple[set[str], Any] | None:
        """The album's track ids (pages fetched only until every wanted id is seen) and its images."""
        album = await self._client.album(album_id)
        if album is None:
            return None
        listed: set[str] = set()
        page = album.get("tracks") or {}
        while True:
            items = [t for t in page.get("items") or [] if isinstance(t, dict)]
            listed.update(t["id"] for t in items if isinstance(t.get("id"), str))
            if wanted <= listed or not page.get("next") or not items:
                break
            offset = int(page.get("offset") or 0) + len(items)
            next_page = await self._client.album_tracks(album_id, offset)
            if next_page is None:
                break
            page = next_page
        return listed, album.get("images")

    async def _fetch_artists(self, job: ArtistJob) -> None:
        names = dict(job.items)
        try:
            found = await self._client.artists(list(names))
        except RequestFailed:
            for i in names:
                await self._emit("artists", i, "failed")
            return
        for artist_id, recovered in names.items():
            if found is not None:
                artist = found[artist_id]
            else:
                try:
                    artist = await self._client.artist(artist_id)
                except RequestFailed:
                    await self._emit("artists", artist_id, "failed")
                    continue
            if artist is None:
                await self._emit("artists", artist_id, "not_found")
            else:
                await self._emit_image("artists", artist_id, artist.get("images"), names=recovered)

    # -- writer ------------------------------------------------------------------------------------

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        buffer: list[Outcome] = []
        deadline = loop.time() + FLUSH_SECONDS
        done = False
        while not done:
            try:
                first = await asyncio.wait_for(self._results.get(), timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                first = None
            arrived = [] if first is None else [first]
            while not self._results.empty() and len(arrived) < FLUSH_ROWS:
                arrived.append(self._results.get_nowait())
            if arrived and arrived[-1] is _DONE:
                arrived.pop()
                done = True
            buffer.extend(arrived)
            self._count(arrived)
            if buffer and (done or len(buffer) >= FLUSH_ROWS or loop.time() >= deadline):
                await self._db(self._store.apply, buffer)
                buffer = []
            if loop.time() >= deadline:
                deadline = loop.time() + FLUSH_SECONDS

    def _count(self, outcomes: list[Outcome]) -> None:
        per_kind: Counter[str] = Counter()
        for o in outcomes:
            stats = self.result.stats[o.kind]
            setattr(stats, o.status, getattr(stats, o.status) + 1)
            per_kind[o.kind] += 1
        if self._progress is not None:
            for kind, n in per_kind.items():
                self._progress.advance(kind, n)
