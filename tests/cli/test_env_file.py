"""The .env file is found from a subdirectory too, the run says which one it read, and `~` means home."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CLIENT_ID, CLIENT_SECRET


def _project(tmp_path: Path, db_path: Path) -> Path:
    """A project directory (the test's tmp dir, which holds the history) with a .env; returns a subdirectory."""
    (tmp_path / ".env").write_text(
        f"SPOTIFY_CLIENT_ID={CLIENT_ID}\nSPOTIFY_CLIENT_SECRET={CLIENT_SECRET}\nBACKFILL_DB={db_path.name}\n"
    )
    deeper = tmp_path / "notes" / "2026"
    deeper.mkdir(parents=True)
    return deeper


def test_a_run_from_a_subdirectory_reads_the_projects_env(
    cli, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_project(tmp_path, db_path))
    result = cli("run", "--dry-run", "--json")
    assert result.code == 0, result.err
    assert result.json["env_file"] == str((tmp_path / ".env").resolve())
    assert result.json["sources"][0] == "api"  # the credentials came with it
    text = cli("run", "--dry-run")
    assert f"Settings read from {(tmp_path / '.env').resolve()} (the environment wins)" in " ".join(text.out.split())


def test_without_env_file_the_run_says_so(cli, db_path: Path, tmp_path: Path) -> None:
    result = cli("run", "--db", db_path, "--dry-run", "--json")
    assert result.json["env_file"] is None
    assert result.json["sources"] == ["oembed"]
    out = " ".join(cli("run", "--db", db_path, "--dry-run").out.split())
    assert f"No .env file in {tmp_path} or above: settings from the environment only" in out


def test_the_environment_still_wins_over_a_found_env(
    cli, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_project(tmp_path, db_path))
    monkeypatch.setenv("BACKFILL_DB", str(tmp_path / "other.duckdb"))
    result = cli("run", "--dry-run", "--json")
    assert result.code == 2
    assert "database not found" in result.err and "other.duckdb" in result.err


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_tilde_means_home(cli, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    home = tmp_path / "home"
    (home / "music").mkdir(parents=True)
    db_path.rename(home / "music" / "h.duckdb")
    monkeypatch.setenv("HOME", str(home))
    if how == "option":
        result = cli("verify", "--db", "~/music/h.duckdb", "--json")
    else:
        monkeypatch.setenv("BACKFILL_DB", "~/music/h.duckdb")
        result = cli("verify", "--json")
    assert result.code == 0, result.err
    assert result.json["tracks"]["total"] > 0
