"""Scenario 12, issue 20: `backfill run --fallback deezer,musicbrainz` on a history where about a third of the
rows are what Spotify cannot fill, against the Spotify emulator and the Deezer, MusicBrainz and Cover Art
Archive emulators; then the same world filled by a naive top-result matcher (bench.fallback_naive).

Per provider: filled / fillable (the world's right answers, bench.fallback_world), wrong matches, placeholders
stored, requests, and rate-limit violations as the emulators saw them (Deezer: over 50 per rolling 5 s, answered
with its quota error; MusicBrainz: two requests less than 1 s apart, answered 503), and the time taken.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import ChildResult, Context, backfill_args, child_env, run_module, say, serve
from bench.fallback_naive import Naive, fill
from bench.fallback_world import PROVIDERS, Tally, Truth, add_provider_rows, tally, truth
from standin import Emulator
from standin.coverart import CoverArtEmulator
from standin.deezer import DeezerEmulator, DeezerRequest
from standin.musicbrainz import MbRequest, MusicBrainzEmulator
from standin.provider_world import ProviderWorldSpec, build_provider_world
from standin.sample import SampleSpec

SCENARIO = "12 fallback"
RATE = 50.0  # Spotify --rate: the emulator has no limit here; the fallbacks keep their own paces
CONTACT = "bench@backfill.invalid"
DEEZER_LIMIT, DEEZER_WINDOW = 50, 5.0
LABELS = {"spotify": "Spotify", "deezer": "Deezer", "musicbrainz": "MusicBrainz"}


def specs(quick: bool) -> tuple[SampleSpec, ProviderWorldSpec]:
    if quick:
        return SampleSpec(seed=1212, tracks=60, artists=20, prefilled=0.0), ProviderWorldSpec(seed=5, filler=0)
    return SampleSpec(seed=1212, tracks=600, artists=220, prefilled=0.0), ProviderWorldSpec(seed=5, filler=60)


@dataclass(frozen=True)
class Traffic:
    spotify: int
    deezer: list[DeezerRequest]
    musicbrainz: list[MbRequest]
    coverart: int


@dataclass(frozen=True)
class Served:
    """The four emulators of one run, each in a thread of this process."""

    spotify: Emulator
    deezer: DeezerEmulator
    musicbrainz: MusicBrainzEmulator
    coverart: CoverArtEmulator

    def env(self) -> dict[str, str]:
        return child_env(self.spotify) | {
            "DEEZER_API_URL": self.deezer.base_url,
            "MUSICBRAINZ_API_URL": self.musicbrainz.base_url + "/ws/2",
            "COVERART_API_URL": self.coverart.base_url,
            "BACKFILL_CONTACT": CONTACT,
        }

    def traffic(self) -> Traffic:
        return Traffic(
            len(self.spotify.api()), list(self.deezer.received), list(self.musicbrainz.received),
            len(self.coverart.received),
        )  # fmt: skip


@contextlib.contextmanager
def served(ctx: Context, sample: SampleSpec, spec: ProviderWorldSpec) -> Iterator[Served]:
    world, _ = ctx.world(sample)
    providers = build_provider_world(spec)
    deezer, musicbrainz, coverart = (
        DeezerEmulator(providers),
        MusicBrainzEmulator(providers),
        CoverArtEmulator(providers),
    )
    threads = (deezer.running_in_thread(), musicbrainz.running_in_thread(), coverart.running_in_thread())
    with serve(world) as spotify, threads[0], threads[1], threads[2]:
        yield Served(spotify, deezer, musicbrainz, coverart)


def most_in_window(times: Sequence[float], window: float) -> int:
    """The most requests that arrived within any `window` seconds."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def violations(traffic: Traffic) -> tuple[str, bool]:
    quota = sum(1 for r in traffic.deezer if r.error_code == 4)
    most = most_in_window([r.at for r in traffic.deezer], DEEZER_WINDOW)
    mb_503 = sum(1 for r in traffic.musicbrainz if r.status == 503)
    gaps = [b.at - a.at for a, b in zip(traffic.musicbrainz, traffic.musicbrainz[1:], strict=False)]
    close = sum(1 for g in gaps if g < 1.0)
    closest = f"{min(gaps):.4f} s" if gaps else "n/a"
    text = (
        f"Deezer: {quota} quota answers (code 4), most requests in any {DEEZER_WINDOW:g} s: {most} (limit "
        f"{DEEZER_LIMIT}); MusicBrainz: {mb_503} answers 503, {close} requests < 1 s after the one before (closest "
        f"{closest})"
    )
    return text, quota == 0 and mb_503 == 0 and close == 0 and most <= DEEZER_LIMIT


def filled_text(t: Tally) -> tuple[str, bool]:
    parts, complete = [], True
    for provider in PROVIDERS:
        for kind in ("tracks", "artists"):
            fillable, filled, right = t.fillable[kind, provider], t.filled[kind, provider], t.right[kind, provider]
            if not (fillable or filled):
                continue
            stored = f" ({filled:,} stored)" if filled != right else ""
            parts.append(f"{LABELS[provider]} {kind} {right:,} / {fillable:,}{stored}")
            complete = complete and right == fillable
    return "; ".join(parts), complete


def _kinds(counter: dict[str, int]) -> str:
    return f"{counter.get('tracks', 0)} tracks, {counter.get('artists', 0)} artists"


