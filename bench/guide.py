"""Scenario 2, the guide's workload side by side: this tool and the predecessor's spotipy script, each with batch
endpoints and in Development Mode, against the same emulator settings (150 ms, 180 requests per rolling 30 s)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from bench.common import (
    CLIENT_ID,
    CLIENT_SECRET,
    ChildResult,
    Context,
    backfill_args,
    child_env,
    run_module,
    say,
    serve,
    statuses,
)
from standin.sample import TRACK_PREFIX, SampleSpec, World

RATE = 5.5  # what a user picks under 180 requests per 30 s (6/s), with a margin
SERVER = {"latency": 0.150, "latency_jitter": 0.5, "rate_limit": 180, "rate_window": 30.0}
MODES = {False: "batch endpoints", True: "Development Mode"}


def spec(quick: bool) -> SampleSpec:
    # prefilled=0: the guide's numbers are what its first backfill had to fetch.
    if quick:
        return SampleSpec(seed=5234, tracks=300, artists=30, prefilled=0.0)
    return SampleSpec(seed=5234, tracks=5_234, artists=1_892, prefilled=0.0)


@dataclass
class Run:
    who: str  # "backfill" or "predecessor"
    dev: bool
    result: ChildResult
    out: dict[str, Any]
    codes: Counter[int]
    filled: tuple[int, int]  # tracks, artists that got an image in this run
    preferred: tuple[int, int]  # of those, how many hold the image nearest 300 px wide

    @property
    def requests(self) -> int:
        return sum(self.codes.values())


def _filled(db: Path, world: World) -> tuple[tuple[int, int], tuple[int, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tracks = con.execute(
            "SELECT spotify_track_uri, album_image_url FROM tracks WHERE album_image_url IS NOT NULL"
        ).fetchall()
        artists = con.execute(
            "SELECT artist_name, spotify_artist_id, image_url FROM artists WHERE image_url IS NOT NULL"
        ).fetchall()
    finally:
        con.close()
    tracks = [(uri, url) for uri, url in tracks if uri not in world.prefilled_tracks]
    artists = [(i, url) for name, i, url in artists if name not in world.prefilled_artists]
    best_t = sum(world.expected_track_url.get(uri.removeprefix(TRACK_PREFIX)) == url for uri, url in tracks)
    best_a = sum(world.expected_artist_url.get(i) == url for i, url in artists)
    return (len(tracks), len(artists)), (best_t, best_a)


def _one(ctx: Context, world: World, pristine: Path, who: str, dev: bool) -> Run:
    mode = "dev" if dev else "batch"
    db = ctx.copy(pristine, f"guide-{who}-{mode}.duckdb")
    timeout = 900 if ctx.quick else 3 * 3600
    say(f"guide: {who}, {MODES[dev]} started")
    with serve(world, dev_mode=dev, **SERVER) as emulator:
        if who == "backfill":
            module, args = "backfill", backfill_args(db, rate=RATE)
        else:
            module, args = "bench.predecessor", [
                "--db", str(db),
                "--api-url", emulator.api_url, "--token-url", emulator.token_url,
                "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
                "--artist-pause", f"{ctx.options.get('predecessor_pause', 1.0):g}",
            ]  # fmt: skip
        result = run_module(module, args, env=child_env(emulator), cwd=ctx.workdir, timeout=timeout)
        codes = statuses(emulator.api())
    if result.timed_out:
        raise RuntimeError(f"{who} ({MODES[dev]}) did not finish within {timeout} s")
    out = result.json()
    filled, preferred = _filled(db, world)
    db.unlink(missing_ok=True)
    say(f"guide: {who}, {MODES[dev]} done in {result.wall:.1f} s")
    return Run(who, dev, result, out, codes, filled, preferred)


def _describe(run: Run) -> str:
    text = (
        f"{run.result.wall:,.1f} s; {run.requests:,} requests (429: {run.codes.get(429, 0)}); "
        f"filled {run.filled[0]:,} tracks + {run.filled[1]:,} artists"
    )
    if run.who == "predecessor":
        t, a = run.out["tracks"], run.out["artists"]
        text += (
            f"; tracks failed {t.get('failed', 0):,} of {t['rows']:,} ({t.get('failed_batches', 0)} of "
            f"{t.get('calls', 0)} batches: {t['errors'] or 'none'}); artists failed {a.get('failed', 0):,} of "
            f"{a['rows']:,} ({a['errors'] or 'none'})"
        )
    else:
        t, a = run.out["tracks"], run.out["artists"]
        text += (
            f"; not found {t['not_found']:,} + {a['not_found']:,}, no image {t['no_image']:,} + {a['no_image']:,}, "
            f"failed {t['failed']:,} + {a['failed']:,}; exit {run.result.code}"
        )
    return text


def run(ctx: Context) -> None:
    s = spec(ctx.quick)
    world, pristine = ctx.world(s)
    jobs = [("backfill", False), ("backfill", True), ("predecessor", False), ("predecessor", True)]
    serial = bool(ctx.options.get("serial"))
    with ThreadPoolExecutor(max_workers=1 if serial else len(jobs), thread_name_prefix="guide") as pool:
        futures = {job: pool.submit(_one, ctx, world, pristine, *job) for job in jobs}
        runs = {job: future.result() for job, future in futures.items()}
    for dev in (False, True):
        ours, theirs = runs[("backfill", dev)], runs[("predecessor", dev)]
        mode = MODES[dev]
        ctx.add("2 guide", f"{mode}: backfill --rate {RATE:g}", _describe(ours))
        ctx.add("2 guide", f"{mode}: predecessor (spotipy, sequential)", _describe(theirs))
        ctx.add(
            "2 guide",
            f"{mode}: predecessor / backfill",
            f"wall time {theirs.result.wall / ours.result.wall:.1f}x, requests {theirs.requests / ours.requests:.2f}x; "
            f"images filled: backfill {sum(ours.filled):,}, predecessor {sum(theirs.filled):,}",
        )
    for who in ("backfill", "predecessor"):
        done = runs[(who, False)]
        ctx.add(
            "2 guide",
            f"{who}: filled images that are the one nearest 300 px wide (batch run)",
            f"tracks {done.preferred[0]:,} of {done.filled[0]:,}, artists {done.preferred[1]:,} of {done.filled[1]:,}",
        )
    ctx.note(
        f"Guide: {s.tracks:,} track rows and {s.artists:,} catalog artists, none prefilled "
        "(the guide's first backfill); "
        f"latency 150 ms +/- 50 %, at most {SERVER['rate_limit']} requests per rolling {SERVER['rate_window']:g} s. "
        f"This tool runs with `--rate {RATE:g}` (under 180/30 s = 6/s). The predecessor is spotipy "
        f"{_spotipy_version()} with its default retries, pointed at the emulator (`sp.prefix`, the credentials "
        "manager's OAUTH_TOKEN_URL), `sp.tracks` in batches of 50 then `sp.artist` with a "
        f"{ctx.options.get('predecessor_pause', 1.0):g} s pause (the guide's 1 artist/s), writing row by row. Each of "
        "the four runs has its own emulator (own rolling window) and its own copy of the history; "
        + ("they ran one after another." if serial else "they ran at the same time (all four are wait-bound).")
        + " spotipy calls `/v1/tracks/?ids=` (a trailing slash), which Spotify and the emulator both accept."
    )


def _spotipy_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("spotipy")
    except metadata.PackageNotFoundError:
        return "(not installed)"
