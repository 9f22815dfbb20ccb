"""`run --refresh` and `undo`: changed images replaced and journaled, unchanged ones not written, and undo
puts back exactly what was there, never over a value changed since."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from standin import Emulator
from standin.catalog import Image
from standin.sample import World, preferred_image
from tests.checks import other_columns, track_id, valid_id
from tests.conftest import AUTO, FAST, digest, images, serving, table

NEW_HOST = "https://image-cdn-fa.spotifycdn.com/image/"


def changed_world(world: World, db: Path, *, albums_changed: int = 6) -> World:
    """A copy of the world where Spotify changed some covers and photos (and, for one album, only a size
    a backfill does not store)."""
    catalog = copy.deepcopy(world.catalog)
    stored = {track_id(uri) for uri, url in images(db)[0].items() if url is not None}
    albums = sorted({catalog.tracks[i].album_id for i in stored if i in catalog.tracks})
    for n, album_id in enumerate(albums[:albums_changed]):
        album = catalog.albums[album_id]
        if not album.images:
            continue
        if n == 5:  # only the 64 px one changes: the stored (nearest 300 px) image stays the same
            album.images = [im if im.width != 64 else Image(NEW_HOST + "1" * 40, 64, 64) for im in album.images]
        else:
            album.images = [
                Image(f"{NEW_HOST}{n:04x}{i:x}" + "a" * 35, im.width, im.height) for i, im in enumerate(album.images)
            ]
    photos = {
        i for (i,) in table(db, "SELECT spotify_artist_id FROM artists WHERE image_url IS NOT NULL") if valid_id(i)
    }
    for n, artist_id in enumerate(sorted(i for i in photos if i in catalog.artists)[:3]):
        artist = catalog.artists[artist_id]
        artist.images = [
            Image(f"{NEW_HOST}b{n:x}{i:x}" + "c" * 37, im.width, im.height) for i, im in enumerate(artist.images)
        ]
    return dataclasses.replace(world, catalog=catalog)


def expected_after(db: Path, world: World) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """What each row should hold after a refresh against `world`: the catalog's image where it has one."""
    tracks, artists = images(db)
    catalog = world.catalog
    for uri, url in tracks.items():
        tid = track_id(uri)
        if url is not None and tid in catalog.tracks:
            tracks[uri] = preferred_image(catalog.albums[catalog.tracks[tid].album_id].images) or url
    ids = dict(table(db, "SELECT artist_name, spotify_artist_id FROM artists"))
    for name, url in artists.items():
        if url is not None and ids[name] in catalog.artists:
            artists[name] = preferred_image(catalog.artists[ids[name]].images) or url
    return tracks, artists


def journal(db: Path) -> list[tuple[Any, ...]]:
    return table(db, "SELECT kind, row_key, old_value, new_value, undone_at IS NULL FROM backfill_journal ORDER BY seq")


def diff(before: dict[str, str | None], after: dict[str, str | None], kind: str) -> set[tuple[str, str, Any, Any]]:
    return {(kind, key, before[key], after[key]) for key in before if before[key] != after[key]}


@pytest.fixture
def filled(cli, db_path: Path, emulator: Emulator) -> Path:
    assert cli("run", "--db", db_path, *FAST).code == 0
    return db_path


