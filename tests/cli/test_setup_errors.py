"""Bad input: one clear line, exit 2, and the database file byte-for-byte unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from standin import Emulator
from tests.conftest import CLIENT_SECRET, FAST, digest


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("backfill: error: ")
    return lines[0]


@pytest.mark.parametrize("missing", ["SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET"])
def test_missing_credentials(cli, db_path: Path, emulator: Emulator, monkeypatch, missing: str) -> None:
    monkeypatch.delenv(missing)
    before = digest(db_path)
    result = cli("run", "--db", db_path)
    assert result.code == 2
    assert missing in one_line_error(result.err)
    assert digest(db_path) == before
    assert emulator.received == []


def test_rejected_credentials(cli, db_path: Path, emulator: Emulator, monkeypatch) -> None:
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "wrong-secret")
    before = digest(db_path)
    result = cli("run", "--db", db_path, *FAST)
    assert result.code == 2
    line = one_line_error(result.err)
    assert "rejected" in line and "wrong-secret" not in line
    assert digest(db_path) == before
    assert emulator.api() == []


def test_no_database_file_is_named_and_not_created(cli, tmp_path: Path, emulator: Emulator) -> None:
    path = tmp_path / "nowhere" / "missing.duckdb"
    result = cli("run", "--db", path)
    assert result.code == 2
    assert str(path) in one_line_error(result.err)
    assert not path.exists() and not path.parent.exists()


def test_default_path_comes_from_backfill_db(cli, tmp_path: Path, emulator: Emulator, monkeypatch) -> None:
    monkeypatch.setenv("BACKFILL_DB", str(tmp_path / "env.duckdb"))
    result = cli("run")
    assert result.code == 2 and "env.duckdb" in result.err


@pytest.mark.parametrize(
    ("ddl", "named"),
    [
        ("DROP TABLE tracks", "tracks"),
        ("DROP TABLE artists", "artists"),
        ("ALTER TABLE tracks DROP COLUMN album_image_url", "album_image_url"),
        ("ALTER TABLE artists DROP COLUMN image_url", "image_url"),
    ],
)
def test_missing_table_or_column(cli, db_path: Path, emulator: Emulator, ddl: str, named: str) -> None:
    con = duckdb.connect(str(db_path))
    con.execute(ddl)
    con.close()
    before = digest(db_path)
    result = cli("run", "--db", db_path, *FAST)
    assert result.code == 2
    assert named in one_line_error(result.err)
    assert digest(db_path) == before
    assert emulator.received == []


def test_not_a_database(cli, tmp_path: Path, emulator: Emulator) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("hello")
    result = cli("run", "--db", path)
    assert result.code == 2
    one_line_error(result.err)
    assert path.read_text() == "hello"


HOLD_LOCK = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); sys.stdin.read()"


def test_locked_database(cli, db_path: Path, emulator: Emulator) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys; c=duckdb.connect(sys.argv[1]); print('ok', flush=True); sys.stdin.read()",
            str(db_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        before = digest(db_path)
        result = cli("run", "--db", db_path, *FAST, "--lock-timeout", "0.5")
        assert result.code == 2
        line = one_line_error(result.err)
        assert "locked" in line and f"PID {holder.pid}" in line
        assert "import duckdb" in line, "the holder's command line, so a user sees what it is"
        assert digest(db_path) == before
        verify = cli("verify", "--db", db_path)
        assert verify.code == 2 and "locked" in verify.err
    finally:
        holder.communicate("", timeout=10)


@pytest.mark.parametrize(
    "args",
    [
        ["--rate", "0"],
        ["--rate", "abc"],
        ["--concurrency", "0"],
        ["--max-wait", "-1"],
        ["--only", "albums"],
        ["--bogus"],
    ],
)
def test_bad_arguments_exit_2(cli, db_path: Path, args: list[str]) -> None:
    before = digest(db_path)
    with pytest.raises(SystemExit) as exc:
        cli("run", "--db", db_path, *args)
    assert exc.value.code == 2
    assert digest(db_path) == before


def test_no_log_table_after_a_setup_error(cli, db_path: Path, emulator: Emulator, monkeypatch) -> None:
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "wrong")
    cli("run", "--db", db_path)
    con = duckdb.connect(str(db_path), read_only=True)
    names = {n for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "backfill_log" not in names


def test_secrets_and_tokens_never_printed(cli, db_path: Path, emulator: Emulator) -> None:
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 0
    tokens = {r.token for r in emulator.api() if r.token}
    for text in (result.out, result.err):
        assert CLIENT_SECRET not in text
        assert not any(t in text for t in tokens)


def test_unexpected_column_types_give_one_line_not_a_traceback(cli, tmp_path: Path, emulator: Emulator) -> None:
    path = tmp_path / "odd.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE tracks (spotify_track_uri INTEGER, album_image_url INTEGER)")
    con.execute("CREATE TABLE artists (artist_name TEXT, spotify_artist_id TEXT, image_url TEXT)")
    con.execute("INSERT INTO tracks VALUES (1, NULL)")
    con.close()
    before = digest(path)
    result = cli("run", "--db", path, *FAST)
    assert result.code == 2
    line = one_line_error(result.err)
    assert "spotify_track_uri" in line and "INTEGER" in line
    assert digest(path) == before
