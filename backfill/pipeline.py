"""Producer → workers → writer.

- The producer reads pending ids from the store's queue, page by page, into a bounded job queue (memory does
  not grow with the table).
- Workers turn jobs into Spotify requests through the client (which paces them and owns the Retry-After gate)
  and put one Outcome per id on a bounded result queue.
- One writer drains the results and applies them in transactions of many rows, at least every second.
Data flows one way; a stop (quota, signal, fatal error) cancels the fetching side and lets the writer
commit what was already fetched.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from backfill.images import choose_image
from backfill.spotify import ALBUM_PAGE, BATCH_SIZE, Json, RateLimited, RequestFailed, SpotifyClient
from backfill.store import Outcome, Plan, Status, Store

T = TypeVar("T")
Stopped = Literal["rate_limited", "interrupted", "error"]
# Commit at least this often, so a crash loses little. Short flushes also keep the writer's batches, and the
# memory they take, small (measured: 2 s → 1 s took 10 MB off the peak at 125k tracks).
FLUSH_SECONDS = 1.0
# Each UPDATE costs about one scan of the table, whatever the batch's size: big batches keep a million-row
# table above 100k rows/s (measured: 50k-row batches ~80k rows/s, 100k ~120k). Batches only get this big
# when the writer falls behind.
FLUSH_ROWS = 100_000
RESULTS_QUEUED = 10_000


class Progress(Protocol):
    def advance(self, kind: str, n: int) -> None: ...

    def waiting(self, seconds: float, reason: str) -> None: ...  # e.g. (22, "Retry-After"): all requests held

    def close(self) -> None: ...


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
    probe: bool = False  # the first batch call of the run: on 403 the producer queues these ids again


@dataclass(frozen=True, slots=True)
class ArtistJob:
    items: list[tuple[str, tuple[str, ...]]]  # (id, names whose id was recovered)
    probe: bool = False


_DONE: Any = object()


class Pipeline:
    def __init__(
        self,
        store: Store,
        client: SpotifyClient,
        plan: Plan,
        *,
        kinds: tuple[str, ...] = ("tracks", "artists"),
        workers: int = 8,
        progress: Progress | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._kinds = kinds
        self._workers = workers
        self._progress = progress
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="duckdb")
        self._jobs: asyncio.Queue[TrackJob | ArtistJob | None] = asyncio.Queue(maxsize=workers * 2)
        self._results: asyncio.Queue[Outcome] = asyncio.Queue(maxsize=RESULTS_QUEUED)
        self._stop = asyncio.Event()
        self._streams: list[Iterator[Any]] = []  # DuckDB result streams, closed before the DB thread ends
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
            streams, self._streams = self._streams, []
            self._db_thread.submit(lambda: [stream.close() for stream in streams])  # type: ignore[attr-defined]
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
        """Queue both kinds' jobs, alternating, so that neither waits for the other to be done.

        Each kind's jobs come out most-played first; alternating keeps Top Tracks and Top Artists
        filling side by side when a quota stops the run early.
        """
        sources: list[AsyncIterator[TrackJob | ArtistJob]] = []
        if "tracks" in self._kinds:
            sources.append(self._track_jobs())
        if "artists" in self._kinds and self._store.schema.has_artists:
            sources.append(self._artist_jobs())
        try:
            while sources:
                for source in list(sources):
                    try:
                        job = await anext(source)
                    except StopAsyncIteration:
                        sources.remove(source)
                        continue
                    await self._jobs.put(job)
        finally:
            for source in sources:
                await source.aclose()  # type: ignore[attr-defined]
        # Only after a normal end: a stopped run cancels the workers, and a full queue would never drain.
        for _ in range(self._workers):
            await self._jobs.put(None)

    async def _rows(self, stream: Iterator[list[T]]) -> AsyncIterator[T]:
        """Rows of a DuckDB stream, fetched chunk by chunk on the DB thread."""
        self._streams.append(stream)
        while chunk := await self._db(next, stream, None):
            for row in chunk:
                yield row

    async def _track_groups(self) -> AsyncIterator[list[str]]:
        """Album groups of pending track ids (consecutive rows sharing album and artist), at most 50 ids each."""
        group: list[str] = []
        key: int | None = None
        async for track_id, k in self._rows(self._store.stream_tracks()):
            if group and (k is None or k != key or len(group) >= BATCH_SIZE):
                yield group
                group = []
            group.append(track_id)
            key = k
        if group:
            yield group

    async def _track_jobs(self) -> AsyncIterator[TrackJob]:
        """Track jobs shaped for the mode the client finds.

        The first job is a probe of exactly 50 ids; the next is shaped once it has answered (no worker
        could use a track job before then). With batch endpoints every job is then 50 ids, groups split
        freely; without them (Development Mode) each job is one album group, and the probe's groups come
        again, one job each.
        """
        groups: list[list[str]] = []
        size = 0
        allowed: bool | None = None
        source = self._track_groups()
        exhausted = False
        while True:
            while not exhausted and ((allowed is not False and size < BATCH_SIZE) or not groups):
                try:
                    group = await anext(source)
                except StopAsyncIteration:
                    exhausted = True
                    break
                groups.append(group)
                size += len(group)
            if not groups:
                return
            if allowed is False:
                job = [groups.pop(0)]
            else:
                job, taken = [], 0
                while groups and taken < BATCH_SIZE:
                    head = groups[0]
                    if taken + len(head) <= BATCH_SIZE:
                        job.append(groups.pop(0))
                    else:  # split the group: batch calls do not care about albums
                        job.append(head[: BATCH_SIZE - taken])
                        groups[0] = head[BATCH_SIZE - taken :]
                    taken += len(job[-1])
            size -= sum(map(len, job))
            probe = allowed is None
            yield TrackJob(job, probe)
            if probe:
                allowed = await self._client.probe_settled("tracks")
                if allowed is False:
                    groups[:0] = job
                    size += sum(map(len, job))

    async def _artist_jobs(self) -> AsyncIterator[ArtistJob]:
        """Like the tracks: a 50-id probe first, then 50 ids a job, or one artist a job without batches."""
        items: list[tuple[str, tuple[str, ...]]] = []
        allowed: bool | None = None
        rows = self._rows(self._store.stream_artists())
        exhausted = False
        while True:
            want = 1 if allowed is False else BATCH_SIZE
            while not exhausted and len(items) < want:
                try:
                    artist_id, names = await anext(rows)
                except StopAsyncIteration:
                    exhausted = True
                    break
                items.append((artist_id, tuple(names or ())))
            if not items:
                return
            job, items = items[:want], items[want:]
            probe = allowed is None
            yield ArtistJob(job, probe)
            if probe:
                allowed = await self._client.probe_settled("artists")
                if allowed is False:
                    items = job + items

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
        elif not job.probe:  # the producer queues a refused probe's groups again, one job each
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
        if found is not None:
            for artist_id, recovered in names.items():
                await self._emit_artist(artist_id, found[artist_id], recovered)
        elif not job.probe:
            for artist_id, recovered in names.items():
                await self._single_artist(artist_id, recovered)

    async def _single_artist(self, artist_id: str, recovered: tuple[str, ...]) -> None:
        try:
            artist = await self._client.artist(artist_id)
        except RequestFailed:
            await self._emit("artists", artist_id, "failed")
            return
        await self._emit_artist(artist_id, artist, recovered)

    async def _emit_artist(self, artist_id: str, artist: Json | None, recovered: tuple[str, ...]) -> None:
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
            while not self._results.empty() and len(buffer) + len(arrived) < FLUSH_ROWS:
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
