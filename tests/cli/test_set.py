"""`backfill set`: an image by hand, journaled and marked 'manual'; checked whole before any write; applied
twice, the same overrides change nothing; nothing later (a refresh, a fallback) replaces it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from standin import Emulator
from standin.sample import World
from tests.conftest import FAST, digest, images, table
from tests.store.helpers import apply, deezer, execute

URL = "https://img.example/by-hand.jpg"
OTHER = "https://img.example/another.jpg"


def filled_track(path: Path) -> str:
    return next(
        uri for uri, url in sorted(images(path)[0].items()) if url is not None and uri.startswith("spotify:track:")
    )


def test_set_a_track_replaces_its_value_journaled_and_undo_puts_it_back(cli: Any, db_path: Path) -> None:
    uri = filled_track(db_path)
    old = images(db_path)[0][uri]
    result = cli("set", "track", uri, URL, "--db", db_path, "--json")
    assert result.code == 0, result.err
    assert result.json["replaced"] == {"tracks": 1, "artists": 0}
    assert images(db_path)[0][uri] == URL
    assert table(db_path, "SELECT kind, row_key, old_value, new_value FROM backfill_journal") == [
        ("track", uri, old, URL)
    ]
    assert table(db_path, "SELECT row_key, value, source FROM backfill_provenance") == [(uri, URL, "manual")]
    assert cli("undo", "--db", db_path, "--last").code == 0
    assert images(db_path)[0][uri] == old


def test_set_an_artist_by_name(cli: Any, db_path: Path, world: World) -> None:
    name = sorted(world.unrecoverable_artists)[0]  # no image, no id: only a person can help it
    assert cli("set", "artist", name, URL, "--db", db_path).code == 0
    assert images(db_path)[1][name] == URL
    assert table(db_path, "SELECT kind, row_key, old_value FROM backfill_journal") == [("artist", name, None)]


@pytest.mark.parametrize("header", ["kind,key,url\n", ""])
def test_a_file_with_or_without_header_applied_twice_changes_nothing_the_second_time(
    cli: Any, db_path: Path, world: World, tmp_path: Path, header: str
) -> None:
    uri, name = filled_track(db_path), sorted(world.unrecoverable_artists)[0]
    csv = tmp_path / "overrides.csv"
    csv.write_text(f'{header}track,{uri},{URL}\n\nartist,"{name}", {OTHER}\n')
    first = cli("set", "--file", csv, "--db", db_path, "--json")
    assert first.code == 0, first.err
    assert first.json["replaced"] == {"tracks": 1, "artists": 1}
    before = digest(db_path)
    again = cli("set", "--file", csv, "--db", db_path, "--json")
    assert again.code == 0, again.err
    assert again.json["replaced"] == {"tracks": 0, "artists": 0} and again.json["unchanged"] == 2
    assert digest(db_path) == before  # not even opened for writing
    assert table(db_path, "SELECT count(*) FROM backfill_journal") == [(2,)]


def test_a_value_already_in_place_is_marked_without_a_journal_entry(cli: Any, db_path: Path) -> None:
    uri = filled_track(db_path)
    url = images(db_path)[0][uri]
    result = cli("set", "track", uri, url, "--db", db_path, "--json")
    assert result.json["marked"] == {"tracks": 1, "artists": 0} and result.json["replaced"]["tracks"] == 0
    assert table(db_path, "SELECT source FROM backfill_provenance") == [("manual",)]
    assert table(db_path, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'backfill_journal'") == [(0,)]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("track,{uri},ftp://img.example/x.jpg", "line 3: 'ftp://img.example/x.jpg' is not an http(s) URL"),
        ("track,spotify:track:0000000000000000000000,{url}", "line 3: no track with URI"),
        ("artist,No Such Artist Anywhere,{url}", "line 3: no artist named 'No Such Artist Anywhere'"),
        ("track,{uri}", "line 3: 2 fields, expected 3"),
        ("album,{uri},{url}", "line 3: kind 'album' is neither"),
        ('track,"{uri},{url}', "line 3"),
        ("track,{uri},{other}", "line 3: track"),
    ],
)
def test_a_bad_line_changes_nothing_and_names_its_line(
    cli: Any, db_path: Path, tmp_path: Path, line: str, says: str
) -> None:
    uri = filled_track(db_path)
    csv = tmp_path / "overrides.csv"
    good = f"track,{uri},{URL}"
    csv.write_text(f"kind,key,url\n{good}\n{line.format(uri=uri, url=URL, other=OTHER)}\n")
    before = digest(db_path)
    result = cli("set", "--file", csv, "--db", db_path)
    assert result.code == 2
    lines = [x for x in result.err.splitlines() if x.strip()]
    assert len(lines) == 1 and says in lines[0] and str(csv) in lines[0], result.err
    assert digest(db_path) == before


def test_a_bad_url_on_the_command_line_changes_nothing(cli: Any, db_path: Path) -> None:
    before = digest(db_path)
    result = cli("set", "track", filled_track(db_path), "javascript:alert(1)", "--db", db_path)
    assert result.code == 2 and "not an http(s) URL" in result.err
    assert digest(db_path) == before


def test_a_refresh_does_not_queue_a_track_set_by_hand(cli: Any, db_path: Path, emulator: Emulator) -> None:
    assert cli("run", "--db", db_path, *FAST).code == 0
    before = cli("run", "--db", db_path, *FAST, "--refresh", "--dry-run", "--json").json
    uri = filled_track(db_path)
    assert cli("set", "track", uri, URL, "--db", db_path).code == 0
    after = cli("run", "--db", db_path, *FAST, "--refresh", "--dry-run", "--json").json
    assert after["tracks"]["pending"] == before["tracks"]["pending"] - 1
    assert cli("run", "--db", db_path, *FAST, "--refresh").code == 0
    assert images(db_path)[0][uri] == URL


def test_a_refresh_never_replaces_an_artist_set_by_hand(
    cli: Any, db_path: Path, world: World, emulator: Emulator
) -> None:
    # Two names stored with one id: the id is still asked for the other, and only the other may change.
    names = next(names for names in world.shared_artist_ids.values() if len(names) > 1)
    assert cli("run", "--db", db_path, *FAST).code == 0
    execute(db_path, f"UPDATE artists SET image_url = 'https://stale.example/x' WHERE artist_name = '{names[1]}'")
    assert cli("set", "artist", names[0], URL, "--db", db_path).code == 0
    assert cli("run", "--db", db_path, *FAST, "--refresh").code == 0
    photos = images(db_path)[1]
    assert photos[names[0]] == URL
    assert photos[names[1]] != "https://stale.example/x"  # the id was asked, and its other row refreshed


def test_a_fallback_never_replaces_a_value_set_by_hand(cli: Any, db_path: Path, world: World) -> None:
    name = sorted(world.unrecoverable_artists)[0]
    assert cli("set", "artist", name, URL, "--db", db_path).code == 0
    assert apply(db_path, [deezer("artist", name)])["artists"] == 0
    assert images(db_path)[1][name] == URL
