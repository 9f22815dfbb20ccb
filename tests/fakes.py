"""An in-process image source for engine tests: scripted answers, no HTTP, the real pace and gate.

`FakeSource` implements backfill.sources.base.Source. Each id answers what its script says (by default an
image URL naming the source, see `image_url`); `lose_at` raises a GiveUp exception at a chosen request; `batch`
says how its batch calls behave, with the Web API's probe rule: the first batch call of a kind is the probe,
the others of that kind wait for it, and `probe_settled` returns once it has ended. Every request goes through
a real `Pace`, so a gate shut by the engine makes later requests raise, as a real source's do.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from backfill.records import Lookup
from backfill.sources.answers import Answer
from backfill.sources.base import LostSource
from backfill.sources.http import Kind
from backfill.sources.pacing import Pace

# "allowed": batch calls answer (known once the probe has ended); "refused": the probe and every later batch
# call answer None, as a Development Mode app's do; "unknown": batch calls fail every id (a 5xx after its
# retries), so whether batches are allowed stays unknown; "none": a single-item source, no batch calls at all.
BatchSupport = Literal["allowed", "refused", "unknown", "none"]
# Fast enough that the limiter never makes a test wait, slow enough to be a real AsyncLimiter.
RATE = 1_000_000.0


def image_url(source: str, item_id: str) -> str:
    """The URL a fake source answers for an id it has no script for."""
    return f"https://i.fake.test/{source}/{item_id}"


def failed(why: str = "scripted failure", http_status: int = 503) -> Answer:
    return Answer("failed", why=why, http_status=http_status)


@dataclass(frozen=True, slots=True)
class Call:
    """One thing the engine asked: a batch call, or a singles() stream for these ids."""

    how: Literal["batch", "singles"]
    kind: Kind
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Request:
    """One request the fake "sends": a whole batch call, or one id of a singles() stream. `number` counts
    from 1 over the source's requests of every kind."""

    number: int
    how: Literal["batch", "single"]
    kind: Kind
    ids: tuple[str, ...]


Hook = Callable[[Request], Awaitable[None]]


class _Probe:
    def __init__(self) -> None:
        self.allowed: bool | None = None
        self.started = False
        self.ended = asyncio.Event()


class FakeSource:
    def __init__(
        self,
        name: str,
        script: Mapping[str, Answer] | None = None,
        *,
        batch: BatchSupport = "none",
        lose_at: tuple[int, LostSource] | None = None,
        before_request: Hook | None = None,
        concurrency: int = 8,
        provider: str = "spotify",
    ) -> None:
        self.name = name
        self.provider = provider
        self.kinds: frozenset[Kind] = frozenset(("tracks", "artists"))
        self.pace = Pace(name, RATE, concurrency)
        self.requests: Counter[str] = Counter()
        self.calls: list[Call] = []  # what the engine asked, in order
        self._script = dict(script or {})
        self._support = batch
        self._lose_at = lose_at
        self._before = before_request
        self._sent = 0
        self._probes: dict[Kind, _Probe] = {"tracks": _Probe(), "artists": _Probe()}

    @property
    def label(self) -> str:
        return f"the fake {self.name}"

    def answer(self, item_id: str) -> Answer:
        """What this source answers for `item_id`."""
        return self._script.get(item_id) or Answer("updated", image_url(self.name, item_id))

    # -- the Source interface ----------------------------------------------------------------------

    def batch_allowed(self, kind: Kind) -> bool | None:
        return False if self._support == "none" else self._probes[kind].allowed

    async def probe_settled(self, kind: Kind) -> bool | None:
        if self._support == "none":
            return False
        await self._probes[kind].ended.wait()
        return self.batch_allowed(kind)

    async def batch(self, kind: Kind, ids: Sequence[str]) -> dict[str, Answer] | None:
        self.calls.append(Call("batch", kind, tuple(ids)))
        if self._support == "none":
            return None
        probe = self._probes[kind]
        if probe.started:
            await probe.ended.wait()  # the probe's answer first: a refusal costs a request too
            return None if probe.allowed is False else await self._batch_request(kind, ids)
        probe.started = True
        try:
            return await self._batch_request(kind, ids)
        finally:
            probe.ended.set()

    async def singles(
        self, kind: Kind, ids: Sequence[str], lookups: Mapping[str, Lookup] | None = None
    ) -> AsyncIterator[tuple[str, Answer]]:
        self.calls.append(Call("singles", kind, tuple(ids)))
        for item_id in ids:
            await self._request("single", kind, (item_id,))
            yield item_id, self.answer(item_id)

    # -- requests ------------------------------------------------------------------------------------

    async def _batch_request(self, kind: Kind, ids: Sequence[str]) -> dict[str, Answer] | None:
        await self._request("batch", kind, tuple(ids))
        if self._support == "refused":
            self._probes[kind].allowed = False
            return None
        if self._support == "unknown":
            return {i: failed("batch call failed after its retries") for i in ids}
        self._probes[kind].allowed = True
        return {i: self.answer(i) for i in ids}

    async def _request(self, how: Literal["batch", "single"], kind: Kind, ids: tuple[str, ...]) -> None:
        """One request: its turn at the pace (raises once the gate is shut), the hook, then `lose_at`."""
        async with self.pace.turn():
            self._sent += 1
            self.requests[kind] += 1
            request = Request(self._sent, how, kind, ids)
        if self._before is not None:
            await self._before(request)
        if self._lose_at is not None and self._lose_at[0] == request.number:
            raise self._lose_at[1]
