"""Scenario 3, scale: a big history, batch endpoints, no latency, no rate limit; wall time and peak memory."""

from __future__ import annotations

import time

from bench.common import Context, mb, run_backfill, say, serve, statuses
from standin.sample import SampleSpec

SEED = 3
FULL = (125_000, 1_000_000)
QUICK = (10_000, 80_000)  # the same 8x step, small enough for a smoke run
BASE = 125_000  # the size the targets are set for
WALL_TARGET = 10.0  # seconds, on the 2-core machine
RSS_TARGET_MB = 200.0
GROWTH_TARGET = 1.5  # peak memory at the large size, as a multiple of the base size's
# No server limit here, so the tool's pacing must not be the limit either: a rate no real user would pick.
RATE = 100_000.0
CONCURRENCY = 8  # the tool's default


def specs(quick: bool) -> list[SampleSpec]:
    artists = 500 if quick else 5_000
    return [SampleSpec(seed=SEED, tracks=n, artists=artists) for n in (QUICK if quick else FULL)]


def run(ctx: Context) -> None:
    peaks: list[int] = []
    for index, spec in enumerate(specs(ctx.quick)):
        world, pristine = ctx.world(spec)
        db = ctx.copy(pristine, f"scale-{spec.tracks}.duckdb")
        label = f"{spec.tracks:,} tracks, {spec.artists:,} artists"
        say(f"scale: backfill run on {label} (batch endpoints, no latency, no limit)")
        with serve(world) as emulator:
            cpu_before = time.process_time()
            result = run_backfill(ctx, db, emulator, rate=RATE, concurrency=CONCURRENCY)
            emulator_cpu = time.process_time() - cpu_before
            records = emulator.api()
        db.unlink(missing_ok=True)
        if result.timed_out or result.code not in (0, 1):
            raise RuntimeError(f"backfill exited {result.code} on {label}: {result.stderr[-1500:]}")
        out = result.json()
        answered = {
            k: sum(out[k][s] for s in ("updated", "no_image", "not_found", "failed")) for k in ("tracks", "artists")
        }
        peaks.append(result.vm_hwm_kib)
        ctx.shared[f"scale_wall_{spec.tracks}"] = result.wall
        ctx.shared[f"scale_requests_{spec.tracks}"] = out["requests"]

        base = spec.tracks == BASE
        ctx.add(
            "3 scale",
            f"{label}: wall time of the backfill process",
            f"{result.wall:.2f} s",
            f"<= {WALL_TARGET:g} s" if base else "",
            result.wall <= WALL_TARGET if base else None,
        )
        ctx.add(
            "3 scale",
            f"{label}: peak RSS of the backfill process (VmHWM)",
            mb(result.vm_hwm_kib),
            f"<= {RSS_TARGET_MB:g} MB" if base else "",
            result.vm_hwm_kib / 1024 <= RSS_TARGET_MB if base else None,
        )
        if index > 0 and peaks[0]:
            growth = result.vm_hwm_kib / peaks[0]
            ctx.add(
                "3 scale",
                f"{label}: peak RSS / peak RSS at {specs(ctx.quick)[0].tracks:,} tracks",
                f"{growth:.2f}x",
                f"<= {GROWTH_TARGET:g}x",
                growth <= GROWTH_TARGET,
            )
        codes = statuses(records)
        ctx.add(
            "3 scale",
            f"{label}: work done",
            f"{answered['tracks']:,} track ids + {answered['artists']:,} artist ids answered in {out['requests']:,} "
            f"requests ({out['requests'] / result.wall:.0f} req/s, {sum(answered.values()) / result.wall:,.0f} ids/s); "
            f"HTTP {dict(sorted(codes.items()))}; exit {result.code}",
        )
        ctx.add(
            "3 scale",
            f"{label}: CPU seconds, backfill process / emulator thread",
            f"{result.cpu:.2f} s / {emulator_cpu:.2f} s (tool's own elapsed_seconds {out['elapsed_seconds']:.2f} s; "
            f"VmHWM last polled {mb(result.hwm_polled_kib)}; {result.disturbance()})",
        )
    ctx.note(
        f"Scale: `backfill run --rate {RATE:g} --concurrency {CONCURRENCY}` (the server has no limit, so the "
        "tool's pacing is set out of the way). Wall time is spawn to exit of the backfill process, Python start-up "
        "included. Peak RSS is VmHWM of the backfill process, read by the process itself from /proc/self/status "
        "when the CLI's main() has returned (`python -m bench.measured` runs `-m backfill` via runpy), so a peak in "
        "the last milliseconds is not missed; VmHWM polled from outside every 50 ms is shown as a cross-check. "
        "wait4()'s ru_maxrss is not used: after vfork+exec Linux counts the parent's (the bench's) memory in it."
    )
