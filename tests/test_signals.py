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

from backfill.emulator import Emulator
from backfill.emulator.sample import World
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


@pytest.fixture(scope="module")
def big_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history whose plan takes a moment, so that a signal can land while DuckDB works."""
    from backfill.emulator.sample import SampleSpec, build_world, write_history

    path = tmp_path_factory.mktemp("big") / "big.duckdb"
    write_history(build_world(SampleSpec(seed=5, tracks=150_000, artists=3_000, plays=300_000)), path)
    return path


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
@pytest.mark.parametrize("delay", [0.0, 0.3, 0.8, 1.5])
def test_a_signal_during_start_up_or_planning_ends_with_one_line(
    big_history: Path, signum: int, code: int, word: str, delay: float
) -> None:
    """Whenever it lands (imports, set-up, DuckDB planning), a signal gives its exit code and one line."""
    for command in (["run", "--dry-run"], ["verify"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "backfill", *command, "--db", str(big_history)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until_importing(proc)
        time.sleep(delay)  # where the signal lands varies; what must not vary is how it ends
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            continue  # it had finished before the signal came: nothing to check
        assert proc.returncode == code, (command, delay, err)
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert err.strip().splitlines()[-1:] in (
            [f"backfill: {word}"],
            [f"backfill: {word} before anything was fetched"],
        )


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
