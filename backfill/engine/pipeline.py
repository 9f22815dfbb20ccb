"""Producer → workers → writer.

- The producer reads pending ids from the store's queue, page by page, shapes them into jobs (jobs.py) and
  puts them on a bounded job queue (memory does not grow with the table).
- Workers turn jobs into Spotify requests through the client (which paces them and owns the Retry-After gate)
  and put one Outcome per id on a bounded result queue.
- One writer drains the results and writes them in a few short holds of the file (backfill.engine.writer).
Data flows one way; a stop (quota, signal, fatal error) cancels the fetching side and lets the writer
commit what was already fetched.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from backfill.config import DEFAULT_WRITE_RESULTS, DEFAULT_WRITE_SECONDS
from backfill.engine.fetching import Fetched, Fetcher, Job
from backfill.engine.jobs import artist_jobs, track_groups, track_jobs
from backfill.engine.watchdog import NothingWorks, Watchdog
from backfill.engine.writer import DONE, Writer
from backfill.kinds import KINDS, Kind
from backfill.records import KindCounts, PaceFigures, RunRecord, Stopped
from backfill.sources.base import Lineup, LostSource
from backfill.sources.http import RateLimited
from backfill.sources.pacing import Pace
from backfill.store.store import Outcome, Plan, Store

T = TypeVar("T")
RESULTS_QUEUED = 10_000


class Progress(Protocol):
    def advance(self, kind: str, n: int) -> None: ...

    def waiting(self, seconds: float, reason: str) -> None: ...  # e.g. (22, "Retry-After"): all requests held

    def close(self) -> None: ...


@dataclass
class KindStats:
    pending: int = 0
    updated: int = 0  # image rows committed (not ids fetched: a row filled meanwhile by another is not counted)
    no_image: int = 0  # these three: answers whose transaction committed (backfill.engine.writer)
    not_found: int = 0
    unconfirmed: int = 0  # fallbacks: candidates found, none confirmed by the history (remembered)
    found: int = 0  # ids with an image
    failed: int = 0
    recovered: int = 0  # artist rows given the id Spotify confirmed (committed)
    unwritten: int = 0  # answers fetched whose write failed: the next run asks again

    @property
    def answered(self) -> int:
        return self.found + self.no_image + self.not_found + self.unconfirmed + self.failed

    @property
    def remaining(self) -> int:
        """Pending ids this run did not reach (it was stopped)."""
        return self.pending - self.answered


@dataclass
class RunResult:
    stats: dict[str, KindStats]
    requests: dict[str, Counter[str]] = field(default_factory=dict)  # source → kind → requests sent
    served: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, source) → items answered
    paces: dict[str, Pace] = field(default_factory=dict)  # source → its pace (rates reached, for the summary)
    stopped: Stopped | None = None
    resume_after: datetime | None = None
    quota: bool = False
    rate_limited_by: str | None = None  # the source whose wait stopped the run
    error: BaseException | None = None
    diagnosis: str = ""  # what the not-found and failed answers had in common
    unremembered: int = 0  # "not found" answers not remembered, since nothing else worked either
    # source → why, while the other did its work
    given_up: dict[str, LostSource] = field(default_factory=dict)

    def freeze(self) -> RunRecord:
        """The run as it ended, for the reports: counts copied, paces reduced to their figures."""
        return RunRecord(
            stats={k: KindCounts(**dataclasses.asdict(s)) for k, s in self.stats.items()},
            requests={src: dict(per_kind) for src, per_kind in self.requests.items()},
            served=dict(self.served),
            paces={src: PaceFigures(p.ceiling, p.lowest, p.rate, p.adaptive) for src, p in self.paces.items()},
            given_up=dict(self.given_up),
            stopped=self.stopped,
            resume_after=self.resume_after,
            quota=self.quota,
            rate_limited_by=self.rate_limited_by,
            error=self.error,
            nothing_works=isinstance(self.error, NothingWorks),
            diagnosis=self.diagnosis,
            unremembered=self.unremembered,
        )


class Pipeline:
    def __init__(
        self,
        store: Store,
        plan: Plan,
        *,
        lineup: Lineup,
        kinds: tuple[str, ...] = ("tracks", "artists"),
        workers: int = 8,
        progress: Progress | None = None,
        write_seconds: float = DEFAULT_WRITE_SECONDS,
        write_results: int = DEFAULT_WRITE_RESULTS,
        by_lookup: bool = False,
    ) -> None:
        """`by_lookup`: the store's queue is a fallback's (rows asked by what the history says of them)."""
        self._by_lookup = by_lookup
        self._store = store
        self._fetch = Fetcher(lineup, self._emit)
        self._watch = Watchdog()
        self._kinds = kinds
        self._workers = workers
        self._progress = progress
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="duckdb")
        self._jobs: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=workers * 2)
        self._results: asyncio.Queue[Any] = asyncio.Queue(maxsize=RESULTS_QUEUED)
        self._stop = asyncio.Event()
        self._streams: list[Generator[Any, None, None]] = []  # DuckDB result streams, closed before the DB thread ends
        self.result = RunResult(
            stats={
                "tracks": KindStats(plan.tracks.pending if "tracks" in kinds else 0),
                "artists": KindStats(plan.artists.pending if "artists" in kinds else 0),
            },
            requests={s.name: s.requests for s in lineup.all},
            served=self._fetch.served,
            given_up=self._fetch.given_up,
            paces={s.name: s.pace for s in lineup.all},
        )

        # -- control -----------------------------------------------------------------------------------

        self.writer = Writer(
            store,
            self.result,
            self._results,
            db=self._db,
            halt=lambda: self.halt("error"),
            every_seconds=write_seconds,
            every_results=write_results,
            progress=progress,
        )

    def halt(self, reason: Stopped) -> None:
        """Stop fetching (first reason wins); what was fetched is still written."""
        if self.result.stopped is None:
            self.result.stopped = reason
        self._stop.set()

    async def run(self) -> RunRecord:
        try:
            fetchers = [asyncio.create_task(self._guard(self._produce()))]
            fetchers += [asyncio.create_task(self._guard(self._work())) for _ in range(self._workers)]
            writer = asyncio.create_task(self._guard(self.writer.run()))
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
                    if self.result.stopped is None:  # a normal end: a few misses and nothing else are real
                        for outcome in self._watch.settle():
                            await self._results.put(outcome)
                    await self._results.put(DONE)
                await writer
        finally:
            streams, self._streams = self._streams, []

            def close_streams() -> None:
                for stream in streams:
                    stream.close()

            self._db_thread.submit(close_streams)
            self._db_thread.shutdown(wait=True)
        self._settle_watchdog()
        return self.result.freeze()

    def _settle_watchdog(self) -> None:
        """Misses held back because nothing worked are counted, but not remembered (never written)."""
        for outcome in self._watch.held:
            self.result.stats[outcome.kind].not_found += 1
        self.result.unremembered = len(self._watch.held)
        self.result.diagnosis = self._watch.diagnosis()

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except RateLimited as exc:
            self.result.resume_after = exc.resume_after
            self.result.quota = exc.quota
            self.result.rate_limited_by = exc.source
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
        sources: list[AsyncGenerator[Job, None]] = []
        if self._by_lookup:  # a fallback's queue: one row a job, asked by what the history says of it
            kinds = [KINDS[k] for k in self._kinds if k == "tracks" or self._store.schema.has_artists]
            sources += [self._lookup_jobs(kind) for kind in kinds]
        else:
            if "tracks" in self._kinds:
                sources.append(track_jobs(self._fetch, track_groups(self._rows(self._store.stream_tracks()))))
            if "artists" in self._kinds and self._store.schema.has_artists:
                sources.append(artist_jobs(self._fetch, self._rows(self._store.stream_artists())))
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
                await source.aclose()
        # Only after a normal end: a stopped run cancels the workers, and a full queue would never drain.
        for _ in range(self._workers):
            await self._jobs.put(None)

    async def _lookup_jobs(self, kind: Kind) -> AsyncGenerator[Job, None]:
        async for ask in self._rows(self._store.stream_lookups(kind.log)):
            key = ask.lookup.key
            yield Job(kind.name, [[key]], lookups={key: ask.lookup})

    async def _rows(self, stream: Generator[list[T], None, None]) -> AsyncIterator[T]:
        """Rows of a DuckDB stream, fetched chunk by chunk on the DB thread."""
        self._streams.append(stream)
        while chunk := await self._db(next, stream, None):
            for row in chunk:
                yield row

    # -- workers -----------------------------------------------------------------------------------

    async def _work(self) -> None:
        while (job := await self._jobs.get()) is not None:
            await self._fetch.run(job)

    async def _emit(self, fetched: Fetched) -> None:
        answer = fetched.answer
        outcome = Outcome(
            fetched.kind,
            fetched.item_id,
            answer.status,
            url=answer.url,
            names=fetched.names,
            source=fetched.provider,
            provider_id=answer.provider_id,
            confirmed_by=answer.confirmed_by,
            candidates=answer.candidates,
        )
        for passed in self._watch.see(outcome, fetched.http_status, fetched.source):
            await self._results.put(passed)
