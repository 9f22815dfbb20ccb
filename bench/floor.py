"""Scenario 5, the floor: a bare client fetching the same responses from the emulator, to split the emulator's
cost from the tool's. Run after `scale` to get the comparison with the tool's wall time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from backfill.sources import BATCH_SIZE
from backfill.store.store import Store
from bench import scale
from bench.common import ChildResult, Context, child_env, run_module, say, serve
from standin.sample import SampleSpec, World

CONCURRENCY = scale.CONCURRENCY  # the same number of connections as the tool
SHARE_TARGET = 0.5  # the emulator's floor should be well under the tool's time for it not to be the limit
SINGLE_NEEDED = 20.0  # req/s the throughput scenario's server admits


def pending_ids(db: Path) -> tuple[list[str], list[str]]:
    """(track ids, artist ids) the tool would fetch for this history, in its own order (its plan's queues)."""
    store = Store.open(db, read_only=True)
    try:
        store.plan()
        return (
            [row[0] for page in store.stream_tracks() for row in page],
            [row[0] for page in store.stream_artists() for row in page],
        )
    finally:
        store.close()


def batch_targets(db: Path) -> list[str]:
    """The tool's batch-mode requests for this history, cut into jobs the way its producer does (exactly 50 ids
    per job, across stream pages)."""
    targets: list[str] = []
    for path, ids in zip(("/v1/tracks?ids=", "/v1/artists?ids="), pending_ids(db), strict=True):
        targets += [path + ",".join(ids[i : i + BATCH_SIZE]) for i in range(0, len(ids), BATCH_SIZE)]
    return targets


def _fetch(
    ctx: Context, world: World, targets: list[str], name: str, **settings: object
) -> tuple[dict[str, Any], float, ChildResult]:
    listing = ctx.workdir / f"floor-{name}.txt"
    listing.write_text("\n".join(targets) + "\n", encoding="utf-8")
    with serve(world, **settings) as emulator:
        args = [listing, "--concurrency", CONCURRENCY, "--base", emulator.base_url]
        cpu_before = time.process_time()
        result = run_module("bench.floor_client", args, env=child_env(emulator), cwd=ctx.workdir, timeout=900)
        emulator_cpu = time.process_time() - cpu_before
    listing.unlink(missing_ok=True)
    if result.code != 0:
        raise RuntimeError(f"floor client exited {result.code}: {result.stderr[-1500:]}")
    return result.json(), emulator_cpu, result


def run(ctx: Context) -> None:
    specs: list[SampleSpec] = scale.specs(ctx.quick)
    for spec in specs:
        world, pristine = ctx.world(spec)
        targets = batch_targets(pristine)
        label = f"{spec.tracks:,} tracks"
        say(f"floor: bare client, the tool's {len(targets):,} batch requests on {label}")
        out, emulator_cpu, client = _fetch(ctx, world, targets, f"batch-{spec.tracks}")
        seconds = out["seconds"]
        ctx.add(
            "5 floor",
            f"{label}: bare client, the same {out['requests']:,} batch requests (scale's workload)",
            f"{seconds:.2f} s, {out['requests'] / seconds:,.0f} req/s, {out['bytes'] / seconds / 2**20:.0f} MiB/s; "
            f"CPU emulator {emulator_cpu:.2f} s / client {client.cpu:.2f} s; HTTP {out['statuses']}; "
            f"{client.disturbance()}",
        )
        tool_wall = ctx.shared.get(f"scale_wall_{spec.tracks}")
        if tool_wall:
            share = seconds / tool_wall
            ctx.add(
                "5 floor",
                f"{label}: floor time as a share of the tool's wall time",
                f"{share:.0%} ({seconds:.2f} s of {tool_wall:.2f} s)",
                f"< {SHARE_TARGET:.0%}",
                share < SHARE_TARGET,
            )

    # Development Mode's single-item calls: how many per second can the emulator serve at all?
    world, pristine = ctx.world(specs[0])
    ids, artist_ids = pending_ids(pristine)
    n = 1_000 if ctx.quick else 6_000
    singles = [f"/v1/tracks/{i}" for i in ids[: n * 3 // 4]] + [f"/v1/artists/{a}" for a in artist_ids[: n // 4]]
    say(f"floor: bare client, {len(singles):,} single-item requests (Development Mode)")
    out, emulator_cpu, _ = _fetch(ctx, world, singles, "single", dev_mode=True)
    rate = out["requests"] / out["seconds"]
    ctx.add(
        "5 floor",
        "single-item requests (Development Mode endpoints), no latency",
        f"{rate:,.0f} req/s ({out['requests']:,} in {out['seconds']:.2f} s; emulator CPU {emulator_cpu:.2f} s)",
        f">> {SINGLE_NEEDED:g} req/s",
        rate >= 10 * SINGLE_NEEDED,
    )
    ctx.note(
        f"Floor: `python -m bench.floor_client`, aiohttp with {CONCURRENCY} connections like the tool, token "
        "first, then GET and discard; time counted from the first request to the last answer. The batch list is "
        "the tool's own (its streams, cut into jobs as its producer does). The share compares that with the "
        "tool's whole wall time in `scale`; both runs used the same in-process emulator on the same machine."
    )
