"""Scenario 8, issue 9: the guide's workload for a Development Mode app with a 1,500-call daily Web API quota,
filled three ways (`--source api`, `--source auto` with credentials, no credentials at all), counting the runs
(days) each needs: a run that stops on the quota (exit 75) is followed by the next day's run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench import guide
from bench.common import Context, backfill_args, child_env, run_module, say, serve, statuses
from standin import Emulator
from standin.oembed import THUMBNAIL_HOST, OEmbedConfig
from standin.sample import TRACK_PREFIX, World

QUOTA = 1_500  # Web API requests a day
QUICK_QUOTA = 100
MAX_DAYS = 12
# The Web API as in the guide scenario (150 ms ± 50 %, 180 per rolling 30 s) in Development Mode with a quota.
# oEmbed: 150 ms, at most 600 per rolling 30 s (20/s): twice the tool's default --oembed-rate, so this scenario
# measures the sources, not limit finding (scenario 9 does that).
OEMBED = {"latency": 0.150, "rate_limit": 600, "rate_window": 30.0}
WAYS = {"api": "--source api", "auto": "--source auto, with credentials", "none": "no credentials (auto)"}


@dataclass
class Way:
    name: str
    days: int
    finished: bool
    wall: float  # seconds, all runs together (the days between them not counted)
    api: int
    api_codes: dict[int, int]
    oembed: int
    oembed_codes: dict[int, int]
    tokens: int
    filled: tuple[int, int]  # tracks, artists with an image after the last run
    right: tuple[int, int]  # of those, the world's expected image (same image id; oEmbed's host allowed)
    expected: tuple[int, int]  # items the world has an image for
    last_code: int


def image_id(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def same_image(url: str | None, expected: str | None) -> bool:
    """The expected image: the same URL, or the same image id on oEmbed's CDN host (as tests/checks.py)."""
    if url is None or expected is None:
        return url == expected
    return url == expected or (url.startswith(THUMBNAIL_HOST) and image_id(url) == image_id(expected))


def _count(rows: list[tuple[str | None, str | None]]) -> tuple[int, int, int]:
    """(expected, stored) pairs: how many were filled, how many of those right, how many the world could fill."""
    filled = sum(url is not None for _, url in rows)
    right = sum(url is not None and same_image(url, expected) for expected, url in rows)
    return filled, right, sum(expected is not None for expected, _ in rows)


def check(db: Path, world: World) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Images filled, of those right, and how many the world could fill (prefilled rows left out)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tracks = con.execute("SELECT spotify_track_uri, album_image_url FROM tracks").fetchall()
        artists = con.execute("SELECT artist_name, spotify_artist_id, image_url FROM artists").fetchall()
    finally:
        con.close()
    t = _count(
        [
            (world.expected_track_url.get((uri or "").removeprefix(TRACK_PREFIX)), url)
            for uri, url in tracks
            if uri not in world.prefilled_tracks
        ]
    )
    prefilled = world.prefilled_artists
    a = _count([(world.expected_artist_url.get(i or ""), url) for name, i, url in artists if name not in prefilled])
    return (t[0], a[0]), (t[1], a[1]), (t[2], a[2])


def env_for(way: str, emulator: Emulator) -> dict[str, str]:
    env = child_env(None if way == "none" else emulator)
    env["SPOTIFY_OEMBED_URL"] = emulator.base_url + "/oembed"
    return env


def _one(ctx: Context, world: World, pristine: Path, way: str) -> Way:
    db = ctx.copy(pristine, f"sources-{way}.duckdb")
    quota = QUICK_QUOTA if ctx.quick else QUOTA
    args = backfill_args(db, rate=guide.RATE, source=None if way == "none" else way)
    days, wall, code, finished = 0, 0.0, -1, False
    with serve(world, dev_mode=True, quota=quota, oembed=OEmbedConfig(**OEMBED), **guide.SERVER) as emulator:
        while days < MAX_DAYS and not finished:
            if days:
                emulator.new_day()
            days += 1
            say(f"sources: {WAYS[way]}, day {days}")
            result = run_module("backfill", args, env=env_for(way, emulator), cwd=ctx.workdir, timeout=3 * 3600)
            wall += result.wall
            code = result.code
            if result.timed_out:
                raise RuntimeError(f"{way}: day {days} did not finish")
            out = result.json()
            remaining = sum(out[k]["remaining"] + out[k]["failed"] for k in ("tracks", "artists") if k in out)
            finished = code == 0 and remaining == 0
            if code not in (0, 75):
                say(f"sources: {way} exited {code}: {result.stderr[-500:]}")
                break
        api, oembed, tokens = emulator.api(), emulator.oembed_requests(), emulator.token_requests()
    filled, right, expected = check(db, world)
    db.unlink(missing_ok=True)
    return Way(
        way, days, finished, wall, len(api), dict(statuses(api)), len(oembed), dict(statuses(oembed)), len(tokens),
        filled, right, expected, code,
    )  # fmt: skip


def _describe(w: Way) -> str:
    codes = ", ".join(f"{k}: {v:,}" for k, v in sorted(w.api_codes.items()))
    o429 = w.oembed_codes.get(429, 0)
    return (
        f"{w.days} run{'s' if w.days > 1 else ''}{'' if w.finished else ' (NOT finished)'}, {w.wall:,.1f} s; "
        f"API calls {w.api:,} ({codes or 'none'}), oEmbed calls {w.oembed:,} (429: {o429}), token requests "
        f"{w.tokens}; filled {w.filled[0]:,} tracks + {w.filled[1]:,} artists of {w.expected[0]:,} + "
        f"{w.expected[1]:,}, right {w.right[0]:,} + {w.right[1]:,}"
    )


def run(ctx: Context) -> None:
    spec = guide.spec(ctx.quick)
    world, pristine = ctx.world(spec)
    quota = QUICK_QUOTA if ctx.quick else QUOTA
    with ThreadPoolExecutor(max_workers=len(WAYS), thread_name_prefix="sources") as pool:
        futures = {way: pool.submit(_one, ctx, world, pristine, way) for way in WAYS}
        ways = {way: future.result() for way, future in futures.items()}
    for way, w in ways.items():
        target, ok = "", None
        if way != "api":
            target, ok = "1 run, ≤ 5 API calls", w.finished and w.days == 1 and w.api <= 5
        ctx.add("8 sources", f"Dev Mode, {quota:,}/day quota: {WAYS[way]}", _describe(w), target, ok)
    ctx.note(
        f"Sources: the guide's workload ({spec.tracks:,} track rows, {spec.artists:,} artists, none prefilled) for a "
        f"Development Mode app with a {quota:,}-request daily Web API quota; Web API as in scenario 2 (150 ms ± 50 %, "
        f"180 per rolling 30 s, `--rate {guide.RATE:g}`); oEmbed 150 ms, at most {OEMBED['rate_limit']} per rolling "
        f"{OEMBED['rate_window']:g} s, the tool at its default `--oembed-rate` 10. A run that stops on the quota "
        "(exit 75) is followed by the next day's (the emulator's quota counter reset); wall time adds the runs. "
        "'Right' compares image ids with the world's expected URL (oEmbed serves the same id on another host). "
        "The three ways run at the same time, each with its own emulator."
    )
