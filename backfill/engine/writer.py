"""The single writer: drains the results and writes them into the user's file in few, short holds.

- A batch is written once `every_seconds` have passed since the oldest result not yet written, or once
  `every_results` wait, whichever comes first, and when the run ends (a stop by Ctrl-C, SIGTERM or the quota
  included: what was fetched is written first).
- Each batch is one hold of the file: attach, one transaction per kind, detach. Nothing is read under it, and
  the file is free between batches.
- Tracks and artists are written in separate transactions: a write one kind cannot make (a constraint, say)
  does not take the other kind's work with it.
- Counts are what was committed: an answer counts (updated, no image, not found, an artist id recovered) once
  its transaction has committed.
- A file another process keeps past the lock timeout stops the fetching; what was fetched stays here and is
  tried once more at the end, within the same time budget (backfill.store.attach).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from backfill.errors import StoreError, first_line
from backfill.records import Outcome
from backfill.store.attach import Busy
from backfill.store.store import Store

if TYPE_CHECKING:
    from backfill.engine.pipeline import RunResult

DONE: Any = object()  # put on the result queue after the last result

Written = dict[str, int] | BaseException  # per kind: what apply() committed, or why it could not


class Advance(Protocol):
    def advance(self, kind: str, n: int) -> None: ...


class LockStop(Exception):
    """The run stopped fetching because the file stayed busy, but everything fetched was written."""


class Writer:
    def __init__(
        self,
        store: Store,
        result: RunResult,
        results: asyncio.Queue[Any],
        *,
        db: Callable[..., Awaitable[Any]],
        halt: Callable[[], None],
        every_seconds: float,
        every_results: int,
        progress: Advance | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._result = result
        self._results = results
        self._db = db  # runs a blocking call on the run's DuckDB thread
        self._halt = halt  # stop fetching
        self._seconds = every_seconds
        self._most = every_results
        self._progress = progress
        self._clock = clock
        self._busy: Busy | None = None  # why the last write could not be made
        self._stopped_by_lock = False
        self.batches: list[int] = []  # results per batch written: the holds of the file, for tests and benches

    async def run(self) -> None:
        buffer: list[Outcome] = []
        oldest: float | None = None  # when the oldest result in `buffer` arrived
        done = blocked = False
        while not done:
            timeout = None if oldest is None else max(0.0, oldest + self._seconds - self._clock())
            try:
                first = await asyncio.wait_for(self._results.get(), timeout)
            except TimeoutError:
                first = None
            arrived = [] if first is None else [first]
            while not self._results.empty() and (blocked or len(buffer) + len(arrived) < self._most):
                arrived.append(self._results.get_nowait())
            if arrived and arrived[-1] is DONE:
                arrived.pop()
                done = True
            if arrived and oldest is None:
                oldest = self._clock()
            buffer.extend(arrived)
            self._arrived(arrived)
            due = done or len(buffer) >= self._most or (oldest is not None and self._clock() >= oldest + self._seconds)
            if buffer and due and not blocked:
                blocked = not await self._write(buffer)
                oldest = None if not buffer else oldest
        if buffer and blocked:
            await self._last_try(buffer)

    async def _write(self, buffer: list[Outcome]) -> bool:
        """Write the buffer in one hold; what could not be written for a busy file stays in it (False then)."""
        written, released = await self._db(self._commit, list(buffer))
        buffer.clear()
        busy: Busy | None = None
        for kind, part, got in written:
            if isinstance(got, Busy):
                buffer.extend(part)
                busy = got
            elif isinstance(got, BaseException):
                self._result.stats[kind].unwritten += len(part)
                self._fail(
                    StoreError(
                        f"could not write the {kind} fetched into {self._store.path}: {first_line(got)}; "
                        f"{len(part):,} fetched {kind} were not written (the next run asks for them again)"
                    )
                )
            else:
                self._committed(kind, part, got)
        if released is not None:
            self._fail(StoreError(f"database error after a write: {first_line(released)}"))
        if busy is not None:
            self._busy = busy
            if self._result.stopped is None:  # nothing more to fetch into a file we cannot write
                self._stopped_by_lock = True
                self._halt()
            return False
        self.batches.append(sum(len(part) for _, part, got in written if not isinstance(got, BaseException)))
        return True

    async def _last_try(self, buffer: list[Outcome]) -> None:
        """After the fetching stopped: one more attempt, within what is left of the lock timeout."""
        waiting = len(buffer)
        await self._write(buffer)
        assert self._busy is not None
        if buffer:  # still busy
            for o in buffer:
                self._result.stats[o.kind].unwritten += 1
            self._fail(
                StoreError(
                    f"{self._busy.what}: stopped; {len(buffer):,} fetched results were not written (the next run "
                    "asks for them again), everything written before stays"
                ),
                replace=True,
            )
        elif any(s.remaining for s in self._result.stats.values()):
            self._fail(
                LockStop(
                    f"{self._busy.what}: stopped fetching; the {waiting:,} results fetched were written once it "
                    "was free, and the next run continues"
                ),
                replace=True,
            )
        elif self._stopped_by_lock and self._result.error is None:  # all fetched, all written: a normal end
            self._result.stopped = None

    def _commit(self, buffer: list[Outcome]) -> tuple[list[tuple[str, list[Outcome], Written]], BaseException | None]:
        """On the DuckDB thread: each kind in its own transaction, in one hold of the file, then let go of it."""
        written: list[tuple[str, list[Outcome], Written]] = []
        try:
            for kind in ("tracks", "artists"):
                part = [o for o in buffer if o.kind == kind]
                if part:
                    try:
                        written.append((kind, part, self._store.apply(part)))
                    except (duckdb.Error, StoreError) as exc:  # rolled back: the other kind's commit stands
                        written.append((kind, part, exc))
        finally:
            try:
                self._store.release()
            except duckdb.Error as exc:  # the commits stand (DuckDB's log replays them): say it, keep counting
                return written, exc
        return written, None

    def _committed(self, kind: str, part: list[Outcome], filled: dict[str, int]) -> None:
        stats = self._result.stats[kind]
        stats.updated += filled.get(kind, 0)
        stats.recovered += filled.get("recovered", 0)
        for o in part:
            if o.status == "updated":
                stats.found += 1
            elif o.status == "no_image":
                stats.no_image += 1
            elif o.status == "not_found":
                stats.not_found += 1
            elif o.status == "unconfirmed":
                stats.unconfirmed += 1

    def _arrived(self, outcomes: list[Outcome]) -> None:
        """Failures count as they come (nothing of them is written); the bars show what was fetched."""
        per_kind: Counter[str] = Counter()
        for o in outcomes:
            if o.status == "failed":
                self._result.stats[o.kind].failed += 1
            per_kind[o.kind] += 1
        if self._progress is not None:
            for kind, n in per_kind.items():
                self._progress.advance(kind, n)

    def _fail(self, exc: BaseException, *, replace: bool = False) -> None:
        if self._result.error is None or replace:
            self._result.error = exc
        self._result.stopped = self._result.stopped or "error"
        self._halt()
