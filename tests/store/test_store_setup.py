"""The database is checked before any request: its shape, its kind, whether it can be written (issues 8, 13)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from backfill.store.store import Outcome, Store
from standin import Emulator
from standin.sample import World
from tests.checks import check_images
from tests.cli.test_setup_errors import one_line_error
from tests.conftest import FAST, digest, table


def alter(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


LOG = "backfill_log (kind VARCHAR, spotify_id VARCHAR, outcome VARCHAR, checked_at TIMESTAMP"


@pytest.mark.parametrize(
    ("statements", "named"),
    [
        (
            ["CREATE TABLE backfill_log (spotify_id VARCHAR, kind VARCHAR, outcome VARCHAR, checked_at TIMESTAMP)"],
            "backfill_log",
        ),
        ([f"CREATE TABLE {LOG}, note VARCHAR NOT NULL)"], "backfill_log"),
        (["CREATE TABLE backfill_log (a INT, b VARCHAR)"], "backfill_log"),
        (["CREATE VIEW backfill_log AS SELECT 1 AS a"], "backfill_log view"),
        (
            ["ALTER TABLE tracks RENAME TO tracks_data", "CREATE VIEW tracks AS SELECT * FROM tracks_data"],
            "tracks view",
        ),
        (
            ["ALTER TABLE artists RENAME TO artists_data", "CREATE VIEW artists AS SELECT * FROM artists_data"],
            "artists view",
        ),
        (
            ["ALTER TABLE tracks DROP COLUMN album_image_url", "ALTER TABLE tracks ADD COLUMN album_image_url INTEGER"],
            "album_image_url INTEGER",
        ),
        (
            ["ALTER TABLE artists DROP COLUMN image_url", "ALTER TABLE artists ADD COLUMN image_url INTEGER"],
            "image_url INTEGER",
        ),
    ],
)
def test_a_schema_the_run_cannot_write_is_refused_before_any_request(
    cli: Any, db_path: Path, emulator: Emulator, statements: list[str], named: str
) -> None:
    alter(db_path, *statements)
    before = digest(db_path)
    result = cli("run", "--db", db_path, *FAST)
    assert result.code == 2
    line = one_line_error(result.err)
    assert all(word in line for word in named.split()), line
    assert digest(db_path) == before
    assert emulator.received == []


def test_updated_counts_the_rows_committed(db_path: Path, world: World) -> None:
    """A row filled by someone else between fetch and write is not counted, and not overwritten."""
    ids = list(world.expected_track_url)[:3]
    alter(db_path, f"UPDATE tracks SET album_image_url = 'theirs' WHERE spotify_track_uri = 'spotify:track:{ids[0]}'")
    store = Store.open(db_path, read_only=False)
    try:
        store.plan()
        filled = store.apply([Outcome("tracks", i, "updated", url=f"https://i.scdn.co/image/{i}") for i in ids])
    finally:
        store.close()
    assert filled == {"tracks": 2, "artists": 0, "recovered": 0}
    assert table(db_path, f"SELECT album_image_url FROM tracks WHERE spotify_track_uri = 'spotify:track:{ids[0]}'") == [
        ("theirs",)
    ]


def test_the_summary_reports_committed_rows_per_kind(cli: Any, db_path: Path, world: World, emulator: Emulator) -> None:
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 0
    filled = check_images(db_path, world, complete=True)
    summary = result.json
    # Several artist names can share one id: one fetch, several rows filled. `updated` counts rows.
    assert summary["artists"]["updated"] == filled["artists"]
    assert summary["tracks"]["updated"] == filled["tracks"]


# -- files that are not a history ---------------------------------------------------------------------------


def _sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE tracks (spotify_track_uri TEXT, album_image_url TEXT)")
    con.commit()
    con.close()


# sync reads the file before Postgres answers: an unreachable URL changes nothing in what it says first.
NO_POSTGRES = "postgresql://nobody:x@127.0.0.1:1/none"


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda p: p.write_text("spotify_track_uri,album_image_url\nspotify:track:x,\n"), "a CSV file"),
        (lambda p: p.write_text(json.dumps([{"spotify_track_uri": "x"}])), "a JSON file"),
        (_sqlite, "an SQLite database"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.mkdir(), "a directory"),
    ],
)
@pytest.mark.parametrize(
    "command", [["run"], ["run", "--dry-run"], ["verify"], ["undo", "--last"], ["sync", "--postgres", NO_POSTGRES]]
)
def test_a_file_that_is_not_duckdb_is_named_for_what_it_is(
    cli: Any,
    tmp_path: Path,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    make: Any,
    what: str,
    command: list[str],
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "history.duckdb"
    make(path)
    result = cli(*command, "--db", path)
    assert result.code == 2
    line = one_line_error(result.err)
    assert what in line and "DuckDB" in line, line
    assert emulator.received == []
    assert not (tmp_path / "home" / ".duckdb").exists(), "DuckDB tried to fetch an extension"


def test_connections_never_install_or_load_extensions(db_path: Path) -> None:
    store = Store.open(db_path, read_only=True)
    try:
        settings = store._link.con.execute(
            "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
        ).fetchone()
    finally:
        store.close()
    assert settings == (False, False)


@pytest.mark.parametrize(
    "command", [["run", "--dry-run"], ["verify"], ["undo", "--last"], ["sync", "--postgres", NO_POSTGRES]]
)
def test_every_command_opens_the_file_with_extensions_off(
    cli: Any, db_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """Each DuckDB connection a command makes is asked, as it is made, whether it would fetch or load an
    extension: sync's too (it once had an opener of its own)."""
    settings: list[tuple[Any, ...] | None] = []
    real_connect = duckdb.connect

    def connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        con = real_connect(*args, **kwargs)
        settings.append(
            con.execute(
                "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
            ).fetchone()
        )
        return con

    monkeypatch.setattr(duckdb, "connect", connect)
    cli(*command, "--db", db_path)
    assert settings and all(s == (False, False) for s in settings), settings


# -- files that cannot be written ------------------------------------------------------------------------------


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """chattr +i: not even root may write (or create files in a folder). Skips where chattr is not allowed."""
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("which", ["file", "folder"])
def test_an_unwritable_file_or_folder_is_a_setup_error(cli: Any, db_path: Path, emulator: Emulator, which: str) -> None:
    before = digest(db_path)
    with immutable(db_path if which == "file" else db_path.parent):
        result = cli("run", "--db", db_path, *FAST)
    assert result.code == 2
    line = one_line_error(result.err)
    assert ("read-only" in line) if which == "file" else (".wal" in line), line
    assert digest(db_path) == before
    assert emulator.received == []


def test_a_failed_commit_reports_its_own_error(db_path: Path, world: World) -> None:
    store = Store.open(db_path, read_only=False)
    try:
        store.plan()
        track = next(iter(world.expected_track_url))
        with immutable(db_path.parent), pytest.raises(duckdb.Error) as failed:  # the .wal cannot be created
            store.apply([Outcome("tracks", track, "updated", url="https://i.scdn.co/image/x")])
    finally:
        store.close()
    assert "no transaction is active" not in str(failed.value)
    assert ".wal" in str(failed.value)
