"""The fallback phase of a run: after Spotify, each chosen provider in turn asked for the rows Spotify cannot fill.

One pipeline per provider, in priority order, over a store opened with the Fallback selection for that provider
alone: its plan queues the rows whose image is still NULL that Spotify cannot fill and that this provider has
not remembered a miss for, so a row the first provider filled is not asked of the second, and a row the first
could not confirm is. A provider that cannot be reached, is rate limited or answers nonsense ends its own phase
(its failures are counted, nothing is written or remembered for them); the next provider still gets its turn,
and what Spotify filled is already committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import aiohttp

from backfill.config import Settings
from backfill.engine.pipeline import Pipeline, Progress
from backfill.records import MissFilter, Plan, RunRecord
from backfill.sources.base import Lineup
from backfill.sources.lineup import open_fallbacks
from backfill.store.fallback import Fallback
from backfill.store.store import Store

OpenStore = Callable[[Fallback], Store]


@dataclasses.dataclass(frozen=True)
class FallbackRun:
    """One provider's phase: what it was to be asked, and how it went."""

    provider: str
    label: str
    plan: Plan
    record: RunRecord | None  # None: nothing to ask it
    db: dict[str, tuple[int, int]]  # per table (rows, rows with an image) after its phase


async def run_fallbacks(
    session: aiohttp.ClientSession,
    settings: Settings,
    open_store: OpenStore,
    kinds: tuple[str, ...],
    misses: MissFilter,
    *,
    workers: int,
    progress: Callable[[Plan], Progress] | None = None,
    started: Callable[[Pipeline], None] | None = None,
) -> list[FallbackRun]:
    runs: list[FallbackRun] = []
    for source in open_fallbacks(session, settings, settings.fallback):
        asked = tuple(k for k in kinds if k in source.kinds)
        store = await asyncio.to_thread(open_store, Fallback((source.provider,), misses))
        try:
            plan = await asyncio.to_thread(store.plan, asked)
            await asyncio.to_thread(store.release)
            if not asked or plan.tracks.pending + plan.artists.pending == 0:
                runs.append(FallbackRun(source.provider, source.label, plan, None, store.counts_now()))
                continue
            bars = progress(plan) if progress else None
            pipeline = Pipeline(
                store,
                plan,
                lineup=Lineup(single=(source,)),
                kinds=asked,
                workers=workers,
                progress=bars,
                by_lookup=True,
            )
            if started:
                started(pipeline)
            try:
                record = await pipeline.run()
            finally:
                if bars is not None:
                    bars.close()
            await asyncio.to_thread(store.release)
            db = store.counts_now()
        finally:
            store.close()
        runs.append(FallbackRun(source.provider, source.label, plan, record, db))
        if record.stopped == "interrupted":  # Ctrl-C or SIGTERM: no further provider
            break
    return runs
