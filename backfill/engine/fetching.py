"""Workers' side of the pipeline: turning one job into answers, from the cheapest source that works.

The line-up (backfill.sources.base.Lineup) says the order: a batch source's batch calls where it may use them
(the Web API's 50 ids a call), else the single-item sources in turn (oEmbed, then the Web API's single calls),
each asked only for what the ones before it could not answer. A source given up (a wait past --max-wait,
unreachable, mute, not the service) hands its remaining work on; the run stops only when none is left.
This module knows no concrete source.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from backfill.records import Lookup
from backfill.sources.answers import Answer
from backfill.sources.base import GiveUp, Lineup, LostSource, Source
from backfill.sources.http import Kind


@dataclass(frozen=True, slots=True)
class Job:
    """Work for one worker: ids of one kind, in groups (tracks: one album group each; artists: one id each)."""

    kind: Kind
    groups: list[list[str]]  # at most one batch's worth of ids in all
    batch: bool = False  # one batch call for all of them
    probe: bool = False  # the first batch call of the run: when batches are refused the producer queues it again
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # artists: names whose id was recovered
    lookups: Mapping[str, Lookup] = field(default_factory=dict)  # for fallback providers: the rows asked about

    @property
    def ids(self) -> list[str]:
        return [i for group in self.groups for i in group]


@dataclass(frozen=True, slots=True)
class Fetched:
    """One id's answer, and who gave it: what a worker hands to the writer's side."""

    kind: Kind
    item_id: str
    answer: Answer
    source: str
    provider: str = "spotify"  # whose image it is (backfill.sources.base.Source.provider)
    names: tuple[str, ...] = ()  # artists: the names whose id this answer confirms

    @property
    def http_status(self) -> int:
        """The HTTP status behind it: 404 for a miss, the last one for a failure, 200 for an answer."""
        if self.answer.status == "not_found":
            return 404
        return self.answer.http_status if self.answer.status == "failed" else 200


Emit = Callable[[Fetched], Awaitable[None]]


class Fetcher:
    def __init__(self, lineup: Lineup, emit: Emit) -> None:
        self.lineup = lineup
        self._emit = emit
        self.served: Counter[tuple[str, str]] = Counter()  # (kind, source) → items answered (failures are not)
        self.given_up: dict[str, LostSource] = {}  # source → why, while the others went on
        self._lost_event = {s.name: asyncio.Event() for s in lineup.all}  # a probe of a lost source: not awaited

    def usable(self, source: Source) -> bool:
        return source.name not in self.given_up

    def _lose(self, source: Source, exc: LostSource) -> None:
        """Give `source` up for the rest of the run; raises `exc` (the run stops) when no other source is left."""
        if not any(self.usable(other) for other in self.lineup.all if other is not source):
            raise exc
        self.given_up.setdefault(source.name, exc)
        source.pace.gate.shut(exc)  # its workers parked behind a Retry-After of hours stop waiting, and move on
        self._lost_event[source.name].set()

    # -- batches -------------------------------------------------------------------------------------

    def _batch_source(self, kind: Kind) -> Source | None:
        return next((s for s in self.lineup.batch if self.usable(s) and s.batch_allowed(kind) is not False), None)

    def batch_allowed(self, kind: Kind) -> bool | None:
        """False when single-item jobs are the way (no batch source, or batches refused); None until known."""
        source = self._batch_source(kind)
        return False if source is None else source.batch_allowed(kind)

    async def probe_settled(self, kind: Kind) -> bool | None:
        """The batch probe's answer; None when the batch source was given up first (or there is none)."""
        # The first usable batch source, whether or not it has answered yet: its refusal is what is asked for.
        source = next((s for s in self.lineup.batch if self.usable(s)), None)
        if source is None:
            return None
        settled = asyncio.ensure_future(source.probe_settled(kind))
        lost = asyncio.ensure_future(self._lost_event[source.name].wait())
        try:
            await asyncio.wait({settled, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not settled.done():
                settled.cancel()
        return settled.result() if settled.done() and not settled.cancelled() else None

    # -- one job -------------------------------------------------------------------------------------

    async def run(self, job: Job) -> None:
        if job.batch and (source := self._batch_source(job.kind)) is not None:
            ids = job.ids
            try:
                found = await source.batch(job.kind, ids)
            except GiveUp as exc:
                self._lose(source, exc)  # the ids go to the single-item sources, below
                found = None
            if found is not None:
                for item_id in ids:
                    await self._answer(job, item_id, found[item_id], source)
                return
            if job.probe and self.usable(source):  # refused: the producer queues the probe's groups again
                return
        for group in job.groups:
            await self._singles(job, group)

    async def _singles(self, job: Job, ids: Sequence[str]) -> None:
        """Each single-item source in turn, asked for what the ones before it failed or did not reach."""
        pending = list(ids)
        failures: dict[str, tuple[Source, Answer]] = {}  # the last failure of each id, emitted if none answers
        for n, source in enumerate(self.lineup.single):
            if not pending:
                return
            if not self.usable(source):
                continue
            retry: list[str] = []
            answered: set[str] = set()
            try:
                async for item_id, answer in source.singles(job.kind, pending, job.lookups):
                    answered.add(item_id)
                    if answer.status == "failed" and self._has_after(n):
                        retry.append(item_id)  # the next source may answer it
                        failures[item_id] = source, answer
                    else:
                        await self._answer(job, item_id, answer, source)
            except GiveUp as exc:
                self._lose(source, exc)
                for item_id in pending:
                    if item_id not in answered:
                        retry.append(item_id)
                        failures[item_id] = source, Answer.failure(exc)
            pending = retry
        for item_id in pending:  # every source that could answer them failed, or was given up
            source, answer = failures.get(item_id) or (self.lineup.all[0], Answer("failed", why="no source left"))
            await self._answer(job, item_id, answer, source)

    def _has_after(self, n: int) -> bool:
        return any(self.usable(s) for s in self.lineup.single[n + 1 :])

    async def _answer(self, job: Job, item_id: str, answer: Answer, source: Source) -> None:
        if answer.status != "failed":  # a malformed answer is a failure, not an answer
            self.served[(job.kind, source.name)] += 1
        await self._emit(Fetched(job.kind, item_id, answer, source.name, source.provider, job.names.get(item_id, ())))
