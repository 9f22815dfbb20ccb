"""The recipe for trying sync by hand: a local production Postgres filled from a history, stopped by Ctrl-C."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.sync.conftest import Production


def test_local_production_starts_takes_a_sync_and_stops_on_ctrl_c(
    cli, tmp_path: Path, pristine: Path, backfilled: Path
) -> None:
    history = tmp_path / "history.duckdb"
    shutil.copy(pristine, history)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.pg.postgres", str(history)],
        cwd=Path(__file__).parents[2],  # the repository: tests/ is not installed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("POSTGRES_URL=postgresql://"), line + proc.stderr.read() if proc.stderr else ""
        url = line.removeprefix("POSTGRES_URL=")
        shutil.copy(backfilled, history)  # as after `make backfill`
        result = cli("sync", "--db", history, "--postgres", url, "--json")
        assert result.code == 0, result.err
        assert result.json["pushed"] > 0
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Stopped" in err


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_undo_and_make_sync_pass_args(history: Path, production: Production) -> None:
    repo = Path(__file__).resolve().parents[2]

    def make(*args: str) -> Any:
        proc = subprocess.run(["make", *args], capture_output=True, text=True, cwd=repo, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)  # only the tool's output on stdout

    assert make("undo", f"ARGS=--last --json --db {history}")["restored"] == {"tracks": 0, "artists": 0}
    assert make("sync", f"ARGS=--dry-run --json --db {history} --postgres {production.url()}")["pushed"] > 0
