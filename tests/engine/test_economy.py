"""Issue 3: requests not spent. Remembered misses, album grouping, artist-id recovery, most played first,
--dry-run, and the request counts the summary gives.

The request economy is measured from the emulator's records and compared with a floor computed here from
the database and the world, independently of the tool's own planning.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from standin import Emulator, Received
from standin.sample import SampleSpec, World, build_world, preferred_image, write_history
from tests.checks import check_images, track_id, valid_id
from tests.conftest import FAST, SMALL, digest, serving, table

TRACK_ENDPOINTS = frozenset({"tracks", "track", "album", "album_tracks"})
ARTIST_ENDPOINTS = frozenset({"artists", "artist"})
PAGE = 50  # tracks in one page of an album's track list
ECONOMY = 1.25  # the most requests spent on track images, as a multiple of the floor
LARGE = SampleSpec(seed=5, tracks=3000, artists=300)
QUICK = ("--rate", "2000", "--concurrency", "8", "--source", "api")  # the larger world: no timing is asserted anywhere

# The predecessor's schema (spotify-facts.md), for small hand-made histories.
TRACKS_DDL = """CREATE TABLE tracks (
    spotify_track_uri TEXT PRIMARY KEY, track_name TEXT NOT NULL, primary_artist_name TEXT NOT NULL,
    album_name TEXT, album_image_url TEXT, release_date TEXT, release_year INT, release_decade TEXT,
    popularity INT, duration_ms INT, explicit BOOLEAN, enriched_at TIMESTAMP, primary_artist_id VARCHAR)"""
ARTISTS_DDL = """CREATE TABLE artists (
    artist_name TEXT PRIMARY KEY, genres TEXT, popularity INT, followers INT,
    spotify_artist_id TEXT, image_url TEXT, enriched_at TIMESTAMP)"""


# -- helpers --------------------------------------------------------------------------------------------


def run(cli: Any, path: Path, *extra: str, speed: tuple[str, ...] = FAST, code: int = 0) -> dict[str, Any]:
    result = cli("run", "--db", path, *speed, "--json", *extra)
    assert result.code == code, result.err
    return result.json


def since(emu: Emulator, start: int, endpoints: frozenset[str] | None = None) -> list[Received]:
    """API records from index `start` of emu.received on, optionally of some endpoints only."""
    rows = [r for r in list(emu.received)[start:] if r.endpoint != "token"]
    return [r for r in rows if endpoints is None or r.endpoint in endpoints]


def asked(records: list[Received], *endpoints: str) -> list[str]:
    return [i for r in records if r.endpoint in endpoints for i in r.ids]


def columns(path: Path, name: str) -> set[str]:
    return {c for (c,) in table(path, f"SELECT column_name FROM duckdb_columns() WHERE table_name = '{name}'")}


def has_log(path: Path) -> bool:
    return bool(table(path, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'backfill_log'")[0][0])


def log(path: Path) -> dict[tuple[str, str], str]:
    """(kind, spotify_id) -> outcome, from the tool's own table (empty if it does not exist)."""
    if not has_log(path):
        return {}
    return {(k, i): o for k, i, o in table(path, "SELECT kind, spotify_id, outcome FROM backfill_log")}


def logged(path: Path, kind: str, outcome: str | None = None) -> set[str]:
    return {i for (k, i), o in log(path).items() if k == kind and (outcome is None or o == outcome)}


def logged_ids(entries: dict[tuple[str, str], str], kind: str) -> list[str]:
    return [i for k, i in entries if k == kind]


def pending_track_rows(path: Path) -> list[tuple[str, str | None, str]]:
    """(id, album_name, primary_artist_name) of each distinct valid track id still missing art, in table order."""
    rows = table(
        path,
        "SELECT spotify_track_uri, album_name, primary_artist_name FROM tracks "
        "WHERE album_image_url IS NULL ORDER BY rowid",
    )
    seen: dict[str, tuple[str | None, str]] = {}
    for uri, album, artist in rows:
        tid = track_id(uri)
        if tid is not None and tid not in seen:
            seen[tid] = (album, artist)
    return [(tid, album, artist) for tid, (album, artist) in seen.items()]


