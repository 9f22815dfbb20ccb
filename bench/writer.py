"""Scenario 4, the writer alone: rows per second applied to DuckDB by `Store.apply`, in the pipeline's batches."""

from __future__ import annotations

import time
from collections import Counter

from backfill.config import DEFAULT_WRITE_RESULTS as FLUSH_ROWS
from backfill.store.store import Outcome, Store
from bench import scale
from bench.common import Context, say
from standin.sample import World

TARGET = 100_000  # rows per second


def outcomes(store: Store, world: World) -> list[Outcome]:
    """One outcome per pending id, as a correct run would produce them (from the world's known answers)."""
    result: list[Outcome] = []
    store.plan()
    for page in store.stream_tracks():
        for track_id, _group in page:
            if track_id in world.expected_track_url:
                url = world.expected_track_url[track_id]
                result.append(Outcome("tracks", track_id, "updated" if url else "no_image", url))
            else:
                result.append(Outcome("tracks", track_id, "not_found"))
    for page in store.stream_artists():
        for artist_id, names in page:
            if artist_id in world.expected_artist_url:
                url = world.expected_artist_url[artist_id]
                status = "updated" if url else "no_image"
                result.append(Outcome("artists", artist_id, status, url, tuple(names or ())))
            else:
                result.append(Outcome("artists", artist_id, "not_found"))
    return result


def run(ctx: Context) -> None:
    for spec in scale.specs(ctx.quick):
        world, pristine = ctx.world(spec)
        db = ctx.copy(pristine, f"writer-{spec.tracks}.duckdb")
        store = Store.open(db, read_only=False)
        try:
            todo = outcomes(store, world)
            kinds = Counter(o.status for o in todo)
            say(f"writer: applying {len(todo):,} outcomes in batches of {FLUSH_ROWS:,} ({dict(kinds)})")
            slowest = 0.0
            started = time.perf_counter()
            for start in range(0, len(todo), FLUSH_ROWS):
                batch_started = time.perf_counter()
                store.apply(todo[start : start + FLUSH_ROWS])
                slowest = max(slowest, time.perf_counter() - batch_started)
            seconds = time.perf_counter() - started
            filled = store.image_counts()
        finally:
            store.close()
        db.unlink(missing_ok=True)
        rate = len(todo) / seconds
        label = f"{spec.tracks:,}-track history"
        ctx.add(
            "4 writer",
            f"{label}: rows/s through Store.apply, batches of {FLUSH_ROWS:,}",
            f"{rate:,.0f} rows/s ({len(todo):,} rows in {seconds:.2f} s; slowest batch {slowest * 1000:.0f} ms)",
            f">= {TARGET:,} rows/s",
            rate >= TARGET,
        )
        with_image = {k: f"{w:,}/{t:,}" for k, (t, w) in filled.items()}
        say(f"  with an image afterwards: {with_image}")
    ctx.note(
        "Writer: in the bench process, no network. One Outcome per pending id with the answer a correct run gets "
        "(updated / no_image / not_found, recovered artist names included), applied with `Store.apply` in batches "
        f"of the pipeline's FLUSH_ROWS ({FLUSH_ROWS:,}) to a fresh copy of the scale history; rows/s = outcomes / "
        "total time of the apply calls."
    )
