"""Scenario 11, verify --html at scale: the report and its Top 50 lists on big histories; wall time, peak memory."""

from __future__ import annotations

from bench.common import Context, child_env, mb, run_module, say
from standin.sample import SampleSpec

SEED = 3  # the same worlds as scenario 3 (scale), built once when both run
FULL = (400_000, 1_000_000)
QUICK = (10_000, 80_000)


def specs(quick: bool) -> list[SampleSpec]:
    artists = 500 if quick else 5_000
    return [SampleSpec(seed=SEED, tracks=n, artists=artists) for n in (QUICK if quick else FULL)]


def run(ctx: Context) -> None:
    for spec in specs(ctx.quick):
        _world, pristine = ctx.world(spec)
        db = ctx.copy(pristine, f"verify-{spec.tracks}.duckdb")
        page = ctx.workdir / f"verify-{spec.tracks}.html"
        label = f"{spec.tracks:,} tracks, {spec.play_count:,} plays"
        say(f"verify: backfill verify --html on {label}")
        result = run_module(
            "backfill", ["verify", "--db", db, "--html", page], env=child_env(), cwd=ctx.workdir, timeout=600
        )
        leftovers = sorted(p.name for p in ctx.workdir.iterdir() if p.name.startswith(db.name + "."))
        db.unlink(missing_ok=True)
        page.unlink(missing_ok=True)
        outcome = f"exit {result.code}" + ("" if result.code == 0 else f": {result.stderr.strip()[-300:]}")
        ctx.add(
            "11 verify",
            f"{label}: wall time / peak RSS (VmHWM) of `verify --html`",
            f"{result.wall:.2f} s / {mb(result.vm_hwm_kib)}",
            "exit 0",
            result.code == 0 and not result.timed_out,
        )
        ctx.add(
            "11 verify",
            f"{label}: outcome",
            f"{outcome}; files left beside the database: {', '.join(leftovers) or 'none'}; {result.disturbance()}",
        )
    ctx.note(
        "Verify: `backfill verify --html PAGE` as its own process on a copy of scenario 3's history (seed 3, 5,000 "
        "artists, two plays per track). DuckDB's memory is capped at 80 MB (backfill/store/attach.py), so what a query "
        "needs beyond it spills to DATABASE.tmp beside the file, which DuckDB removes when it closes."
    )