def pending_track_ids(path: Path) -> set[str]:
    return {tid for tid, _, _ in pending_track_rows(path)}


def recoverable(path: Path) -> dict[str, str]:
    """Artist name -> the one distinct valid primary_artist_id `tracks` gives it (no column: nothing)."""
    if "primary_artist_id" not in columns(path, "tracks"):
        return {}
    ids: dict[str, set[str]] = defaultdict(set)
    for name, artist_id in table(
        path, "SELECT primary_artist_name, primary_artist_id FROM tracks WHERE primary_artist_id IS NOT NULL"
    ):
        ids[name].add(artist_id)
    return {name: next(iter(s)) for name, s in ids.items() if len(s) == 1 and valid_id(next(iter(s)))}


def artist_targets(path: Path) -> tuple[dict[str, str], int]:
    """Artist rows missing a photo: name -> id to fetch (own or recovered), and how many have no usable id."""
    rec = recoverable(path)
    targets: dict[str, str] = {}
    unusable = 0
    for name, artist_id in table(path, "SELECT artist_name, spotify_artist_id FROM artists WHERE image_url IS NULL"):
        if valid_id(artist_id):
            targets[name] = artist_id
        elif artist_id is None and name in rec:
            targets[name] = rec[name]
        else:
            unusable += 1
    return targets, unusable


def pending_artist_ids(path: Path) -> set[str]:
    return set(artist_targets(path)[0].values())


def album_pages(world: World, album_id: str) -> int:
    return math.ceil(len(world.catalog.albums[album_id].track_ids) / PAGE)


def floor_by_group(path: Path, world: World) -> tuple[dict[str, object], dict[object, int]]:
    """(pending track id -> its group, group -> the fewest single-item requests that fill it).

    Pending valid ids grouped by (album_name, primary_artist_name), a NULL album being a group of its own;
    per group: 1 for one track, else min(size, 1 + pages of the album of the group's first known track).
    An id the catalog does not know costs one request of its own.
    """
    members: dict[object, list[str]] = {}
    group_of: dict[str, object] = {}
    for tid, album, artist in pending_track_rows(path):
        if tid not in world.catalog.tracks:
            key: object = ("unknown", tid)
        else:
            key = (album, artist) if album is not None else ("no album", tid)
        group_of[tid] = key
        members.setdefault(key, []).append(tid)
    cost: dict[object, int] = {}
    for key, ids in members.items():
        if len(ids) == 1:
            cost[key] = 1
        else:
            cost[key] = min(len(ids), 1 + album_pages(world, world.catalog.tracks[ids[0]].album_id))
    return group_of, cost


def track_floor(path: Path, world: World) -> int:
    return sum(floor_by_group(path, world)[1].values())


def catalog_url(world: World, tid: str) -> str | None:
    """The art a correct backfill stores for any catalog track (history or not)."""
    return preferred_image(world.catalog.albums[world.catalog.tracks[tid].album_id].images)


def write_tracks(path: Path, world: World, track_ids: list[str]) -> None:
    """A small hand-made history: these catalog tracks with their art missing, no artists, no plays."""
    con = duckdb.connect(str(path))
    try:
        con.execute(TRACKS_DDL)
        con.execute(ARTISTS_DDL)
        catalog = world.catalog
        for tid in track_ids:
            t = catalog.tracks[tid]
            con.execute(
                "INSERT INTO tracks (spotify_track_uri, track_name, primary_artist_name, album_name, "
                "primary_artist_id) VALUES (?, ?, ?, ?, ?)",
                [
                    "spotify:track:" + tid,
                    t.name,
                    catalog.artists[t.artist_ids[0]].name,
                    catalog.albums[t.album_id].name,
                    t.artist_ids[0],
                ],
            )
    finally:
        con.close()


def expected_misses(path: Path, world: World) -> dict[tuple[str, str], str]:
    """What the log should hold after one complete run over a fresh history (computed before the run)."""
    out: dict[tuple[str, str], str] = {}
    for tid in pending_track_ids(path):
        if tid not in world.catalog.tracks:
            out[("track", tid)] = "not_found"
        elif catalog_url(world, tid) is None:
            out[("track", tid)] = "no_image"
    for artist_id in pending_artist_ids(path):
        artist = world.catalog.artists.get(artist_id)
        if artist is None:
            out[("artist", artist_id)] = "not_found"
        elif preferred_image(artist.images) is None:
            out[("artist", artist_id)] = "no_image"
    return out


