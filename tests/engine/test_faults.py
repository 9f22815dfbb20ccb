"""Broken servers (the emulator's fault modes): never a hang, never a wrong value, never a failure remembered
as a miss, and one clear line where the run cannot go on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from backfill.config import load_settings
from backfill.engine.runner import RunConfig, execute, make_plan
from backfill.errors import SetupError
from backfill.sources.answers import Answer
from backfill.sources.api import SpotifyClient
from backfill.sources.auth import TokenSource
from backfill.sources.http import MAX_BODY, ClientOptions, RequestFailed
from standin import Emulator
from standin.sample import World
from tests.checks import check_images
from tests.conftest import CLIENT_ID, CLIENT_SECRET, FAST, table


async def run_fast(db_path: Path, **client: float) -> Any:
    """The pipeline against the Web API, with quick backoff and short timeouts, so no test sleeps for long."""
    options = ClientOptions(**{"rate": 500.0, "concurrency": 8, "backoff_base": 0.01, "timeout": 2.0, **client})
    config = RunConfig(load_settings(db_path), client=options, source="api")
    return await execute(config, make_plan(config))


def remembered(path: Path) -> set[tuple[str, str]]:
    try:
        return set(table(path, "SELECT kind, spotify_id FROM backfill_log"))
    except Exception:  # no log table yet: nothing remembered
        return set()


def assert_only_true_misses(path: Path, world: World) -> None:
    """Every remembered miss is one: an id Spotify does not know, or whose image list is empty."""
    for kind, spotify_id in remembered(path):
        if kind == "track":
            assert spotify_id in world.unknown_track_ids or world.expected_track_url.get(spotify_id) is None, spotify_id
        else:
            truly = spotify_id in world.unknown_artist_ids or world.expected_artist_url.get(spotify_id) is None
            assert truly, spotify_id


# -- 1. a first batch call that fails other than by 403 ------------------------------------------------------


@pytest.mark.parametrize(
    "mode", ["error-500", "html", "empty-object", "null-body", "empty-body", "truncated", "latin1"]
)
async def test_failed_first_batches_leave_the_question_open(
    mode: str, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.fault_mode = mode
    emulator.config.fault_count = 3  # more than the retries (2) of the first batch call
    emulator.config.fault_endpoints = ("tracks",)
    report = await run_fast(db_path, max_retries=2)
    stats = report.result.stats
    assert report.result.stopped is None
    assert stats["tracks"].failed >= 50, "the faults should fail the probe's batch"
    assert stats["tracks"].updated > 0, "later batches go on"
    assert stats["tracks"].remaining == stats["artists"].remaining == 0
    check_images(db_path, world, complete=False)
    assert_only_true_misses(db_path, world)
    emulator.config.fault_mode = None
    again = await run_fast(db_path)
    assert sum(s.failed for s in again.result.stats.values()) == 0
    check_images(db_path, world, complete=True)


@pytest.mark.parametrize("mode", ["hang", "redirect-loop"])
async def test_a_server_that_never_answers_or_redirects_forever_does_not_hang(
    mode: str, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.fault_mode = mode
    emulator.config.fault_count = 3
    emulator.config.fault_endpoints = ("tracks",)
    report = await run_fast(db_path, max_retries=1, timeout=0.5)
    assert report.result.stopped is None
    assert report.result.stats["tracks"].remaining == 0
    check_images(db_path, world, complete=False)


# -- 2. values that look like answers but are wrong --------------------------------------------------------


@pytest.mark.parametrize("mode", ["shuffled", "size-strings", "size-floats"])
async def test_reordered_batches_and_odd_sizes_still_give_the_right_image(
    mode: str, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.fault_mode = mode
    report = await run_fast(db_path)
    assert sum(s.failed for s in report.result.stats.values()) == 0
    check_images(db_path, world, complete=True)


@pytest.mark.parametrize("mode", ["url-int", "url-list", "url-garbage", "foreign-ids"])
async def test_bad_urls_and_foreign_ids_are_never_stored(
    mode: str, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.fault_mode = mode
    report = await run_fast(db_path)
    assert sum(s.failed for s in report.result.stats.values()) > 0
    check_images(db_path, world, complete=False)  # no value stored is wrong
    assert_only_true_misses(db_path, world)


# -- 3. malformed answers are failures, retried next run, never remembered ---------------------------------


@pytest.mark.parametrize(
    "mode",
    ["empty-object", "no-album", "album-null", "album-string", "images-null", "images-string", "images-dict", "no-url"],
)
@pytest.mark.parametrize("dev_mode", [False, True], ids=["batch", "single"])
async def test_malformed_answers_fail_and_are_not_remembered(
    mode: str, dev_mode: bool, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.dev_mode = dev_mode
    emulator.config.fault_mode = mode
    report = await run_fast(db_path, max_retries=0)
    stats = report.result.stats
    assert stats["tracks"].failed + stats["artists"].failed > 0
    check_images(db_path, world, complete=False)
    assert_only_true_misses(db_path, world)
    emulator.config.fault_mode = None
    await run_fast(db_path)
    check_images(db_path, world, complete=True)  # the rerun mends everything: nothing was skipped


async def test_ids_missing_from_a_short_batch_answer_fail_and_are_asked_again(
    db_path: Path, emulator: Emulator, world: World
) -> None:
    """A batch answer one entry short (no null in its place) says nothing about the ids it left out."""
    emulator.config.fault_mode = "dropped-entry"
    emulator.config.fault_endpoints = ("tracks", "artists")
    report = await run_fast(db_path, max_retries=0)
    stats = report.result.stats
    assert stats["tracks"].failed > 0 and stats["artists"].failed > 0
    check_images(db_path, world, complete=False)
    assert_only_true_misses(db_path, world)
    emulator.config.fault_mode = None
    again = await run_fast(db_path)
    assert again.result.stats["tracks"].failed == again.result.stats["artists"].failed == 0
    check_images(db_path, world, complete=True)


def test_strings_as_batch_entries_fail_with_exit_1(cli: Any, db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.config.fault_mode = "string-entries"
    result = cli("run", "--db", db_path, *FAST, "--retries", "0", "--json")
    assert result.code == 1
    assert result.json["tracks"]["not_found"] == 0
    assert_only_true_misses(db_path, world)
    assert "COMPLETE" not in result.err


def test_a_huge_answer_fails_its_items_instead_of_filling_memory(
    cli: Any, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.fault_mode = "huge"
    emulator.config.fault_count = 1
    result = cli("run", "--db", db_path, *FAST, "--retries", "0", "--only", "artists", "--json")
    assert result.code == 1
    assert result.json["artists"]["failed"] > 0
    check_images(db_path, world, complete=False)


@pytest.mark.parametrize("mode", ["padded", "padded-chunked"])
async def test_a_valid_answer_padded_past_the_size_cap_fails_for_its_size(
    mode: str, emulator: Emulator, world: World
) -> None:
    """A usable answer, only too big: refused by its Content-Length, or by counting a chunked one as it comes."""
    emulator.config.fault_mode = mode
    emulator.config.fault_endpoints = ("artist",)
    artist_id = next(i for i, url in world.expected_artist_url.items() if url)
    options = ClientOptions(rate=500.0, concurrency=1, max_retries=0, timeout=10.0)
    async with aiohttp.ClientSession() as session:
        tokens = TokenSource(session, emulator.token_url, CLIENT_ID, CLIENT_SECRET)
        client = SpotifyClient(session, tokens, emulator.api_url, options)
        async with session.get(
            f"{emulator.api_url}/artists/{artist_id}", headers={"Authorization": f"Bearer {await tokens.get()}"}
        ) as raw:
            assert (raw.content_length is None) == (mode == "padded-chunked")
            assert json.loads(await raw.read())["id"] == artist_id  # valid, only padded
        with pytest.raises(RequestFailed) as raised:
            await client.artist(artist_id)
        assert f"over {MAX_BODY:,} bytes" in str(raised.value)
        # With a Content-Length the answer is refused by its announced size, before its body is read.
        assert ("-byte response, over" in str(raised.value)) == (mode == "padded")
        emulator.config.fault_mode = None
        assert await client.artist(artist_id) == Answer("updated", world.expected_artist_url[artist_id])


# -- 7, 8, 10, 11: the token endpoint, Retry-After dates, 401 storms, 429s without Retry-After -------------


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("hang", "no answer within"),
        ("redirect", "redirects (HTTP 302"),
        ("html-500", "HTTP 500"),
    ],
)
async def test_a_broken_token_endpoint_is_a_one_line_setup_error(
    fault: str, says: str, db_path: Path, emulator: Emulator
) -> None:
    emulator.config.token_fault = fault
    with pytest.raises(SetupError) as raised:
        await run_fast(db_path, timeout=0.5)
    message = str(raised.value)
    assert says in message and "\n" not in message
    assert "Expecting value" not in message and "grant_type" not in message
    assert emulator.api() == []


async def test_a_token_lifetime_that_is_not_a_number_is_no_crash(
    db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.token_fault = "expires-soon"
    report = await run_fast(db_path)
    assert report.result.stopped is None
    check_images(db_path, world, complete=True)


def test_401_on_every_call_stops_the_run_and_says_so(cli: Any, db_path: Path, emulator: Emulator) -> None:
    emulator.inject(*([401] * 500))
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 1
    assert "401" in result.json["error"] and "access token" in result.json["error"]
    assert len(emulator.token_requests()) <= 6
    assert "COMPLETE" not in result.err
    assert remembered(db_path) == set()


def test_a_token_endpoint_that_hands_out_one_refused_token_stops_the_run(
    cli: Any, db_path: Path, emulator: Emulator
) -> None:
    """Each fetch of the same refused string counts as one more refused token: the run stops, it does not loop.
    The endpoint mends after 8 tokens, so a client that kept asking would end with exit 0, not hang the test."""
    emulator.config.token_fault = "same-token"
    emulator.config.token_fault_count = 8
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 1
    assert "refused 4 fresh access tokens" in result.json["error"]
    assert len(emulator.token_requests()) == 4
    assert len({r.token for r in emulator.api()}) == 1
    assert all(r.status == 401 for r in emulator.api()) and len(emulator.api()) <= 40
    assert remembered(db_path) == set()


def test_retry_after_as_an_http_date_is_obeyed(cli: Any, db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.config.retry_after_date = True
    emulator.inject((429, 2), endpoint="tracks")
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 0
    check_images(db_path, world, complete=True)
    (start, end), *_ = emulator.penalties()
    # Nothing but what was already on its way arrives while the date has not come.
    inside = [r for r in emulator.api() if start < r.at < end - 0.05]
    assert len(inside) <= 7


def test_a_far_retry_after_date_stops_the_run_with_the_right_resume_time(
    cli: Any, db_path: Path, emulator: Emulator
) -> None:
    emulator.config.retry_after_date = True
    emulator.inject((429, 3600))
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 75
    assert result.json["stopped"] == "rate_limited"
    assert len(emulator.api()) <= 8


def test_429s_without_retry_after_stop_within_max_wait(cli: Any, db_path: Path, emulator: Emulator) -> None:
    emulator.inject(*([(429, None)] * 400))
    result = cli("run", "--db", db_path, *FAST, "--max-wait", "4", "--json")
    assert result.code == 75
    assert result.json["stopped"] == "rate_limited"
    assert len(emulator.api()) < 40  # bounded by waiting, not by a count of hundreds