def report(ctx: Context, who: str, t: Tally, traffic: Traffic, wall: str, evidence: bool) -> None:
    """The rows of one way of filling; only the tool's have targets (the naive matcher's are the comparison)."""

    def add(figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        ctx.add(SCENARIO, f"{who}: {figure}", value, target if evidence else "", ok if evidence else None)

    filled, complete = filled_text(t)
    wrong, placeholders = sum(t.wrong.values()), sum(t.placeholders.values())
    add("right images stored / fillable", filled, "all", complete)
    add("wrong matches", f"{wrong} ({_kinds(t.wrong)})", "0", wrong == 0)
    add("placeholders stored", f"{placeholders} ({_kinds(t.placeholders)})", "0", placeholders == 0)
    add(
        "requests",
        f"Spotify Web API {traffic.spotify:,}, Deezer {len(traffic.deezer):,}, MusicBrainz "
        f"{len(traffic.musicbrainz):,}, Cover Art Archive {traffic.coverart:,}",
    )
    text, ok = violations(traffic)
    add("rate-limit violations", text, "0", ok)
    add("time", wall)
    for example in t.examples:
        say(f"  {who}: wrong: {example}")


def _run(ctx: Context, db: Path, env: dict[str, str], fallback: bool) -> ChildResult:
    args = [*backfill_args(db, rate=RATE), *(["--fallback", "deezer,musicbrainz"] if fallback else [])]
    result = run_module("backfill", args, env=env, cwd=ctx.workdir, timeout=3600)
    if result.timed_out or result.code not in (0, 1):
        raise RuntimeError(f"backfill run exited {result.code}: {result.stderr[-800:]}")
    return result


def run(ctx: Context) -> None:
    sample_spec, provider_spec = specs(ctx.quick)
    sample, pristine = ctx.world(sample_spec)
    providers = build_provider_world(provider_spec)
    base = ctx.copy(pristine, "fallback-base.duckdb")
    add_provider_rows(base, providers)

    db = ctx.copy(base, "fallback-evidence.duckdb")
    say("fallback: backfill run --fallback deezer,musicbrainz")
    with served(ctx, sample_spec, provider_spec) as world:
        result = _run(ctx, db, world.env(), fallback=True)
        traffic = world.traffic()
        right = truth(sample, providers, world.coverart.base_url)
        ours = tally(db, right, world.coverart.base_url)
    doc = result.json().get("fallback", {})
    told = ", ".join(f"{LABELS[p]} {doc[p]['requests']:,}" for p in ("deezer", "musicbrainz") if p in doc)
    _describe(ctx, right, sample_spec, provider_spec)
    wall = f"{result.wall:.1f} s, exit {result.code} (requests the tool counted: {told})"
    report(ctx, "evidence (`--fallback deezer,musicbrainz`)", ours, traffic, wall, True)

    db = ctx.copy(base, "fallback-naive.duckdb")
    say("fallback: a Spotify-only run, then the naive top-result matcher")
    with served(ctx, sample_spec, provider_spec) as world:
        first = _run(ctx, db, world.env(), fallback=False)
        started = time.perf_counter()
        counts = fill(db, Naive(world.deezer.base_url, world.musicbrainz.base_url, world.coverart.base_url))
        naive_wall = time.perf_counter() - started
        traffic = world.traffic()
        naive = tally(db, truth(sample, providers, world.coverart.base_url), world.coverart.base_url)
    asked = f"asked {counts['tracks asked']:,} tracks + {counts['artists asked']:,} artists"
    wall = f"{first.wall:.1f} s Spotify-only run + {naive_wall:.1f} s naive ({asked})"
    report(ctx, "naive top result", naive, traffic, wall, False)


def _describe(ctx: Context, right: Truth, sample: SampleSpec, spec: ProviderWorldSpec) -> None:
    n_tracks, n_artists = len(right.tracks), len(right.artists)
    not_spotify_t = sum(1 for _, owner in right.tracks.values() if owner != "spotify")
    not_spotify_a = sum(1 for _, owner in right.artists.values() if owner != "spotify")
    share = (not_spotify_t + not_spotify_a) / (n_tracks + n_artists)
    ctx.add(
        SCENARIO,
        "the sample",
        f"{n_tracks:,} track rows + {n_artists:,} artists; Spotify cannot fill {not_spotify_t:,} + {not_spotify_a:,} "
        f"({share:.0%}), of which {right.fallback_tracks:,} + {right.fallback_artists:,} are the provider world's",
    )
    ctx.note(
        f"Fallback: a Spotify sample history (seed {sample.seed}, {sample.tracks:,} track rows, {sample.artists:,} "
        f"artists, none prefilled) with the provider world's rows added (standin.provider_world, seed {spec.seed}, "
        f"{spec.filler} generated acts beside the hand-made namesakes, spellings, near misses, ties, photo-less "
        "artists and albums without art): local files, track ids Spotify does not know (half asked in the run, half "
        "remembered as 'no image'), artists with no id, an unknown one or one remembered as 'no image'. Spotify's "
        "emulator has no latency or limit; Deezer's allows 50 requests per rolling 5 s, MusicBrainz's 1 a second "
        "(no two requests closer than 1 s). 'Fillable' is the world's right answer per provider (Deezer first; "
        "MusicBrainz where Deezer has none); a wrong match is any stored value other than the row's right answer, "
        "including a value where the right answer is none. The naive matcher (bench/fallback_naive.py) takes "
        "the first search result, as maloja does, with its own fixed pace under each limit."
    )