# -- 1. remembered misses ---------------------------------------------------------------------------------


def test_first_run_remembers_every_miss(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    expected = expected_misses(db_path, world)
    assert {o for o in expected.values()} == {"not_found", "no_image"}, "the sample should hold both kinds of miss"
    assert {k for k, _ in expected} == {"track", "artist"}
    assert not has_log(db_path)
    started = datetime.now(UTC).replace(tzinfo=None)
    summary = run(cli, db_path)
    ended = datetime.now(UTC).replace(tzinfo=None)
    assert columns(db_path, "backfill_log") >= {"kind", "spotify_id", "outcome", "checked_at"}
    assert log(db_path) == expected
    for kind, log_kind in (("tracks", "track"), ("artists", "artist")):
        assert summary[kind]["not_found"] == len(logged(db_path, log_kind, "not_found"))
        assert summary[kind]["no_image"] == len(logged(db_path, log_kind, "no_image"))
    # checked_at is UTC and set by this run.
    for (checked_at,) in table(db_path, "SELECT checked_at FROM backfill_log"):
        assert started - timedelta(minutes=5) <= checked_at <= ended + timedelta(minutes=5)


@pytest.mark.parametrize("dev_mode", [False, True], ids=["batch", "development"])
def test_second_run_with_nothing_new_sends_nothing(
    cli, db_path: Path, emulator: Emulator, world: World, dev_mode: bool
) -> None:
    emulator.config.dev_mode = dev_mode
    first = run(cli, db_path)
    assert first["tracks"]["not_found"] and first["artists"]["not_found"]
    check_images(db_path, world, complete=True)
    remembered = log(db_path)
    before, start = digest(db_path), len(emulator.received)
    second = run(cli, db_path)
    assert emulator.received[start:] == [], "no token request and no API request"
    assert second["requests"] == 0
    for kind, log_kind in (("tracks", "track"), ("artists", "artist")):
        assert second[kind]["pending"] == 0
        assert second[kind]["remembered"] == len(logged(db_path, log_kind))
        assert second[kind]["requests"] == 0
    assert log(db_path) == remembered
    assert digest(db_path) == before, "nothing written either"


def test_retry_misses_asks_for_exactly_the_remembered_ids(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    run(cli, db_path)
    remembered = log(db_path)
    first_checked = dict(table(db_path, "SELECT spotify_id, checked_at FROM backfill_log"))
    start = len(emulator.received)
    again = run(cli, db_path, "--retry-misses")
    records = since(emulator, start)
    assert sorted(asked(records, "tracks", "track")) == sorted(logged_ids(remembered, "track"))
    assert sorted(asked(records, "artists", "artist")) == sorted(logged_ids(remembered, "artist"))
    assert again["tracks"]["pending"] == len(logged_ids(remembered, "track"))
    assert again["artists"]["pending"] == len(logged_ids(remembered, "artist"))
    assert again["tracks"]["remembered"] == again["artists"]["remembered"] == 0
    # Still misses: still remembered, checked again now.
    assert log(db_path) == remembered
    for spotify_id, checked_at in table(db_path, "SELECT spotify_id, checked_at FROM backfill_log"):
        assert checked_at >= first_checked[spotify_id]
    check_images(db_path, world, complete=True)


def test_recheck_after_days(cli, db_path: Path, emulator: Emulator) -> None:
    run(cli, db_path)
    remembered = log(db_path)
    assert len(remembered) >= 4
    # Age half of the remembered rows by ten days.
    aged = sorted(remembered)[::2]
    con = duckdb.connect(str(db_path))
    try:
        for kind, spotify_id in aged:
            con.execute(
                "UPDATE backfill_log SET checked_at = checked_at - INTERVAL 10 DAY WHERE kind = ? AND spotify_id = ?",
                [kind, spotify_id],
            )
    finally:
        con.close()

    start = len(emulator.received)
    summary = run(cli, db_path, "--recheck-after", "5")
    records = since(emulator, start)
    assert sorted(asked(records, "tracks", "track")) == sorted(i for k, i in aged if k == "track")
    assert sorted(asked(records, "artists", "artist")) == sorted(i for k, i in aged if k == "artist")
    assert summary["tracks"]["remembered"] + summary["tracks"]["pending"] == len(logged_ids(remembered, "track"))

    # Everything was just checked: a large DAYS asks for nothing, not even a token.
    start = len(emulator.received)
    summary = run(cli, db_path, "--recheck-after", "36500")
    assert emulator.received[start:] == []
    assert summary["tracks"]["pending"] == summary["artists"]["pending"] == 0

    # 0 days: every remembered miss is asked again.
    start = len(emulator.received)
    run(cli, db_path, "--recheck-after", "0")
    records = since(emulator, start)
    assert sorted(asked(records, "tracks", "track")) == sorted(logged_ids(remembered, "track"))
    assert sorted(asked(records, "artists", "artist")) == sorted(logged_ids(remembered, "artist"))
    assert log(db_path) == remembered


@pytest.mark.parametrize("days", ["1000000", "inf"])
def test_recheck_after_a_huge_number_of_days_asks_none(cli, db_path: Path, emulator: Emulator, days: str) -> None:
    """`--recheck-after` accepts any non-negative number; a huge one means "not yet", never a crash."""
    run(cli, db_path)
    start = len(emulator.received)
    result = cli("run", "--db", db_path, *FAST, "--json", "--recheck-after", days)
    assert result.code == 0, result.err
    assert emulator.received[start:] == []
    assert result.json["tracks"]["pending"] == 0


def test_verify_reports_remembered_misses(cli, db_path: Path, emulator: Emulator) -> None:
    summary = run(cli, db_path)
    report = cli("verify", "--db", db_path, "--json").json
    for kind, log_kind in (("tracks", "track"), ("artists", "artist")):
        for outcome in ("not_found", "no_image"):
            n = len(logged(db_path, log_kind, outcome))
            assert n == summary[kind][outcome]
            assert report[kind][f"remembered_{outcome}"] == n, (kind, outcome)
        assert report[kind]["pending"] == 0
    assert report["artists"]["remembered_no_image"] > 0
    assert report["tracks"]["remembered_not_found"] > 0


def test_an_id_found_on_retry_leaves_the_log(cli, tmp_path: Path, emulator: Emulator, world: World) -> None:
    """A track Spotify once answered 404 for (a passing fault) is remembered, skipped, then found on retry."""
    emulator.config.dev_mode = True
    tid = next(t for t in sorted(world.expected_track_url) if world.expected_track_url[t])
    path = tmp_path / "one.duckdb"
    write_tracks(path, world, [tid])
    emulator.inject(404, endpoint="track")
    first = run(cli, path, "--only", "tracks")
    assert first["tracks"]["not_found"] == 1
    assert log(path) == {("track", tid): "not_found"}

    start = len(emulator.received)
    skipped = run(cli, path, "--only", "tracks")
    assert emulator.received[start:] == []
    assert skipped["tracks"]["remembered"] == 1

    start = len(emulator.received)
    found = run(cli, path, "--only", "tracks", "--retry-misses")
    assert asked(since(emulator, start), "track") == [tid]
    assert found["tracks"]["updated"] == 1
    assert table(path, "SELECT album_image_url FROM tracks") == [(catalog_url(world, tid),)]
    assert log(path) == {}, "a found id is forgotten"


# -- 2. album grouping (Development Mode) ------------------------------------------------------------------


def grouping_run(
    cli: Any, path: Path, emu: Emulator, world: World, *extra: str, speed: tuple[str, ...] = FAST
) -> tuple[int, int]:
    """A complete Development Mode run: (requests spent on track images, the floor). Checks every image."""
    emu.config.dev_mode = True
    floor = track_floor(path, world)
    start = len(emu.received)
    summary = run(cli, path, *extra, speed=speed)
    check_images(path, world, complete=True)
    spent = len(since(emu, start, TRACK_ENDPOINTS))
    assert summary["tracks"]["requests"] == spent
    return spent, floor


def test_grouping_economy_small_world(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    spent, floor = grouping_run(cli, db_path, emulator, world)
    print(f"\nSMALL world {SMALL}: {spent} track requests, floor {floor}, ratio {spent / floor:.3f}")
    assert spent <= ECONOMY * floor, f"{spent} requests for a floor of {floor} ({spent / floor:.2f}x)"
    # A one-page album never needs a further page of its track list.
    for r in emulator.api():
        if r.endpoint == "album_tracks":
            assert album_pages(world, r.ids[0]) > 1, f"album_tracks for the one-page album {r.ids[0]}"


@pytest.fixture(scope="module")
def large() -> World:
    return build_world(LARGE)


def test_grouping_economy_larger_world(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, large: World) -> None:
    big = large
    path = tmp_path / "large.duckdb"
    write_history(big, path)
    with serving(big, monkeypatch) as emu:
        spent, floor = grouping_run(cli, path, emu, big, speed=QUICK)
    print(f"\nLARGER world {LARGE}: {spent} track requests, floor {floor}, ratio {spent / floor:.3f}")
    assert spent <= ECONOMY * floor, f"{spent} requests for a floor of {floor} ({spent / floor:.2f}x)"


def one_album_run(cli: Any, tmp_path: Path, emu: Emulator, world: World, ids: list[str]) -> list[Received]:
    """Development Mode over a hand-made history of these tracks; the records after the single batch probe."""
    emu.config.dev_mode = True
    path = tmp_path / "hand.duckdb"
    write_tracks(path, world, ids)
    summary = run(cli, path, "--only", "tracks")
    assert summary["tracks"]["updated"] == len(ids)
    got = dict(table(path, "SELECT spotify_track_uri, album_image_url FROM tracks"))
    for tid in ids:
        assert got["spotify:track:" + tid] == catalog_url(world, tid), tid
    records = emu.api()
    probes = [r for r in records if r.endpoint == "tracks"]
    assert len(probes) == 1 and probes[0].status == 403
    return [r for r in records if r.endpoint != "tracks"]


@pytest.mark.parametrize("past_first_page", [0, 2])
def test_long_album_pages_only_when_needed(
    cli, tmp_path: Path, emulator: Emulator, world: World, past_first_page: int
) -> None:
    assert world.long_albums, "the sample should hold an album longer than one page"
    album = world.catalog.albums[world.long_albums[0]]
    assert len(album.track_ids) > PAGE
    ids = album.track_ids[: 5 - past_first_page] + album.track_ids[PAGE + 3 : PAGE + 3 + past_first_page]
    records = one_album_run(cli, tmp_path, emulator, world, ids)
    by_endpoint = {e: [r for r in records if r.endpoint == e] for e in ("track", "album", "album_tracks")}
    assert len(by_endpoint["track"]) == 1, "one track of the group, then the album"
    assert [r.ids for r in by_endpoint["album"]] == [(album.id,)]
    # Past the first page only if a wanted track is there (at most one of them can be the fetched one).
    assert len(by_endpoint["album_tracks"]) == (1 if past_first_page else 0)


def test_long_albums_of_the_sample_cost_extra_pages_only_when_needed(
    cli, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.dev_mode = True
    run(cli, db_path)
    check_images(db_path, world, complete=True)
    for album_id in world.long_albums:
        pages = album_pages(world, album_id)
        extra = [r for r in emulator.api() if r.endpoint == "album_tracks" and r.ids == (album_id,)]
        assert len(extra) <= pages - 1, f"{album_id}: {len(extra)} extra pages of {pages}"


def test_editions_group_gets_each_editions_art(cli, tmp_path: Path, emulator: Emulator, world: World) -> None:
    assert world.editions, "the sample should hold an album released twice under one name"
    key = world.editions[0]
    albums = [world.catalog.albums[a] for a in world.groups[key]]
    urls = {preferred_image(a.images) for a in albums}
    assert len(urls) == len(albums) and None not in urls, "editions should differ in art"
    ids = [t for a in albums for t in a.track_ids[:3]]
    records = one_album_run(cli, tmp_path, emulator, world, ids)
    assert len(records) <= len(ids), "never more than one request per track"


def test_edition_groups_of_the_sample_are_right(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.config.dev_mode = True
    run(cli, db_path)
    check_images(db_path, world, complete=True)
    names = set(world.editions)
    rows = table(db_path, "SELECT spotify_track_uri, album_name, primary_artist_name, album_image_url FROM tracks")
    checked = 0
    for uri, album, artist, url in rows:
        tid = track_id(uri)
        if (album, artist) in names and tid in world.expected_track_url and uri not in world.prefilled_tracks:
            assert url == world.expected_track_url[tid], uri
            checked += 1
    assert checked


@pytest.mark.parametrize("size", [1, 2])
def test_small_group_costs_one_request_per_track(
    cli, tmp_path: Path, emulator: Emulator, world: World, size: int
) -> None:
    album = next(a for a in world.catalog.albums.values() if len(a.track_ids) >= 8 and preferred_image(a.images))
    ids = album.track_ids[:size]
    records = one_album_run(cli, tmp_path, emulator, world, ids)
    assert sorted(asked(records, "track")) == sorted(ids)
    assert [r.endpoint for r in records] == ["track"] * size, "no album call for a group of one or two"


# -- 3. artist-id recovery ---------------------------------------------------------------------------------


def test_artist_ids_recovered_from_tracks(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.config.dev_mode = True
    assert world.recoverable_artists and world.ambiguous_artists
    rec = recoverable(db_path)
    null_names = {n for (n,) in table(db_path, "SELECT artist_name FROM artists WHERE spotify_artist_id IS NULL")}
    assert {n: rec[n] for n in null_names if n in rec} == world.recoverable_artists
    _, unusable = artist_targets(db_path)
    ids_before = dict(table(db_path, "SELECT artist_name, spotify_artist_id FROM artists"))

    summary = run(cli, db_path)
    check_images(db_path, world, complete=True)
    after = {n: (i, u) for n, i, u in table(db_path, "SELECT artist_name, spotify_artist_id, image_url FROM artists")}
    for name, artist_id in world.recoverable_artists.items():
        assert after[name][0] == artist_id, f"{name}: id not recovered"
        assert after[name][1] == world.expected_artist_url[artist_id], name
    for name, artist_id in ids_before.items():
        if artist_id is not None:
            assert after[name][0] == artist_id, f"{name}: an id that was there changed"
        elif name not in world.recoverable_artists:
            assert after[name] == (None, None), f"{name}: no single id to recover, yet {after[name]}"
    for name in world.ambiguous_artists | world.unrecoverable_artists:
        assert after[name] == (None, None)
    # Straight to the artist endpoints: no search, nothing else.
    assert {r.endpoint for r in emulator.api()} <= TRACK_ENDPOINTS | ARTIST_ENDPOINTS
    assert set(world.recoverable_artists.values()) <= set(asked(emulator.api(), "artist"))
    assert summary["artists"]["invalid"] == unusable
    assert summary["artists"]["recovered_ids"] == len(world.recoverable_artists)


def test_old_schema_recovers_nothing_and_fails_nothing(cli, tmp_path: Path, emulator: Emulator) -> None:
    old = build_world(
        SampleSpec(seed=SMALL.seed, tracks=SMALL.tracks, artists=SMALL.artists, plays=SMALL.plays, old_schema=True)
    )
    path = tmp_path / "old.duckdb"
    write_history(old, path)
    assert "primary_artist_id" not in columns(path, "tracks")
    null_before = {n for (n,) in table(path, "SELECT artist_name FROM artists WHERE spotify_artist_id IS NULL")}
    assert null_before
    _, unusable = artist_targets(path)
    emulator.config.dev_mode = True
    summary = run(cli, path)
    check_images(path, old, complete=True)
    null_after = {n for (n,) in table(path, "SELECT artist_name FROM artists WHERE spotify_artist_id IS NULL")}
    assert null_after == null_before
    assert summary["artists"]["recovered_ids"] == 0
    assert summary["artists"]["invalid"] == unusable
    assert summary["artists"]["failed"] == summary["tracks"]["failed"] == 0


# -- 4. most played first ----------------------------------------------------------------------------------


def top_played(path: Path, sql: str, pending: set[str], n: int = 10) -> set[str]:
    """The n most played of `pending` (fewer if the n-th place is shared: only strictly ahead of the rest)."""
    counts = sorted(((c, k) for k, c in table(path, sql) if k in pending), reverse=True)
    if len(counts) <= n:
        return {k for _, k in counts}
    cut = counts[n][0]
    return {k for c, k in counts[:n] if c > cut}


def test_most_played_first_when_the_quota_stops_the_run(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    tracks = top_played(
        db_path,
        "SELECT spotify_track_uri, count(*) FROM plays GROUP BY 1",
        {"spotify:track:" + t for t in pending_track_ids(db_path)},
    )
    targets, _ = artist_targets(db_path)
    artists = top_played(db_path, "SELECT artist_name, count(*) FROM plays GROUP BY 1", set(targets))
    assert len(tracks) >= 5 and len(artists) >= 5
    # What fetching these first costs at best: their groups' floors, one request per artist, the two batch
    # probes. The quota allows twice that plus one request per worker (--concurrency 8): room for the
    # requests other workers spend meanwhile on less played items.
    group_of, cost = floor_by_group(db_path, world)
    best = sum(cost[g] for g in {group_of[u.removeprefix("spotify:track:")] for u in tracks}) + len(artists) + 2
    emulator.config.dev_mode = True
    emulator.config.quota = 2 * best + 8
    summary = run(cli, db_path, code=75)
    assert summary["stopped"] == "rate_limited"
    assert summary["tracks"]["remaining"] > 0 and summary["artists"]["remaining"] > 0
    check_images(db_path, world, complete=False)
    filled, artist_images = (
        dict(table(db_path, "SELECT spotify_track_uri, album_image_url FROM tracks")),
        dict(table(db_path, "SELECT artist_name, image_url FROM artists")),
    )
    track_misses, artist_misses = logged(db_path, "track"), logged(db_path, "artist")
    late_tracks = [u for u in tracks if filled[u] is None and u.removeprefix("spotify:track:") not in track_misses]
    late_artists = [n for n in artists if artist_images[n] is None and targets[n] not in artist_misses]
    assert not late_tracks and not late_artists, (
        f"within a quota of {emulator.config.quota} requests (best case {best}), "
        f"{len(late_tracks)} of the {len(tracks)} most played tracks and "
        f"{len(late_artists)} of the {len(artists)} most played artists were not reached: "
        f"{sorted(late_tracks)} {sorted(late_artists)}"
    )


def test_quota_stop_on_a_larger_history_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, large: World) -> None:
    """More jobs than the job queue holds when the quota answers: the run must still stop (exit 75), not hang.

    In a subprocess, so a hang fails this test instead of the whole session.
    """
    path = tmp_path / "large.duckdb"
    write_history(large, path)
    with serving(large, monkeypatch) as emu:
        emu.config.dev_mode = True
        emu.config.quota = 100
        command = [sys.executable, "-m", "backfill", "run", "--db", str(path), *FAST, "--json"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=12)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the run did not end after the quota answer ({len(emu.api())} requests received)")
    assert done.returncode == 75, done.stderr
    assert json.loads(done.stdout)["stopped"] == "rate_limited"
    check_images(path, large, complete=False)


def test_no_plays_table(cli, tmp_path: Path, emulator: Emulator) -> None:
    # Same seed and sizes as the session world: same catalog, so the session's emulator serves it.
    quiet = build_world(SampleSpec(seed=SMALL.seed, tracks=SMALL.tracks, artists=SMALL.artists, plays=0))
    path = tmp_path / "noplays.duckdb"
    write_history(quiet, path)
    assert not columns(path, "plays")
    emulator.config.dev_mode = True
    summary = run(cli, path)
    check_images(path, quiet, complete=True)
    assert summary["tracks"]["updated"] > 0 and summary["artists"]["updated"] > 0
    dry = cli("run", "--db", path, "--dry-run", "--json")
    assert dry.code == 0, dry.err


# -- 5. --dry-run ------------------------------------------------------------------------------------------


def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)


def check_estimate(report: dict[str, Any], tracks: int, artists: int, rate: float) -> None:
    requests = report["requests"]
    assert requests["batch"] == math.ceil(tracks / 50) + math.ceil(artists / 50)
    assert requests["one_per_item"] == tracks + artists
    assert 0 < requests["development_mode"] <= requests["one_per_item"]
    assert report["rate"] == rate
    for key in ("batch", "development_mode", "one_per_item"):
        assert report["seconds"][key] == pytest.approx(requests[key] / rate, abs=0.051), key


def test_dry_run_json(cli, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    no_credentials(monkeypatch)
    before = digest(db_path)
    tracks, artists = len(pending_track_ids(db_path)), len(pending_artist_ids(db_path))
    _, unusable = artist_targets(db_path)
    result = cli("run", "--db", db_path, "--dry-run", "--json", "--rate", "4")
    assert result.code == 0, result.err
    report = result.json
    assert report["dry_run"] is True
    assert report["tracks"]["pending"] == tracks
    assert report["artists"]["pending"] == artists
    assert report["artists"]["invalid"] == unusable
    assert report["tracks"]["remembered"] == report["artists"]["remembered"] == 0
    check_estimate(report, tracks, artists, 4.0)
    assert emulator.received == [], "no network"
    assert digest(db_path) == before, "no writes"
    assert not has_log(db_path)


def test_dry_run_text(cli, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    no_credentials(monkeypatch)
    before = digest(db_path)
    tracks, artists = len(pending_track_ids(db_path)), len(pending_artist_ids(db_path))
    result = cli("run", "--db", db_path, "--dry-run", "--rate", "2", "--source", "api")
    assert result.code == 0, result.err
    text = result.out
    assert "DRY RUN" in text
    batch = math.ceil(tracks / 50) + math.ceil(artists / 50)
    for number in (tracks, artists, batch, tracks + artists):
        assert f"{number:,}" in text, number
    assert "2/s" in text
    assert "Development Mode" in text
    # One request per item at 2/s takes minutes: the time is given.
    assert f"{round((tracks + artists) / 2) // 60} min" in text
    assert emulator.received == []
    assert digest(db_path) == before


def test_dry_run_skips_remembered_misses(
    cli, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(cli, db_path, "--only", "tracks")
    remembered = len(logged(db_path, "track"))
    assert remembered
    no_credentials(monkeypatch)
    before, start = digest(db_path), len(emulator.received)
    artists = len(pending_artist_ids(db_path))
    report = cli("run", "--db", db_path, "--dry-run", "--json").json
    assert report["tracks"]["pending"] == 0
    assert report["tracks"]["remembered"] == remembered
    assert report["artists"]["pending"] == artists
    check_estimate(report, 0, artists, report["rate"])
    retry = cli("run", "--db", db_path, "--dry-run", "--json", "--retry-misses").json
    assert retry["tracks"]["pending"] == remembered
    assert retry["tracks"]["remembered"] == 0
    check_estimate(retry, remembered, artists, retry["rate"])
    assert emulator.received[start:] == []
    assert digest(db_path) == before


# -- 6. requests per kind, and saved -----------------------------------------------------------------------


@pytest.mark.parametrize("dev_mode", [False, True], ids=["batch", "development"])
def test_requests_per_kind_and_saved(cli, db_path: Path, emulator: Emulator, dev_mode: bool) -> None:
    emulator.config.dev_mode = dev_mode
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 0, result.err
    summary = result.json
    records = emulator.api()
    per_kind = {
        "tracks": len([r for r in records if r.endpoint in TRACK_ENDPOINTS]),
        "artists": len([r for r in records if r.endpoint in ARTIST_ENDPOINTS]),
    }
    assert summary["requests"] == len(records) == sum(per_kind.values())
    for kind, n in per_kind.items():
        s = summary[kind]
        assert s["requests"] == n, kind
        assert s["remaining"] == 0
        assert s["requests_saved"] == s["pending"] - n, kind
    assert summary["tracks"]["requests_saved"] > 0
    if not dev_mode:
        assert summary["artists"]["requests_saved"] > 0
    # The text summary (on stderr with --json) says so too.
    saved = summary["tracks"]["requests_saved"]
    assert f"{saved:,} saved vs one per item" in result.err
