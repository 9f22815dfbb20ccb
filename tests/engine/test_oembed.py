"""oEmbed as a source: no credentials, no Web API quota, its own pace and gate, and the same guarantees."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from backfill.sources.api import SpotifyClient
from backfill.sources.auth import TokenSource
from backfill.sources.http import ClientOptions
from backfill.sources.oembed import OEmbedClient
from standin import Emulator
from standin.oembed import FAULTS, THUMBNAIL_HOST
from standin.sample import World
from tests.checks import check_images
from tests.conftest import AUTO, CLIENT_ID, CLIENT_SECRET, digest, table


def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)


def remembered(path: Path) -> set[tuple[str, str]]:
    try:
        return set(table(path, "SELECT kind, spotify_id FROM backfill_log"))
    except Exception:  # no log table: nothing remembered
        return set()


def test_no_credentials_fills_everything_from_oembed_without_a_token(
    cli: Any, db_path: Path, emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_credentials(monkeypatch)
    result = cli("run", "--db", db_path, *AUTO, "--json")
    assert result.code == 0, result.err
    check_images(db_path, world, complete=True)
    assert emulator.token_requests() == [] and emulator.api() == []
    assert result.json["requests_by_source"] == {"api": 0, "oembed": len(emulator.oembed_requests())}
    assert result.json["tracks"]["served_by"] == {"oembed": result.json["tracks"]["pending"]}
    # Stored exactly as served: oEmbed's CDN host, not the Web API's.
    urls = [u for (u,) in table(db_path, "SELECT album_image_url FROM tracks") if u and u.startswith(THUMBNAIL_HOST)]
    assert len(urls) == result.json["tracks"]["updated"]

    before, sent = digest(db_path), len(emulator.received)
    again = cli("run", "--db", db_path, *AUTO, "--json")
    assert again.code == 0
    assert emulator.received[sent:] == [], "a second run with nothing new sends nothing"
    assert digest(db_path) == before


def test_source_oembed_ignores_credentials(cli: Any, db_path: Path, emulator: Emulator, world: World) -> None:
    result = cli("run", "--db", db_path, *AUTO, "--source", "oembed", "--json")
    assert result.code == 0
    assert emulator.token_requests() == [] and emulator.api() == []
    check_images(db_path, world, complete=True)


def test_one_credential_without_the_other_is_a_setup_error(
    cli: Any, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET")
    before = digest(db_path)
    result = cli("run", "--db", db_path, *AUTO)
    assert result.code == 2
    assert "SPOTIFY_CLIENT_SECRET" in result.err and len(result.err.strip().splitlines()) == 1
    assert emulator.received == [] and digest(db_path) == before


def test_auto_in_development_mode_spends_almost_no_api_quota(
    cli: Any, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.dev_mode = True
    emulator.config.quota = 5  # a nearly spent daily quota
    result = cli("run", "--db", db_path, *AUTO, "--json")
    assert result.code == 0, result.err
    check_images(db_path, world, complete=True)
    assert len(emulator.api()) <= 2, "one batch probe per kind, then oEmbed"
    assert result.json["requests_by_source"]["api"] <= 2


def test_auto_with_batch_access_uses_the_cheap_batches(
    cli: Any, db_path: Path, emulator: Emulator, world: World
) -> None:
    result = cli("run", "--db", db_path, *AUTO, "--json")
    assert result.code == 0
    check_images(db_path, world, complete=True)
    assert emulator.oembed_requests() == []
    assert all(r.endpoint in ("tracks", "artists") for r in emulator.api())


def test_oembed_failures_fall_back_to_single_api_calls(
    cli: Any, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.dev_mode = True
    emulator.config.oembed.error_rate = 1.0
    result = cli("run", "--db", db_path, *AUTO, "--retries", "0", "--json")
    assert result.code == 0, result.err
    check_images(db_path, world, complete=True)
    assert any(r.endpoint == "track" for r in emulator.api())
    assert result.json["tracks"]["served_by"]["api"] == result.json["tracks"]["pending"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_malformed_oembed_answers_fail_and_are_never_stored_or_remembered(
    fault: str, cli: Any, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.oembed.fault = fault
    result = cli("run", "--db", db_path, *AUTO, "--source", "oembed", "--retries", "0", "--json")
    assert result.code == 1
    assert result.json["tracks"]["updated"] == 0
    check_images(db_path, world, complete=False)
    logged = remembered(db_path)
    assert all(i in world.unknown_track_ids or i in world.unknown_artist_ids for _, i in logged), logged
    emulator.config.oembed.fault = None
    cli("run", "--db", db_path, *AUTO, "--source", "oembed")
    check_images(db_path, world, complete=True)


def test_an_oembed_429_with_retry_after_holds_every_oembed_worker(
    cli: Any, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.oembed.rate_limit = 80
    emulator.config.oembed.rate_window = 1.0
    concurrency = 4
    result = cli(
        "run", "--db", db_path, "--source", "oembed", "--oembed-rate", "400", "--concurrency", str(concurrency),
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    check_images(db_path, world, complete=True)
    penalties = emulator.oembed_service.penalties
    assert penalties, "the test should provoke a 429"
    for start, end in penalties:
        inside = [r for r in emulator.oembed_requests() if start < r.at < end]
        assert len(inside) <= concurrency - 1, (start, end, len(inside))


def test_oembed_429s_without_retry_after_bring_the_rate_down(
    cli: Any, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.oembed.rate_limit = 40
    emulator.config.oembed.rate_window = 1.0
    emulator.config.oembed.retry_after = False
    result = cli("run", "--db", db_path, "--source", "oembed", "--oembed-rate", "400", "--json")
    assert result.code == 0, result.err
    check_images(db_path, world, complete=True)
    records = emulator.oembed_requests()
    limited = sum(r.status == 429 for r in records)
    assert limited > 0, "the test should provoke 429s"
    # At 400/s against 40/s, a client that only backed off would see most of its calls refused.
    assert limited < 0.25 * len(records), (limited, len(records))
    pace = result.json["pace"]["oembed"]
    assert pace["ceiling"] == 400
    assert pace["lowest"] < 100, "the 429s brought the rate down towards what the server allows"
    assert "oEmbed pace:" in result.err


async def test_an_oembed_retry_after_does_not_pause_api_calls_nor_the_reverse(emulator: Emulator, world: World) -> None:
    options = ClientOptions(rate=100.0, concurrency=4, max_wait=30.0)
    track = next(t for t, url in world.expected_track_url.items() if url)
    async with aiohttp.ClientSession() as session:
        api = SpotifyClient(
            session, TokenSource(session, emulator.token_url, CLIENT_ID, CLIENT_SECRET), emulator.api_url, options
        )
        oembed = OEmbedClient(session, emulator.base_url + "/oembed", options)
        oembed.pace.gate.close_for(20)  # as after an oEmbed 429 with Retry-After: 20
        answer, _ = await asyncio.wait_for(api.track(track), timeout=10)
        assert answer.status == "updated"
        api.pace.gate.close_for(20)  # and the reverse: a Web API Retry-After leaves oEmbed free
        oembed = OEmbedClient(session, emulator.base_url + "/oembed", options)
        assert (await asyncio.wait_for(oembed.image("tracks", track), timeout=10)).status == "updated"
    assert emulator.oembed_requests() and emulator.api()


def test_dry_run_estimates_requests_per_source(
    cli: Any, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_credentials(monkeypatch)
    dry = cli("run", "--db", db_path, "--dry-run", "--json").json
    pending = dry["tracks"]["pending"] + dry["artists"]["pending"]
    assert dry["sources"] == ["oembed"]
    assert dry["requests_by_source"] == {"oembed": {"api": 0, "oembed": pending}}
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    auto = cli("run", "--db", db_path, "--dry-run", "--json").json
    assert auto["sources"] == ["api", "oembed"]
    assert auto["requests_by_source"]["development_mode"] == {"api": 2, "oembed": pending}
    assert auto["requests_by_source"]["extended_quota"]["oembed"] == 0
    text = cli("run", "--db", db_path, "--dry-run").out
    assert "oEmbed" in text and f"{pending:,}" in text
    assert emulator.received == []
