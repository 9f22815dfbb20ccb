"""The command line itself: help, the default command, the demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import table


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("run", ("SPOTIFY_CLIENT_ID", "BACKFILL_DB", "SPOTIFY_API_URL", "exit codes", "75", "130", "143")),
        ("verify", ("BACKFILL_DB", "exit codes", "130", "143")),  # its own only: see test_layout
        ("demo", ("exit codes", "130", "143")),
    ],
)
def test_help_explains_environment_and_exit_codes(
    command: str, words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    from backfill.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for word in words:
        assert word in text


def test_run_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    from backfill.cli.main import main

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for option in ("--db", "--only", "--rate", "--concurrency", "--max-wait", "--json", "--dry-run", "--retries"):
        assert option in text


def test_run_is_the_default_command(cli, db_path: Path) -> None:
    result = cli("--db", db_path, "--dry-run", "--json")
    assert result.code == 0, result.err
    assert result.json["dry_run"] is True


def test_python_dash_m_and_exit_code_for_a_missing_database(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "backfill", "verify", "--db", str(tmp_path / "x.duckdb")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("backfill: error: database not found")


@pytest.mark.usefixtures("demo_port_held")
def test_demo_builds_a_history_backfills_it_and_verifies(tmp_path: Path) -> None:
    args = ["--tracks", "150", "--artists", "40", "--plays", "300", "--rate", "500", "--port", "0", "--no-fallback"]
    for _ in range(2):  # running it again works
        proc = subprocess.run(
            [sys.executable, "-m", "backfill", "demo", *args], capture_output=True, text=True, cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stderr
        assert "BACKFILL COMPLETE" in proc.stdout and "VERIFY" in proc.stdout
    db = tmp_path / "data" / "demo.duckdb"
    ((pending,),) = table(
        db,
        "SELECT count(*) FROM tracks WHERE album_image_url IS NULL AND spotify_track_uri NOT IN "
        "(SELECT 'spotify:track:' || spotify_id FROM backfill_log WHERE kind = 'track') "
        "AND regexp_full_match(spotify_track_uri, 'spotify:track:[0-9A-Za-z]{22}')",
    )
    assert pending == 0
