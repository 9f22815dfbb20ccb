"""The producer's job shaping: pending ids, as the store streams them, made into jobs for the fetcher.

With the Web API the first job of each kind is a probe of up to 50 ids, and the next is shaped once the probe
has told whether batch endpoints answer: 50 ids a job if they do, else one album group (or artist) a job.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from backfill.engine.fetching import Fetcher, Job
from backfill.sources import BATCH_SIZE


async def track_groups(rows: AsyncIterator[tuple[str, int | None]]) -> AsyncIterator[list[str]]:
    """Album groups of pending track ids (consecutive rows sharing album and artist), at most 50 ids each."""
    group: list[str] = []
    key: int | None = None
    async for track_id, k in rows:
        if group and (k is None or k != key or len(group) >= BATCH_SIZE):
            yield group
            group = []
        group.append(track_id)
        key = k
    if group:
        yield group


async def track_jobs(fetch: Fetcher, source: AsyncIterator[list[str]]) -> AsyncGenerator[Job, None]:
    """Track jobs shaped for the way the fetcher finds, from album groups (see track_groups).

    With the Web API, the first job is a probe of up to 50 ids; the next is shaped once it has ended (no
    worker could use a track job before then). While batch endpoints answer (or the question is still
    open), each job is 50 ids, groups split freely. Without them (Development Mode, or no API at all) each
    job is one album group, and a refused probe's groups come again, one job each.
    """
    groups: list[list[str]] = []
    size = 0
    probed = False
    exhausted = False
    while True:
        batch = fetch.batch_allowed("tracks") is not False
        while not exhausted and ((batch and size < BATCH_SIZE) or not groups):
            try:
                group = await anext(source)
            except StopAsyncIteration:
                exhausted = True
                break
            groups.append(group)
            size += len(group)
        if not groups:
            return
        if not batch:
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
        probe = batch and not probed
        yield Job("tracks", job, batch=batch, probe=probe)
        if probe:
            probed = True
            if await fetch.probe_settled("tracks") is False:
                groups[:0] = job
                size += sum(map(len, job))


async def artist_jobs(fetch: Fetcher, rows: AsyncIterator[tuple[str, list[str] | None]]) -> AsyncGenerator[Job, None]:
    """Like the tracks: a 50-id probe first, then 50 ids a job, or one artist a job without batches."""
    items: list[tuple[str, tuple[str, ...]]] = []
    probed = False
    exhausted = False
    while True:
        batch = fetch.batch_allowed("artists") is not False
        want = BATCH_SIZE if batch else 1
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
        probe = batch and not probed
        yield Job("artists", [[i] for i, _ in job], batch=batch, probe=probe, names=dict(job))
        if probe:
            probed = True
            if await fetch.probe_settled("artists") is False:
                items = job + items
