"""Scenario 10, the dashboard during a run: of the dashboard's Top Tracks and Top Artists requests made while an
oEmbed run fills the file, how many fail per 1,000?

The dashboard's own engine (DuckDB 1.4.2 through Node's @duckdb/node-api, tests/dashboard_reader.mjs) opens the
file as its app/api/db.ts does: a new read-write instance per request, the connection closed, the instance never
closed. One request every 200 ms, alternating the two routes, from just before the run starts to its exit.
"""

from __future__ import annotations

import json
import subprocess

from bench.common import Context, backfill_args, child_env, run_module, say, serve
from standin.oembed import OEmbedConfig
from standin.sample import SampleSpec
from tests import dashboard

TARGET = 2.0  # failed requests per 1,000
EVERY_MS = 200
RATE = 15  # --oembed-rate: a run of about a minute on the full size
LATENCY = 0.100


def spec(quick: bool) -> SampleSpec:
    if quick:
        return SampleSpec(seed=1010, tracks=150, artists=30, prefilled=0.0)
    return SampleSpec(seed=1010, tracks=700, artists=150, prefilled=0.0)


def run(ctx: Context) -> None:
    dashboard.install()
    s = spec(ctx.quick)
    world, pristine = ctx.world(s)
    db = ctx.copy(pristine, "dashboard.duckdb")
    say(
        f"dashboard: Node reader every {EVERY_MS} ms during an oEmbed run on {s.tracks:,} tracks, {s.artists:,} artists"
    )
    with serve(world, oembed=OEmbedConfig(latency=LATENCY)) as emulator:
        reader = subprocess.Popen(
            dashboard.command("poll", db, "--every", EVERY_MS),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dashboard.env(),
        )
        try:
            env = child_env(None) | {"SPOTIFY_OEMBED_URL": emulator.base_url + "/oembed"}
            args = [*backfill_args(db, rate=5, source="oembed"), "--oembed-rate", str(RATE)]
            result = run_module("backfill", args, env=env, cwd=ctx.workdir, timeout=900)
        finally:
            out, err = reader.communicate(input="", timeout=60)  # stdin closed: the reader stops and reports
    db.unlink(missing_ok=True)
    if result.timed_out or result.code not in (0, 1):
        raise RuntimeError(f"backfill exited {result.code}: {result.stderr[-1500:]}")
    if reader.returncode != 0:
        raise RuntimeError(f"the Node reader failed: {err[-1500:]}")
    found = json.loads(out)
    items = sum(result.json()[kind]["pending"] for kind in ("tracks", "artists"))
    per_1000 = 1000 * found["failed"] / found["requests"] if found["requests"] else 0.0
    routes = ", ".join(f"{name} {r['failed']}/{r['requests']}" for name, r in found["routes"].items())
    ctx.add(
        "10 dashboard",
        f"dashboard requests failed per 1,000 during an oEmbed run of {items:,} items (db.ts's way, every "
        f"{EVERY_MS} ms)",
        f"{per_1000:.1f} ({found['failed']} of {found['requests']}: {routes}; run {result.wall:.0f} s, exit "
        f"{result.code})",
        f"<= {TARGET:g}",
        per_1000 <= TARGET,
    )
    if found["errors"]:
        ctx.note(f"Dashboard: first error seen: {found['errors'][0][:200]}")
    ctx.note(
        "Dashboard: tests/dashboard_reader.mjs in Node with @duckdb/node-api 1.4.2 (the dashboard's engine), a new "
        "read-write instance per request (never closed), Top Tracks and Top Artists alternating; the run is "
        f"`--source oembed --oembed-rate {RATE}` against the emulator ({LATENCY * 1000:.0f} ms per answer)."
    )
