"""Whole runs of the pipeline (producer → workers → writer) over fake sources, on a fresh history file: what
is committed is what the sources answered, failures are not remembered, a source given up leaves the other to
finish, and values another connection writes during the run survive (the writer fills only NULL columns)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from backfill.engine.pipeline import Pipeline
from backfill.records import RunRecord
from backfill.sources.answers import NOT_FOUND, Answer
from backfill.sources.base import Lineup
from backfill.sources.http import Kind, RateLimited
from backfill.store.store import Plan, Store
from standin.sample import World
from tests.fakes import FakeSource, Request, failed, image_url

HANG_GUARD = 60.0
PREFIX = "spotify:track:"
VALID_ID = "[0-9A-Za-z]{22}"
VALID_URI = f"^{PREFIX}{VALID_ID}$"
THEIRS = "https://example.org/theirs.jpg"

Artists = dict[str, tuple[str | None, str | None]]  # artist name → (spotify_artist_id, image_url)


async def run(db_path: Path, lineup: Lineup) -> tuple[RunRecord, Plan]:
    """Plan, let go of the file, and run; the results are written once, at the end (no timer, no count)."""
    store = Store.open(db_path, read_only=False, for_run=True)
    try:
        plan = store.plan()
        store.release()
        pipeline = Pipeline(store, plan, lineup=lineup, workers=4, write_seconds=3600, write_results=100_000)
        return await asyncio.wait_for(pipeline.run(), HANG_GUARD), plan
    finally:
        store.close()


def rows(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def track_images(path: Path) -> dict[str, str | None]:
    """Track id → album_image_url, for every row whose URI is a track id."""
    found = rows(
        path,
        "SELECT spotify_track_uri, album_image_url FROM tracks WHERE regexp_full_match(spotify_track_uri, ?)",
        [VALID_URI],
    )
    return {uri.removeprefix(PREFIX): url for uri, url in found}


def artists(path: Path) -> Artists:
    return {
        name: (i, url) for name, i, url in rows(path, "SELECT artist_name, spotify_artist_id, image_url FROM artists")
    }


def remembered(path: Path) -> dict[tuple[str, str], str]:
    return {(kind, i): outcome for kind, i, outcome in rows(path, "SELECT kind, spotify_id, outcome FROM backfill_log")}


def asked(sources: Iterable[FakeSource], kind: Kind) -> set[str]:
    return {i for source in sources for call in source.calls if call.kind == kind for i in call.ids}


def one_pending_artist(before: Artists) -> tuple[str, str]:
    """(name, id) of an artist with its own id and no photo yet."""
    return next(
        (name, i)
        for name, (i, url) in sorted(before.items())
        if url is None and i is not None and re.fullmatch(VALID_ID, i)
    )


async def test_what_the_sources_answer_is_written_and_failures_are_not_remembered(db_path: Path, world: World) -> None:
    tracks_before, artists_before = track_images(db_path), artists(db_path)
    pending = sorted(i for i, url in tracks_before.items() if url is None)
    fail, miss, bare = pending[:3]
    _, photo_fail_id = one_pending_artist(artists_before)
    script = {fail: failed(), miss: NOT_FOUND, bare: Answer("no_image"), photo_fail_id: failed("HTTP 502", 502)}
    api = FakeSource("api", script, batch="allowed")
    oembed = FakeSource("oembed")
    result, plan = await run(db_path, Lineup(batch=(api,), single=(oembed, api)))
    assert result.stopped is None and result.error is None

    assert asked([api, oembed], "tracks") == set(pending) and len(pending) == plan.tracks.pending
    assert oembed.calls == []  # batches answered everything; a failed batch answer is final
    after = track_images(db_path)
    for i in pending:
        assert after[i] == (None if i in (fail, miss, bare) else image_url("api", i)), i
    for i, url in tracks_before.items():
        if url is not None:
            assert after[i] == url  # filled before: never touched
    assert remembered(db_path) == {("track", miss): "not_found", ("track", bare): "no_image"}

    stats = result.stats["tracks"]
    assert (stats.found, stats.failed, stats.not_found, stats.no_image) == (len(pending) - 3, 1, 1, 1)
    assert stats.updated == stats.found  # one row per track id in this history
    assert result.served[("tracks", "api")] == len(pending) - 1  # the failure is not an answer

    artists_after = artists(db_path)
    asked_artists = asked([api], "artists")
    assert len(asked_artists) == plan.artists.pending == result.stats["artists"].answered
    assert photo_fail_id in asked_artists
    for name, (artist_id, url) in artists_after.items():
        if artists_before[name][1] is not None:
            assert url == artists_before[name][1]
        elif artist_id in asked_artists and artist_id != photo_fail_id:
            assert url == image_url("api", artist_id), name
        else:
            assert url is None, name
    recovered = {n: i for n, i in world.recoverable_artists.items() if artists_before[n][1] is None}
    assert recovered and all(artists_after[n][0] == i for n, i in recovered.items())
    assert result.stats["artists"].recovered == len(recovered)
    assert result.stats["artists"].failed >= 1 and ("artist", photo_fail_id) not in remembered(db_path)


async def test_a_source_given_up_leaves_the_other_to_finish(db_path: Path) -> None:
    limited = RateLimited(86_400, True, "api")
    lost: list[Request] = []

    async def note(request: Request) -> None:
        if request.number == 3:
            lost.append(request)

    before = artists(db_path)
    api = FakeSource("api", batch="allowed", lose_at=(3, limited), before_request=note)
    oembed = FakeSource("oembed")
    result, plan = await run(db_path, Lineup(batch=(api,), single=(oembed, api)))
    assert result.stopped is None and result.error is None
    assert result.given_up == {"api": limited} and api.pace.gate.shut_by is limited
    assert sum(api.requests.values()) == 3  # nothing asked of it after
    assert oembed.requests  # ... and oEmbed did the rest

    photos = {i: url for name, (i, url) in artists(db_path).items() if i is not None and before[name][1] is None}
    images: dict[Kind, dict[str, str | None]] = {"tracks": track_images(db_path), "artists": photos}
    for kind, image_of in images.items():
        ids = asked([api, oembed], kind)
        assert len(ids) == (plan.tracks if kind == "tracks" else plan.artists).pending
        from_api = {i for i in ids if image_of[i] == image_url("api", i)}
        from_oembed = {i for i in ids if image_of[i] == image_url("oembed", i)}
        assert from_api | from_oembed == ids and not from_api & from_oembed  # every id written, by one of them
        assert result.served[(kind, "api")] == len(from_api) and result.served[(kind, "oembed")] == len(from_oembed)
    (call,) = lost
    assert {images[call.kind][i] for i in call.ids} == {image_url("oembed", i) for i in call.ids}  # went on


async def test_values_written_by_another_connection_during_the_run_survive(db_path: Path) -> None:
    """Between the plan and the write, another connection fills a track's album art and an artist's photo that
    the run is about to answer: both survive, and neither is counted as this run's."""
    tracks_before, artists_before = track_images(db_path), artists(db_path)
    track = sorted(i for i, url in tracks_before.items() if url is None)[0]
    artist, artist_id = one_pending_artist(artists_before)
    written: list[int] = []

    async def another_connection_writes(request: Request) -> None:
        if not written:  # the file is free: planned and let go, nothing written yet
            con = duckdb.connect(str(db_path))
            try:
                con.execute(
                    "UPDATE tracks SET album_image_url = ? WHERE spotify_track_uri = ?", [THEIRS, PREFIX + track]
                )
                con.execute("UPDATE artists SET image_url = ? WHERE artist_name = ?", [THEIRS, artist])
            finally:
                con.close()
            written.append(request.number)

    api = FakeSource("api", batch="allowed", before_request=another_connection_writes)
    result, plan = await run(db_path, Lineup(batch=(api,), single=(api,)))
    assert result.stopped is None and result.error is None and written == [1]
    assert {track} <= asked([api], "tracks") and {artist_id} <= asked([api], "artists")  # both were answered

    after, names = track_images(db_path), artists(db_path)
    assert after[track] == THEIRS and names[artist] == (artist_id, THEIRS)
    filled_tracks = sum(url is None for url in tracks_before.values()) - sum(url is None for url in after.values())
    filled_photos = sum(url is None for _, url in artists_before.values()) - sum(
        url is None for _, url in names.values()
    )
    assert result.stats["tracks"].updated == filled_tracks - 1  # theirs is not counted as ours
    assert result.stats["artists"].updated == filled_photos - 1
    assert result.stats["tracks"].found == plan.tracks.pending  # though every answer was an image
