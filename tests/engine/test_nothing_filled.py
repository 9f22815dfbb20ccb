"""Runs that fill nothing say so, stop before spending the day's quota, and remember nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from backfill.engine.watchdog import EARLY_STOP_ANSWERS
from standin import Emulator
from standin.sample import SampleSpec, World, build_world
from tests.checks import check_images
from tests.conftest import AUTO, SMALL, serving, table
from tests.engine.test_economy import ARTISTS_DDL, TRACKS_DDL


def log_rows(path: Path) -> list[Any]:
    try:
        return table(path, "SELECT * FROM backfill_log")
    except Exception:  # no log table: nothing remembered
        return []


def test_an_api_url_without_v1_stops_early_and_says_why(
    cli: Any, db_path: Path, emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPOTIFY_API_URL", emulator.base_url)  # the common slip: no /v1
    result = cli("run", "--db", db_path, *AUTO, "--json")
    assert result.code == 1
    assert "NOTHING FILLED" in result.err and "COMPLETE" not in result.err
    assert "HTTP 404" in result.json["error"] and "SPOTIFY_API_URL" in result.json["error"]
    answered = sum(result.json[k]["failed"] + result.json[k]["not_found"] for k in ("tracks", "artists"))
    assert answered <= EARLY_STOP_ANSWERS + 100, "it stopped early instead of asking for everything"
    assert log_rows(db_path) == []
    monkeypatch.setenv("SPOTIFY_API_URL", emulator.api_url)
    assert cli("run", "--db", db_path, *AUTO).code == 0
    check_images(db_path, world, complete=True)


def test_another_catalogue_stops_after_a_few_hundred_not_found_and_remembers_none(
    cli: Any, db_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = build_world(SampleSpec(seed=SMALL.seed + 1, tracks=SMALL.tracks, artists=SMALL.artists))
    with serving(other, monkeypatch, dev_mode=True) as emu:  # the emulator of another world than the history's
        result = cli("run", "--db", db_path, *AUTO, "--json")
        sent = len(emu.api()) + len(emu.oembed_requests())
    assert result.code == 1
    assert "NOTHING FILLED" in result.err
    assert "catalogue" in result.json["error"] and "404" in result.json["error"]
    assert sent < EARLY_STOP_ANSWERS + 50, "the day's requests were not spent"
    assert log_rows(db_path) == [], "a wrong catalogue's misses are not remembered"
    assert "not remembered" in result.err


def test_a_small_run_of_real_misses_is_still_remembered(cli: Any, tmp_path: Path, emulator: Emulator) -> None:
    path = tmp_path / "few.duckdb"
    con = duckdb.connect(str(path))
    con.execute(TRACKS_DDL)
    con.execute(ARTISTS_DDL)
    for i in range(3):  # well-formed ids the catalogue does not know: deleted tracks, say
        con.execute("INSERT INTO tracks (spotify_track_uri, track_name, primary_artist_name) VALUES (?, 't', 'a')",
                    [f"spotify:track:{'0' * 21}{i}"])  # fmt: skip
    con.close()
    result = cli("run", "--db", path, *AUTO, "--only", "tracks", "--json")
    assert result.code == 0
    assert result.json["tracks"]["not_found"] == 3
    assert len(log_rows(path)) == 3


@pytest.mark.parametrize(("misses", "kept"), [(19, 19), (20, 0), (50, 0)])
def test_a_run_of_only_misses_remembers_them_only_below_twenty(
    misses: int, kept: int, cli: Any, tmp_path: Path, emulator: Emulator
) -> None:
    """Too few to judge (under 20): real misses, remembered. From 20 on, a run that found nothing else looks like
    the wrong catalogue, even when it ends normally, long before the early stop: none is remembered."""
    path = tmp_path / "misses.duckdb"
    con = duckdb.connect(str(path))
    con.execute(TRACKS_DDL)
    con.execute(ARTISTS_DDL)
    uris = [f"spotify:track:{i:022d}" for i in range(misses)]  # well-formed ids the catalogue does not know
    con.executemany("INSERT INTO tracks (spotify_track_uri, track_name, primary_artist_name) VALUES (?, 't', 'a')",
                    [[u] for u in uris])  # fmt: skip
    con.close()
    result = cli("run", "--db", path, *AUTO, "--only", "tracks", "--json")
    assert result.json["stopped"] is None
    assert result.json["tracks"]["not_found"] == misses
    assert len(log_rows(path)) == kept


@pytest.mark.parametrize("path", ["/v1/oembed", "/oembedx", ":9/oembed"])
def test_a_wrong_oembed_url_gets_a_hint_about_spotify_oembed_url_only(
    path: str, cli: Any, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://127.0.0.1:9/oembed" if path.startswith(":") else emulator.base_url + path
    monkeypatch.setenv("SPOTIFY_OEMBED_URL", url)
    result = cli("run", "--db", db_path, *AUTO, "--source", "oembed", "--retries", "0", "--json")
    assert result.code == 1
    hint = result.json["error"]
    assert "SPOTIFY_OEMBED_URL" in hint, hint
    assert "SPOTIFY_API_URL" not in hint and "SPOTIFY_TOKEN_URL" not in hint, hint


def test_the_web_apis_hints_name_its_own_settings(
    cli: Any, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPOTIFY_API_URL", emulator.base_url + "/v2")
    result = cli("run", "--db", db_path, *AUTO, "--source", "api", "--retries", "0", "--json")
    assert result.code == 1
    assert "SPOTIFY_API_URL" in result.json["error"] and "SPOTIFY_OEMBED_URL" not in result.json["error"]
