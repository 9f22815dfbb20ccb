"""Ctrl-C and SIGTERM mid-run: stop fetching, keep what was fetched, exit 130/143; a rerun finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from standin import Emulator
from standin.sample import World
from tests.checks import check_images


def start_backfill(db_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "backfill", "run", "--db", str(db_path), "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def wait_for_requests(emu: Emulator, proc: subprocess.Popen[str], n: int) -> None:
    deadline = time.monotonic() + 60  # a hang guard, not a measurement
    while len(emu.api()) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "backfill made no progress"
        time.sleep(0.02)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_keeps_work_and_rerun_finishes(
    db_path: Path, emulator: Emulator, world: World, signum: int, code: int
) -> None:
    emulator.config.dev_mode = True
    emulator.config.latency = 0.01
    proc = start_backfill(db_path, "--rate", "100", "--source", "api")
    wait_for_requests(emulator, proc, 80)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    summary = json.loads(out)
    assert summary["stopped"] == "interrupted"
    assert "INTERRUPTED" in err
    filled = check_images(db_path, world, complete=False)
    assert filled["tracks"] + filled["artists"] > 0
    assert summary["tracks"]["updated"] == filled["tracks"]
    assert summary["tracks"]["remaining"] > 0

    rerun = start_backfill(db_path, "--rate", "500", "--source", "api")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    check_images(db_path, world, complete=True)


def wait_for_file(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60  # a hang guard, not a measurement
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the process never started planning"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_a_signal_while_duckdb_plans_ends_with_its_code_and_one_line(
    db_path: Path, tmp_path: Path, signum: int, code: int, word: str
) -> None:
    """The run's plan query is busy on its connection when the signal lands (the test hook runs a query of some
    seconds there): DuckDB's query is interrupted, not met with a second statement; the file is unchanged."""
    marker = tmp_path / "planning"
    before = db_path.read_bytes()
    env = {**os.environ, "BACKFILL_TEST_PLANNING_MARKER": str(marker), "SPOTIFY_OEMBED_URL": "http://127.0.0.1:9/x"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backfill", "run", "--db", str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    wait_for_file(marker, proc)
    proc.send_signal(signum)
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("the planning query was not interrupted") from None
    assert proc.returncode == code, err
    assert "Traceback" not in err and "database error" not in err, err
    assert err.strip().splitlines()[-1] == f"backfill: {word} before anything was fetched"
    assert marker.read_text() == "planning\n", "the query ran to its end: it was not interrupted"
    assert db_path.read_bytes() == before


def wait_until_importing(proc: subprocess.Popen[str]) -> None:
    """Until the process maps DuckDB's library: past Python's own start-up (which no program can guard), inside
    backfill's imports, whose first step turns SIGTERM into a clean exit."""
    deadline = time.monotonic() + 30  # a hang guard, not a measurement
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if "duckdb" in Path(f"/proc/{proc.pid}/maps").read_text():
                return
        except OSError:
            return
        time.sleep(0.005)


@pytest.mark.parametrize(
    ("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_a_signal_during_start_up_ends_with_one_line(
    db_path: Path, tmp_path: Path, signum: int, code: int, word: str
) -> None:
    """Landing during the imports (DuckDB's library mapped), a signal gives its exit code and one line. The test
    hook holds the run's plan for some seconds, so the process is provably still running when it lands."""
    env = {**os.environ, "BACKFILL_TEST_PLANNING_MARKER": str(tmp_path / "planning")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backfill", "run", "--db", str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "SPOTIFY_OEMBED_URL": "http://127.0.0.1:9/x"},
    )
    wait_until_importing(proc)
    assert proc.poll() is None
    proc.send_signal(signum)
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("the signal did not stop the run") from None
    assert proc.returncode == code, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip().splitlines()[-1:] in ([f"backfill: {word}"], [f"backfill: {word} before anything was fetched"])


def test_sigterm_then_sigint_mid_run_exits_143_without_a_traceback(
    db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.dev_mode = True
    emulator.config.latency = 0.01
    proc = start_backfill(db_path, "--rate", "100", "--source", "api")
    wait_for_requests(emulator, proc, 40)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert json.loads(out)["stopped"] == "interrupted"
    check_images(db_path, world, complete=False)
