"""Arguments as users type them: the command anywhere, help, versions, errors, JSON for scripts, pipes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backfill import __version__
from standin import Emulator
from tests.conftest import digest


def test_global_options_may_come_before_the_command(cli, db_path: Path) -> None:
    result = cli("--db", db_path, "verify", "--json")
    assert result.code == 0, result.err
    assert result.json["tracks"]["total"] > 0


def test_an_option_value_that_reads_like_a_command_is_a_value(cli, tmp_path: Path) -> None:
    result = cli("--db", "verify", "--dry-run")  # a database file named "verify", for `run`
    assert result.code == 2
    assert "database not found: verify" in result.err


@pytest.mark.parametrize(
    ("args", "usage"),
    [(["help"], "usage: backfill [-h]"), (["help", "verify"], "usage: backfill verify"), (["help", "run"], "--rate")],
)
def test_help_command(cli, args: list[str], usage: str) -> None:
    result = cli(*args)
    assert result.code == 0
    assert usage in result.out


def test_help_for_an_unknown_command_is_a_usage_error(cli) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("help", "frobnicate")
    assert exc.value.code == 2


@pytest.mark.parametrize("args", [["-V"], ["--version"], ["run", "--version"], ["run", "-V"], ["verify", "-V"]])
def test_version_is_accepted_everywhere(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from backfill.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"backfill {__version__}"


@pytest.mark.parametrize(
    ("args", "usage", "message"),
    [
        (["verify", "--bogus"], "usage: backfill verify", "unrecognized arguments: --bogus"),
        (["run", "--bogus"], "usage: backfill run", "unrecognized arguments: --bogus"),
        (["--bogus"], "usage: backfill run", "unrecognized arguments: --bogus"),
        (["run", "--concurrency", "1.5"], "usage: backfill run", "must be a whole number: '1.5'"),
        (["run", "--concurrency", "lots"], "usage: backfill run", "not a number: 'lots'"),
    ],
)
def test_errors_show_the_usage_of_the_command_used(
    args: list[str], usage: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from backfill.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    assert message in err
    assert "{run,verify" not in err  # not the top-level usage


def test_database_hint_depends_on_where_the_name_came_from(cli, tmp_path: Path, monkeypatch) -> None:
    explicit = cli("verify", "--db", tmp_path / "nope.duckdb")
    assert explicit.code == 2
    assert explicit.err.strip() == f"backfill: error: database not found: {tmp_path / 'nope.duckdb'}"
    default = cli("verify")
    assert "data/spotify.duckdb (the default: set BACKFILL_DB or pass --db)" in default.err
    monkeypatch.setenv("BACKFILL_DB", str(tmp_path / "env.duckdb"))
    from_env = cli("verify")
    assert "env.duckdb (from BACKFILL_DB" in from_env.err


@pytest.mark.parametrize(
    ("args", "extra"),
    [(["run"], {"stopped": "error"}), (["run", "--dry-run"], {"dry_run": True}), (["verify"], {})],
)
def test_setup_errors_also_answer_in_json(cli, tmp_path: Path, args: list[str], extra: dict[str, object]) -> None:
    result = cli(*args, "--db", tmp_path / "nope.duckdb", "--json")
    assert result.code == 2
    assert result.json == {**extra, "error": f"database not found: {tmp_path / 'nope.duckdb'}"}
    assert result.err.startswith("backfill: error: database not found")


def test_missing_credentials_answer_in_json(cli, db_path: Path) -> None:
    before = digest(db_path)
    result = cli("run", "--db", db_path, "--source", "api", "--json")
    assert result.code == 2
    assert "SPOTIFY_CLIENT_ID" in result.json["error"] and result.json["stopped"] == "error"
    assert digest(db_path) == before


def test_rejected_credentials_answer_in_json(cli, db_path: Path, emulator: Emulator, monkeypatch) -> None:
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "wrong")
    result = cli("run", "--db", db_path, "--json")
    assert result.code == 2
    assert "rejected" in result.json["error"]


def test_usage_errors_answer_in_json_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    from backfill.cli.main import main

    with pytest.raises(SystemExit):
        main(["verify", "--json", "--bogus"])
    assert json.loads(capsys.readouterr().out) == {"error": "unrecognized arguments: --bogus"}


def test_successful_json_has_a_null_error(cli, db_path: Path) -> None:
    assert cli("verify", "--db", db_path, "--json").json["error"] is None
    assert cli("run", "--db", db_path, "--dry-run", "--json").json["error"] is None


def test_recovered_ids_has_one_name_in_dry_run_and_verify(cli, db_path: Path) -> None:
    dry = cli("run", "--db", db_path, "--dry-run", "--json").json["artists"]
    verify = cli("verify", "--db", db_path, "--json").json["artists"]
    assert dry["recovered_ids"] == verify["recovered_ids"] > 0
    assert "recoverable_ids" not in verify


def _with_closed_stdout(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run backfill with a stdout pipe nobody reads any more, as `backfill ... | head -0` leaves it."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "backfill", *args], stdout=write, stderr=subprocess.PIPE, text=True, cwd=cwd
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("command", ["verify", "dry-run", "demo"])
def test_a_closed_pipe_ends_quietly(db_path: Path, tmp_path: Path, command: str) -> None:
    args = {
        "verify": ["verify", "--db", str(db_path)],
        "dry-run": ["run", "--db", str(db_path), "--dry-run"],
        "demo": ["demo", "--tracks", "20", "--artists", "5", "--plays", "40", "--port", "0"],
    }[command]
    proc = _with_closed_stdout(args, tmp_path)
    assert proc.stderr == ""
    assert proc.returncode == 141


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_verify_json_prints_only_the_json(db_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        ["make", "verify", f"ARGS=--json --db {db_path}"], capture_output=True, text=True, cwd=repo, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tracks"]["total"] > 0


@pytest.mark.parametrize(("typed", "meant"), [("--retry-miss", "--retry-misses"), ("--ref", "--refresh")])
def test_an_abbreviated_option_is_an_error_that_fetches_nothing(
    typed: str, meant: str, db_path: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from backfill.cli.main import main

    before = digest(db_path)
    with pytest.raises(SystemExit) as exc:
        main(["run", "--db", str(db_path), typed])
    assert exc.value.code == 2
    assert f"unrecognized arguments: {typed} (did you mean {meant}?)" in capsys.readouterr().err
    assert emulator.received == []
    assert digest(db_path) == before


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--dryrun"], "backfill run: error: unrecognized arguments: --dryrun (did you mean --dry-run?)"),
        (["verfy"], "backfill: error: no command 'verfy' (did you mean verify?)"),
        (["--db", "x.duckdb", "verfy", "--json"], "backfill: error: no command 'verfy' (did you mean verify?)"),
        (["verify", "--jsn"], "backfill verify: error: unrecognized arguments: --jsn (did you mean --json?)"),
        (["help", "verfy"], "backfill help: error: no command 'verfy' (did you mean verify?)"),
    ],
)
def test_a_typo_gets_did_you_mean(args: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    from backfill.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert line in capsys.readouterr().err.splitlines()
