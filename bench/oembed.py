"""Scenario 9, issue 9: against an oEmbed server whose limit the tool is not told, how much of what the server
allows does `--source oembed` use, and how many of its calls are answered 429? `--oembed-rate` is set to three
times the allowed rate, so the adaptive pace (backfill/sources/pacing.py) has to find the limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.common import Context, backfill_args, child_env, run_module, say, serve, statuses
from standin.oembed import OEmbedConfig
from standin.sample import SampleSpec

OVER = 3.0  # --oembed-rate as a multiple of what the server allows
LATENCY = 0.150
# (requests, rolling window in seconds): Spotify's Web API style 30 s window, and a short 1 s one.
SHAPES = ((150, 30.0), (10, 1.0))
QUICK_SHAPES = ((10, 1.0),)


def spec(quick: bool) -> SampleSpec:
    if quick:
        return SampleSpec(seed=909, tracks=200, artists=20, prefilled=0.0)
    return SampleSpec(seed=909, tracks=2_000, artists=200, prefilled=0.0)


@dataclass
class Found:
    limit: int
    window: float
    retry_after: bool
    code: int
    calls: int
    answered: int  # 200 and 404: an answer about the id asked for
    ok: int  # 200 only
    throttled: int  # 429
    fetching: float  # seconds from the first oEmbed request to the last

    @property
    def allowed(self) -> float:
        return self.limit / self.window

    @property
    def share(self) -> float:
        return self.ok / self.fetching / self.allowed if self.fetching > 0 else 0.0

    @property
    def answered_share(self) -> float:
        return self.answered / self.fetching / self.allowed if self.fetching > 0 else 0.0

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.calls if self.calls else 0.0


def _one(ctx: Context, limit: int, window: float, retry_after: bool) -> Found:
    world, pristine = ctx.world(spec(ctx.quick))
    tag = f"{limit}-{window:g}-{'ra' if retry_after else 'nora'}"
    db = ctx.copy(pristine, f"oembed-{tag}.duckdb")
    rate = OVER * limit / window
    config = OEmbedConfig(rate_limit=limit, rate_window=window, retry_after=retry_after, latency=LATENCY)
    say(f"oembed: {limit} per {window:g} s, {'with' if retry_after else 'without'} Retry-After, --oembed-rate {rate:g}")
    with serve(world, oembed=config) as emulator:
        env = child_env(None) | {"SPOTIFY_OEMBED_URL": emulator.base_url + "/oembed"}
        # A generous --max-wait: without Retry-After the tool's own backoff must not end the run early.
        args = [*backfill_args(db, rate=5, max_wait=600, source="oembed"), "--oembed-rate", f"{rate:g}"]
        result = run_module("backfill", args, env=env, cwd=ctx.workdir, timeout=3600)
        records = emulator.oembed_requests()
    db.unlink(missing_ok=True)
    if result.timed_out or not records:
        raise RuntimeError(f"oembed {tag}: no result (exit {result.code}): {result.stderr[-500:]}")
    codes = statuses(records)
    return Found(
        limit, window, retry_after, result.code, len(records), codes[200] + codes[404], codes[200], codes[429],
        records[-1].at - records[0].at,
    )  # fmt: skip


def run(ctx: Context) -> None:
    shapes = QUICK_SHAPES if ctx.quick else SHAPES
    ctx.world(spec(ctx.quick))  # built once, before the threads
    jobs = [(limit, window, ra) for limit, window in shapes for ra in (True, False)]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="oembed") as pool:
        found = list(pool.map(lambda job: _one(ctx, *job), jobs))
    for f in found:
        ctx.add(
            "9 oembed",
            f"server allows {f.limit} per rolling {f.window:g} s ({f.allowed:g}/s), "
            f"{'with' if f.retry_after else 'no'} Retry-After; --oembed-rate {OVER * f.allowed:g}",
            f"{f.share:.2f} of the allowed rate in 200s ({f.ok:,} in {f.fetching:,.1f} s; with 404s "
            f"{f.answered_share:.2f}); 429: {f.throttled:,} of {f.calls:,} calls ({f.throttled_share:.1%}); "
            f"exit {f.code}",
            "≥ 0.8, < 5 % 429",
            f.share >= 0.8 and f.throttled_share < 0.05,
        )
    s = spec(ctx.quick)
    ctx.note(
        f"oEmbed limit finding: `--source oembed`, no credentials, {s.tracks:,} track rows + {s.artists:,} artists "
        f"(seed {s.seed}, none prefilled); the emulator's oEmbed answers after {LATENCY * 1000:.0f} ms and counts "
        f"every request in its rolling window, 429s included; `--oembed-rate` is {OVER:g}x the allowed rate. "
        "Share = 200 answers per second from the first oEmbed request to the last, divided by limit/window. "
        "The runs of this scenario go at the same time, each with its own emulator."
    )
