"""A source that cannot serve is given up quickly, naming its host; in `auto` the other source does its work."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from standin import Emulator
from standin.sample import World
from tests.checks import check_images
from tests.conftest import AUTO, FAST, table


def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_oembed_stops_at_once_naming_the_host(cli, db_path: Path, monkeypatch) -> None:
    port = closed_port()
    monkeypatch.setenv("SPOTIFY_OEMBED_URL", f"http://127.0.0.1:{port}/oembed")
    result = cli("run", "--db", db_path, *AUTO, "--json")
    assert result.code == 1, result.err
    doc = result.json
    assert f"127.0.0.1:{port}" in doc["error"] and "cannot be reached" in doc["error"]
    assert "answers were" not in result.err
    # Failures are not answers: nothing is "answered by" oEmbed, and far fewer than 200 items were tried.
    assert doc["tracks"]["served_by"] == {} and doc["artists"]["served_by"] == {}
    assert doc["tracks"]["failed"] + doc["artists"]["failed"] < 50
    assert "Answered by" not in result.err


@pytest.mark.parametrize("fault", ["mute", "html", "json-list", "json-string", "redirect-elsewhere"])
def test_oembed_that_is_no_oembed_is_given_up(cli, db_path: Path, emulator: Emulator, monkeypatch, fault) -> None:
    no_credentials(monkeypatch)
    emulator.config.oembed.fault = fault
    monkeypatch.setenv("BACKFILL_TIMEOUT", "0.3")
    monkeypatch.setenv("BACKFILL_GIVE_UP_AFTER", "0")
    result = cli("run", "--db", db_path, *AUTO, "--retries", "1", "--json")
    assert result.code == 1, result.err
    error = result.json["error"]
    assert "oEmbed" in error and emulator.base_url.split("//")[1] in error
    assert ("no answer within 0.3 s" if fault == "mute" else "is not an oEmbed endpoint") in error
    assert len(emulator.oembed_requests()) < 40  # the first few answers decide, not 200 items times retries
    assert result.json["tracks"]["updated"] == 0 and result.json["tracks"]["not_found"] == 0


def test_mute_oembed_in_auto_moves_its_work_to_the_web_api(
    cli, db_path: Path, emulator: Emulator, world: World, monkeypatch
) -> None:
    emulator.config.dev_mode = True
    emulator.config.oembed.fault = "mute"
    monkeypatch.setenv("BACKFILL_TIMEOUT", "0.3")
    monkeypatch.setenv("BACKFILL_GIVE_UP_AFTER", "0")
    result = cli("run", "--db", db_path, *AUTO, "--retries", "1", "--json")
    assert result.code == 0, result.err
    assert "no answer within 0.3 s" in result.json["given_up"]["oembed"]
    check_images(db_path, world, complete=True)


def test_spent_quota_in_auto_moves_to_oembed_and_is_remembered(
    cli, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.quota = 0
    result = cli("run", "--db", db_path, *AUTO, "--only", "tracks", "--json")
    assert result.code == 0, result.err
    assert "quota" in result.json["given_up"]["api"]
    assert result.json["requests_by_source"]["api"] == 1  # the batch probe, then oEmbed for everything
    tracks = result.json["tracks"]
    assert tracks["pending"] > 0 and tracks["failed"] == 0 and tracks["remaining"] == 0
    ((until, quota),) = table(db_path, "SELECT resume_after, quota FROM backfill_waits WHERE source = 'api'")
    assert quota is True and until is not None

    # A later run before that time sends the Web API nothing (not even for a token).
    before = len(emulator.received)
    again = cli("run", "--db", db_path, *AUTO, "--json")
    assert again.code == 0, again.err
    assert [r.endpoint for r in emulator.received[before:] if r.endpoint != "oembed"] == []
    check_images(db_path, world, complete=True)

    only_api = cli("run", "--db", db_path, *FAST, "--retry-misses", "--json")
    assert only_api.code == 75
    assert "--source oembed" in only_api.err
    assert [r.endpoint for r in emulator.received[before:] if r.endpoint != "oembed"] == []


def test_api_only_quota_stop_says_oembed_would_go_on(cli, db_path: Path, emulator: Emulator) -> None:
    emulator.config.quota = 0
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 75, result.err
    assert "`--source oembed` (or the default, auto) would go on" in result.err


def test_failures_are_not_counted_as_answers(cli, db_path: Path, emulator: Emulator, monkeypatch) -> None:
    no_credentials(monkeypatch)
    emulator.config.oembed.error_rate = 1.0  # every oEmbed request answers 5xx
    result = cli("run", "--db", db_path, *AUTO, "--retries", "0", "--json")
    assert result.code == 1, result.err
    doc = result.json
    assert doc["tracks"]["failed"] + doc["artists"]["failed"] > 0
    assert doc["tracks"]["served_by"] == {} and doc["artists"]["served_by"] == {}