def test_refresh_replaces_changed_images_journals_them_and_undo_restores(
    cli, filled: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = filled
    before = images(db)
    rest_before = other_columns(db)
    now = changed_world(world, db)
    want_tracks, want_artists = expected_after(db, now)
    with serving(now, monkeypatch):
        run = cli("run", "--db", db, "--refresh", *FAST, "--json")
        assert run.code == 0, run.err
        after = images(db)
        assert after == (want_tracks, want_artists)
        changed = diff(before[0], after[0], "track") | diff(before[1], after[1], "artist")
        assert {k for k, *_ in changed} == {"track", "artist"}
        assert {row[:4] for row in journal(db)} == changed and len(journal(db)) == len(changed)
        assert run.json["replaced"] == {
            "tracks": sum(k == "track" for k, *_ in changed),
            "artists": sum(k == "artist" for k, *_ in changed),
        }
        assert other_columns(db) == rest_before
        # Nothing changed since: a second refresh writes nothing.
        again = cli("run", "--db", db, "--refresh", *FAST, "--json")
        assert again.json["replaced"] == {"tracks": 0, "artists": 0}
        assert len(journal(db)) == len(changed)

    undone = cli("undo", "--db", db, "--last", "--json")  # no credentials needed
    assert undone.code == 0, undone.err
    assert images(db) == before
    assert undone.json["restored"] == run.json["replaced"] and undone.json["kept"] == []
    assert all(not standing for *_, standing in journal(db))
    assert other_columns(db) == rest_before
    assert "Nothing to undo" in cli("undo", "--db", db, "--last").out


def test_undo_leaves_a_value_changed_since_alone(cli, filled: Path, world: World, monkeypatch) -> None:
    db = filled
    before = images(db)
    with serving(changed_world(world, db), monkeypatch):
        assert cli("run", "--db", db, "--refresh", *FAST).code == 0
    changed = sorted(diff(before[0], images(db)[0], "track"))
    assert len(changed) >= 2
    _, mine, _, _ = changed[0]
    con = duckdb.connect(str(db))
    con.execute("UPDATE tracks SET album_image_url = 'set by hand' WHERE spotify_track_uri = ?", [mine])
    con.close()

    result = cli("undo", "--db", db, "--last")
    assert result.code == 0
    assert "Left alone" in result.out and mine in result.out
    tracks, artists = images(db)
    assert tracks[mine] == "set by hand"
    assert {**tracks, mine: before[0][mine]} == before[0] and artists == before[1]


def test_older_than_skips_what_a_refresh_just_checked(cli, filled: Path, emulator: Emulator) -> None:
    db = filled
    assert cli("run", "--db", db, "--refresh", *FAST).code == 0
    asked = len(emulator.api())
    skipped = cli("run", "--db", db, "--refresh", "--older-than", "1", *FAST, "--json").json
    assert len(emulator.api()) == asked  # every id was checked within the day: no request
    assert skipped["tracks"]["pending"] == skipped["artists"]["pending"] == 0
    idle = cli("run", "--db", db, "--refresh", "--older-than", "1", *FAST).out  # one line, not a table of zeros
    assert " ".join(idle.split()) == "Nothing to refresh: no row has an image with a usable id, or --older-than " + (
        "skipped them all."
    )
    again = cli("run", "--db", db, "--refresh", "--older-than", "0", *FAST, "--json").json
    assert again["tracks"]["pending"] > 0 and len(emulator.api()) > asked
    assert cli("run", "--db", db, "--older-than", "1").code == 2  # without --refresh


def test_a_normal_run_still_fills_only_empty_images(cli, filled: Path, world: World, monkeypatch) -> None:
    before = images(filled)
    with serving(changed_world(world, filled), monkeypatch) as emu:
        result = cli("run", "--db", filled, "--retry-misses", *FAST)
        assert result.code == 0
        assert emu.api()  # the misses were asked again
    tracks, artists = images(filled)
    assert all(tracks[k] == v for k, v in before[0].items() if v is not None)
    assert all(artists[k] == v for k, v in before[1].items() if v is not None)


def test_quota_mid_refresh_journals_exactly_what_changed(cli, filled: Path, world: World, monkeypatch) -> None:
    db = filled
    before = images(db)
    with serving(changed_world(world, db, albums_changed=1000), monkeypatch) as emu:
        emu.config.dev_mode = True  # one request per item: the quota falls mid-run
        emu.config.quota = 40
        result = cli("run", "--db", db, "--refresh", *FAST, "--json")
        assert result.code == 75, result.err
        assert result.json["stopped"] == "rate_limited"
    after = images(db)
    changed = diff(before[0], after[0], "track") | diff(before[1], after[1], "artist")
    assert changed and {row[:4] for row in journal(db)} == changed
    assert result.json["tracks"]["remaining"] > 0  # stopped part way
    assert cli("undo", "--db", db, "--last").code == 0
    assert images(db) == before


def test_ctrl_c_mid_refresh_journals_exactly_what_changed(filled: Path, world: World, monkeypatch) -> None:
    db = filled
    before = images(db)
    with serving(changed_world(world, db, albums_changed=1000), monkeypatch) as emu:
        emu.config.dev_mode = True
        emu.config.latency = 0.01
        # The Web API's single-item calls (Development Mode), so that its traffic shows how far the run got.
        args = ["run", "--db", str(db), "--refresh", "--source", "api", "--rate", "100", "--json"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "backfill", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + 60  # a hang guard, not a measurement
        while len(emu.api()) < 60:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert json.loads(out)["stopped"] == "interrupted"
    after = images(db)
    changed = diff(before[0], after[0], "track") | diff(before[1], after[1], "artist")
    assert changed and {row[:4] for row in journal(db)} == changed
    assert json.loads(out)["tracks"]["remaining"] > 0  # stopped part way
    subprocess.run([sys.executable, "-m", "backfill", "undo", "--db", str(db), "--last"], check=True, env=os.environ)
    assert images(db) == before


def test_undo_since_a_time_keeps_older_changes(cli, filled: Path, world: World, monkeypatch) -> None:
    db = filled
    first = changed_world(world, db)
    with serving(first, monkeypatch):
        assert cli("run", "--db", db, "--refresh", *FAST).code == 0
    after_first = images(db)
    ((cut,),) = table(db, "SELECT max(changed_at) + INTERVAL 1 MILLISECOND FROM backfill_journal")
    second = copy.deepcopy(first)
    for album in second.catalog.albums.values():  # every cover changes again
        album.images = [Image(im.url[:-6] + "dddddd", im.width, im.height) for im in album.images]
    time.sleep(0.01)  # the second run's changes come strictly after `cut`
    with serving(second, monkeypatch):
        assert cli("run", "--db", db, "--refresh", *FAST).code == 0
    assert images(db) != after_first
    result = cli("undo", "--db", db, "--since", cut.isoformat() + "+00:00", "--json")
    assert result.code == 0, result.err
    assert images(db) == after_first  # the second run undone, the first kept
    assert result.json["restored"]["tracks"] > 0
    assert cli("undo", "--db", db, "--since", "yesterday").code == 2


def constraints_and_indexes(db: Path) -> list[tuple[Any, ...]]:
    """Keys, constraints and indexes on the tables a refresh creates: DuckDB 1.0 cannot read 2.0's index data."""
    ours = "table_name IN ('backfill_journal', 'backfill_refreshed')"
    return table(db, f"SELECT table_name, constraint_type FROM duckdb_constraints() WHERE {ours}") + table(
        db, f"SELECT table_name, index_name FROM duckdb_indexes() WHERE {ours}"
    )


def test_the_same_image_on_another_host_is_not_replaced(cli, filled: Path, world: World, monkeypatch) -> None:
    """oEmbed hands out the Web API's image ids on another CDN host: switching source replaces nothing."""
    db = filled
    with serving(changed_world(world, db), monkeypatch):
        assert cli("run", "--db", db, "--refresh", *FAST).code == 0  # the Web API's hosts
        before, entries = images(db), journal(db)
        assert any(url.startswith(NEW_HOST) for url in before[0].values() if url)  # oEmbed's host: the same
        assert any(url.startswith("https://i.scdn.co/image/") for url in before[0].values() if url)
        run = cli("run", "--db", db, "--refresh", *AUTO, "--source", "oembed", "--json")
        assert run.code == 0, run.err
        assert run.json["tracks"]["pending"] > 0 and run.json["tracks"]["no_image"] < run.json["tracks"]["pending"]
    assert run.json["replaced"] == {"tracks": 0, "artists": 0}
    assert images(db) == before and journal(db) == entries
    assert journal(db) and table(db, "SELECT count(*) FROM backfill_refreshed")[0][0] > 0
    assert constraints_and_indexes(db) == []


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE backfill_journal (seq BIGINT, kind VARCHAR, row_key VARCHAR)",
        "CREATE TABLE backfill_refreshed (kind VARCHAR, spotify_id VARCHAR, checked_at VARCHAR)",
        "CREATE VIEW backfill_journal AS SELECT 1 AS seq",
    ],
)
def test_a_table_of_ours_in_another_shape_is_refused_before_any_request(
    cli, db_path: Path, emulator: Emulator, statement: str
) -> None:
    con = duckdb.connect(str(db_path))
    con.execute(statement)
    con.close()
    before = digest(db_path)
    for args in (("run", "--refresh", *FAST), ("undo", "--last")):
        result = cli(*args, "--db", db_path)
        assert result.code == 2, (args, result.err)
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and statement.split()[2] in lines[0], lines
    assert digest(db_path) == before
    assert emulator.received == []


