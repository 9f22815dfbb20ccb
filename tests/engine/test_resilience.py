"""Rate limits, quotas, token expiry, server errors and dropped connections."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import duckdb

from backfill.config import load_settings
from backfill.engine.runner import RunConfig, execute, make_plan
from backfill.sources.http import ClientOptions
from standin import Emulator
from standin.sample import World
from tests.checks import check_images
from tests.conftest import FAST


async def run_fast(db_path: Path, **client: float) -> object:
    """The pipeline with quick backoff, so retry tests do not sleep for seconds."""
    options = ClientOptions(**{"rate": 500.0, "concurrency": 8, "backoff_base": 0.01, **client})
    config = RunConfig(load_settings(db_path), client=options, source="api")
    return await execute(config, make_plan(config))


async def test_server_errors_and_drops_are_retried(db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.inject(503, 500, "drop", "drop", 502, 504, "drop", "drop")
    emulator.config.error_rate = 0.05
    report = await run_fast(db_path)
    assert report.result.stopped is None
    assert sum(s.failed for s in report.result.stats.values()) == 0
    check_images(db_path, world, complete=True)
    assert any(r.status == 0 for r in emulator.api()), "a connection was dropped"
    assert any(r.status >= 500 for r in emulator.api())


async def test_items_failing_every_retry_stay_empty_and_a_rerun_fills_them(
    db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.dev_mode = True
    emulator.inject(*([503] * 6), endpoint="artist")  # the first single artist call fails 6 times
    report = await run_fast(db_path, max_retries=5, concurrency=1)
    assert report.result.stats["artists"].failed == 1
    check_images(db_path, world, complete=False)
    again = await run_fast(db_path)
    assert again.result.stats["artists"].failed == 0
    assert again.result.stats["artists"].pending == 1
    check_images(db_path, world, complete=True)


def test_exit_1_when_items_failed(cli, db_path: Path, emulator: Emulator) -> None:
    emulator.config.error_rate = 1.0  # every API request fails
    result = cli("run", "--db", db_path, *FAST, "--only", "artists", "--retries", "0", "--json")
    assert result.code == 1
    assert result.json["artists"]["failed"] == result.json["artists"]["pending"] > 0


async def test_429_storm_holds_every_worker(db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.config.dev_mode = True
    emulator.config.rate_limit = 40
    emulator.config.rate_window = 1.0
    concurrency = 4
    report = await run_fast(db_path, concurrency=concurrency, rate=200.0, max_wait=30.0)
    assert report.result.stopped is None
    check_images(db_path, world, complete=True)
    limited = [r for r in emulator.api() if r.status == 429]
    assert len(limited) >= 3, "the test should provoke several 429s"
    # A request that arrives inside a Retry-After can only be one that was already on its way when the 429
    # was sent: at most concurrency - 1 of them per penalty window. A client that let each worker sleep on
    # its own would keep sending at 200/s through the window.
    for start, end in emulator.penalties():
        inside = [r for r in emulator.api() if start < r.at < end]
        assert len(inside) <= concurrency - 1, (start, end, len(inside))


async def test_token_expiry_with_requests_in_flight_refreshes_once(
    db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.dev_mode = True
    emulator.config.latency = 0.02
    fired = threading.Event()

    def expire_midway() -> None:
        while len(emulator.api()) < 40:
            if fired.wait(0.005):
                return
        emulator.expire_tokens()
        fired.set()

    watcher = threading.Thread(target=expire_midway, daemon=True)
    watcher.start()
    report = await run_fast(db_path, concurrency=8)
    fired.set()
    watcher.join()
    assert report.result.stopped is None
    assert len(emulator.token_requests()) == 2
    assert any(r.status == 401 for r in emulator.api())
    check_images(db_path, world, complete=True)


def test_quota_stop_keeps_work_and_the_next_run_finishes(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.config.dev_mode = True
    emulator.config.quota = 60
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 75, result.err
    summary = result.json
    assert summary["stopped"] == "rate_limited"
    resume = datetime.fromisoformat(summary["resume_after"])
    assert resume.tzinfo is not None
    assert (resume - datetime.now().astimezone()).total_seconds() > 20 * 3600
    assert "Run again after" in result.err
    filled = check_images(db_path, world, complete=False)
    assert filled["tracks"] + filled["artists"] > 0
    assert summary["tracks"]["updated"] == filled["tracks"]
    # No request may follow the quota answer: the daily quota must not be hammered.
    statuses = [r.status for r in emulator.api()]
    first_quota = statuses.index(429)
    assert len(statuses) - first_quota <= 8  # only what was already in flight

    # The wait is remembered: before its end, a run sends the Web API nothing and stops again.
    emulator.config.quota = None
    sent = len(emulator.api())
    early = cli("run", "--db", db_path, *FAST, "--json")
    assert early.code == 75 and len(emulator.api()) == sent, early.err
    with duckdb.connect(str(db_path)) as con:  # the wait is over (the emulator's quota starts again)
        con.execute("UPDATE backfill_waits SET resume_after = TIMESTAMP '2000-01-01'")
    again = cli("run", "--db", db_path, *FAST, "--json")
    assert again.code == 0, again.err
    check_images(db_path, world, complete=True)


def test_retry_after_longer_than_max_wait_stops(cli, db_path: Path, emulator: Emulator) -> None:
    emulator.inject((429, 30))
    result = cli("run", "--db", db_path, *FAST, "--max-wait", "5", "--json")
    assert result.code == 75
    assert result.json["stopped"] == "rate_limited"
    assert result.json["resume_after"] is not None


def test_short_retry_after_is_slept_through(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.inject((429, 1))
    result = cli("run", "--db", db_path, *FAST, "--max-wait", "5", "--json")
    assert result.code == 0
    check_images(db_path, world, complete=True)
    assert emulator.api()[0].status == 429
    (window,) = emulator.penalties()
    inside = [r for r in emulator.api() if window[0] < r.at < window[1]]
    assert len(inside) <= 8 - 1  # only requests already on their way


def test_403_on_single_items_stops_the_run_with_a_reason(cli, db_path: Path, emulator: Emulator) -> None:
    emulator.config.dev_mode = True
    emulator.inject(403, endpoint="track")  # e.g. the app owner's Premium lapsed
    result = cli("run", "--db", db_path, *FAST, "--only", "tracks", "--json")
    assert result.code == 1
    assert result.json["stopped"] == "error"
    assert "Premium" in result.json["error"]
    singles = [r for r in emulator.api() if r.endpoint == "track"]
    assert len(singles) <= 8  # stopped at once, not item by item
