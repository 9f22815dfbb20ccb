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