def test_a_journal_with_a_key_from_an_earlier_version_is_rebuilt_plain(
    cli, filled: Path, world: World, monkeypatch
) -> None:
    """The first refresh created its tables with PRIMARY KEYs, which made the file unreadable for DuckDB 1.0."""
    db = filled
    with serving(changed_world(world, db), monkeypatch):
        assert cli("run", "--db", db, "--refresh", *FAST).code == 0
    entries = journal(db)
    con = duckdb.connect(str(db))
    for name, key in (("backfill_journal", "seq"), ("backfill_refreshed", "kind, spotify_id")):
        con.execute(f"CREATE TABLE keyed AS SELECT * FROM {name}")
        con.execute(f"DROP TABLE {name}")
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM keyed WITH NO DATA")
        con.execute(f"ALTER TABLE {name} ADD PRIMARY KEY ({key})")
        con.execute(f"INSERT INTO {name} SELECT * FROM keyed")
        con.execute("DROP TABLE keyed")
    con.close()
    assert {name for name, _ in constraints_and_indexes(db)} == {"backfill_journal", "backfill_refreshed"}

    assert cli("run", "--db", db, *FAST).code == 0  # a normal run, with nothing to fetch
    assert constraints_and_indexes(db) == [] and journal(db) == entries
    assert cli("undo", "--db", db, "--last").code == 0
    assert all(not standing for *_, standing in journal(db))


