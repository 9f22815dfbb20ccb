"""The producer's job shaping (backfill.engine.jobs) against a fetcher over fake sources: a 50-id probe first,
then 50 ids a job while batches answer (or nobody knows yet), one album group (or artist) a job once they are
refused, the refused probe's ids queued again exactly once, and nothing lost or duplicated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from itertools import pairwise
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from backfill.engine.fetching import Fetched, Fetcher, Job
from backfill.engine.jobs import artist_jobs, track_groups, track_jobs
from backfill.sources import BATCH_SIZE
from backfill.sources.base import Lineup
from tests.fakes import BatchSupport, FakeSource

T = TypeVar("T")
MODES: tuple[BatchSupport, ...] = ("allowed", "refused", "unknown", "none")
HANG_GUARD = 10.0


async def listed(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


def fetcher_for(mode: BatchSupport) -> tuple[Fetcher, list[Fetched]]:
    """A fetcher whose batch source behaves as `mode` says ("none": no batch source at all)."""
    emitted: list[Fetched] = []

    async def emit(fetched: Fetched) -> None:
        emitted.append(fetched)

    oembed = FakeSource("oembed")
    lineup = (
        Lineup(single=(oembed,)) if mode == "none" else Lineup(batch=(FakeSource("api", batch=mode),), single=(oembed,))
    )
    return Fetcher(lineup, emit), emitted


async def worked(fetch: Fetcher, jobs: AsyncGenerator[Job, None]) -> list[Job]:
    """Every job, each run to its end before the next is asked for (one worker)."""
    done = []
    async for job in jobs:
        done.append(job)
        await fetch.run(job)
    return done


def ids_of(jobs: Iterable[Job]) -> list[str]:
    return [i for job in jobs for i in job.ids]


def numbered(sizes: list[int]) -> list[list[str]]:
    """Album groups of these sizes, with ids unique across them."""
    groups, n = [], 0
    for size in sizes:
        groups.append([f"t{n + k}" for k in range(size)])
        n += size
    return groups


def probe_split(groups: list[list[str]]) -> list[list[str]]:
    """The groups as they come again after a refused probe: the probe took the first 50 ids, so the group it
    ended in (if it ended inside one) comes as two pieces."""
    out, taken = [], 0
    for group in groups:
        if taken < BATCH_SIZE < taken + len(group):
            out += [group[: BATCH_SIZE - taken], group[BATCH_SIZE - taken :]]
        else:
            out.append(group)
        taken += len(group)
    return out


# -- album groups ----------------------------------------------------------------------------------------

runs = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.integers(1, 120)), max_size=12)


@given(runs)
def test_album_groups_are_runs_of_one_key_at_most_50_ids_each(spec: list[tuple[int | None, int]]) -> None:
    rows = [(f"t{n}", key) for n, key in enumerate(key for key, length in spec for _ in range(length))]
    key_of = dict(rows)

    async def grouped() -> list[list[str]]:
        return [group async for group in track_groups(listed(rows))]

    groups = asyncio.run(grouped())
    assert [i for g in groups for i in g] == [i for i, _ in rows]  # every id, once, in order
    for group in groups:
        assert 1 <= len(group) <= BATCH_SIZE
        keys = {key_of[i] for i in group}
        assert len(keys) == 1 and (None not in keys or len(group) == 1)  # an unknown album: a group alone
    for g, h in pairwise(groups):  # a group ends only where it must
        assert key_of[h[0]] is None or key_of[h[0]] != key_of[g[-1]] or len(g) == BATCH_SIZE


# -- track jobs ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(MODES), st.lists(st.integers(1, BATCH_SIZE), max_size=14))
def test_track_jobs_take_the_shape_the_batch_answer_allows(mode: BatchSupport, sizes: list[int]) -> None:
    groups = numbered(sizes)
    every = [i for g in groups for i in g]

    async def shaped() -> tuple[list[Job], list[Fetched]]:
        fetch, emitted = fetcher_for(mode)
        return await worked(fetch, track_jobs(fetch, listed(groups))), emitted

    jobs, emitted = asyncio.run(shaped())
    assert sorted(f.item_id for f in emitted) == sorted(every)  # every id answered once: none lost, none twice
    if mode == "none":  # no batch source: one album group a job from the start
        assert [job.groups for job in jobs] == [[g] for g in groups]
        assert not any(job.batch or job.probe for job in jobs)
        return
    if not every:
        assert jobs == []
        return
    probe, rest = jobs[0], jobs[1:]
    assert probe.probe and probe.batch and probe.ids == every[:BATCH_SIZE]
    assert not any(job.probe for job in rest)
    if mode == "refused":  # its groups come again, once, one group a job, then the others
        assert not any(job.batch for job in rest)
        assert [job.groups for job in rest] == [[g] for g in probe_split(groups)]
    else:  # allowed, or still unknown: 50 ids a job, groups split freely, in order
        assert all(job.batch for job in rest)
        assert ids_of(jobs) == every
        assert all(len(job.ids) == BATCH_SIZE for job in jobs[:-1])


async def test_the_job_after_the_probe_waits_for_the_probes_answer() -> None:
    fetch, emitted = fetcher_for("refused")
    groups = numbered([30, 30, 10])
    jobs = track_jobs(fetch, listed(groups))
    probe = await anext(jobs)
    following = asyncio.ensure_future(anext(jobs))
    for _ in range(20):  # the loop runs on: while the probe is not answered, no job is shaped
        await asyncio.sleep(0)
    assert not following.done()
    await fetch.run(probe)
    after = await asyncio.wait_for(following, HANG_GUARD)
    assert after == Job("tracks", [groups[0]])  # refused: the probe's first group comes again, alone
    await jobs.aclose()
    assert emitted == []


# -- artist jobs ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(MODES), st.lists(st.one_of(st.none(), st.lists(st.sampled_from("xyz"), max_size=2)), max_size=130)
)
def test_artist_jobs_take_the_shape_the_batch_answer_allows(mode: BatchSupport, names: list[list[str] | None]) -> None:
    rows = [(f"a{n}", recovered) for n, recovered in enumerate(names)]
    every = [i for i, _ in rows]

    async def shaped() -> tuple[list[Job], list[Fetched]]:
        fetch, emitted = fetcher_for(mode)
        return await worked(fetch, artist_jobs(fetch, listed(rows))), emitted

    jobs, emitted = asyncio.run(shaped())
    assert sorted(f.item_id for f in emitted) == sorted(every)
    want_names = {i: tuple(n or ()) for i, n in rows}
    assert all(f.names == want_names[f.item_id] for f in emitted)
    for job in jobs:
        assert all(len(group) == 1 for group in job.groups)
        assert dict(job.names) == {i: want_names[i] for i in job.ids}
    if mode == "none":
        assert ids_of(jobs) == every and all(len(job.ids) == 1 and not (job.batch or job.probe) for job in jobs)
        return
    if not every:
        assert jobs == []
        return
    probe, rest = jobs[0], jobs[1:]
    assert probe.probe and probe.batch and probe.ids == every[:BATCH_SIZE]
    assert not any(job.probe for job in rest)
    if mode == "refused":  # the probe's artists again, once, one a job
        assert ids_of(rest) == every and all(len(job.ids) == 1 and not job.batch for job in rest)
    else:
        assert ids_of(jobs) == every and all(job.batch for job in rest)
        assert all(len(job.ids) == BATCH_SIZE for job in jobs[:-1])