def test_undo_walks_a_row_changed_by_two_refreshes_back_to_its_first_value(
    cli, filled: Path, world: World, monkeypatch
) -> None:
    db = filled
    before = images(db)
    ((start,),) = table(db, "SELECT current_timestamp::TIMESTAMP")  # UTC, as the journal's times
    first = changed_world(world, db)
    second = copy.deepcopy(first)
    for album in second.catalog.albums.values():  # every cover changes again
        album.images = [Image(im.url[:-6] + "dddddd", im.width, im.height) for im in album.images]
    for now in (first, second):
        with serving(now, monkeypatch):
            assert cli("run", "--db", db, "--refresh", *FAST).code == 0
    twice = table(db, "SELECT count(*) FROM (SELECT row_key FROM backfill_journal GROUP BY 1 HAVING count(*) = 2)")
    assert twice[0][0] > 0
    result = cli("undo", "--db", db, "--since", start.isoformat() + "+00:00", "--json")
    assert result.code == 0, result.err
    assert images(db) == before and result.json["kept"] == []


def test_a_refresh_says_what_it_checked_replaced_and_left(cli, filled: Path, world: World, monkeypatch) -> None:
    now = changed_world(world, filled)
    con = duckdb.connect(str(filled))  # a second name for each artist with a photo: one answer, two rows replaced
    con.execute(
        "INSERT INTO artists (artist_name, spotify_artist_id, image_url) "
        "SELECT artist_name || ' (alias)', spotify_artist_id, image_url FROM artists WHERE image_url IS NOT NULL"
    )
    con.close()
    with serving(now, monkeypatch):
        run = cli("run", "--db", filled, "--refresh", *FAST, "--json")
    assert run.code == 0, run.err
    text, doc = run.err, run.json
    assert "REFRESH COMPLETE" in text and "BACKFILL" not in text
    assert "Pending:" not in text
    for kind in ("tracks", "artists"):
        s = doc[kind]
        checked = s["pending"] - s["failed"] - s["remaining"]
        section = text[text.index(kind.upper()) :]
        assert re.search(rf"Checked:\s+{checked:,}\s", section)
        assert re.search(rf"Replaced:\s+{doc['replaced'][kind]:,}\s", section)
        ids = _replaced_ids(filled, kind)  # two names may share an artist id: one answer, two rows
        assert re.search(rf"Unchanged:\s+{checked - ids:,}\s", section)
    assert doc["replaced"]["artists"] > _replaced_ids(filled, "artists") > 0  # the alias rows count as rows


def _replaced_ids(db: Path, kind: str) -> int:
    if kind == "tracks":
        sql = "SELECT count(DISTINCT row_key) FROM backfill_journal WHERE kind = 'track'"
    else:
        sql = """SELECT count(DISTINCT a.spotify_artist_id) FROM backfill_journal j
                 JOIN artists a ON a.artist_name = j.row_key WHERE j.kind = 'artist'"""
    return int(table(db, sql)[0][0])


def test_a_refresh_dry_run_counts_rows_with_an_image_and_the_ids_just_checked(cli, filled: Path) -> None:
    with_image = duckdb.connect(str(filled), read_only=True)
    tracks = with_image.execute("SELECT count(*) FROM tracks WHERE album_image_url IS NOT NULL").fetchone()
    with_image.close()
    assert cli("run", "--db", filled, "--refresh", *FAST).code == 0
    out = cli("run", "--db", filled, "--refresh", "--older-than", "1", "--dry-run").out
    assert "DRY RUN (refresh): nothing fetched, nothing written" in out
    tracks_part = out[out.index("TRACKS") : out.index("ARTISTS")]
    assert re.search(rf"Rows with an image:\s+{tracks[0]:,}\n", tracks_part), out
    assert re.search(r"Just checked, skipped:\s+[1-9]", tracks_part) and "without an image" not in out
    plain = cli("run", "--db", filled, "--dry-run").out
    assert "DRY RUN: nothing" in plain and "Rows without an image:" in plain and "Just checked" not in plain
