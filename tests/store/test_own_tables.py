"""The tables this tool adds to the user's file carry no key, index or constraint (older DuckDBs cannot read
the index data a newer one writes), and such a table left by an earlier version of the tool is rebuilt plain."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb
import pytest

from backfill.store.schema import OWN_DDL
from standin import Emulator
from standin.sample import World, write_history
from tests.conftest import FAST, serving, table
from tests.store.helpers import fallback_and_hand_set
from tests.store.test_refresh import changed_world

OURS = "table_name LIKE 'backfill\\_%' ESCAPE '\\'"


def keys_and_indexes(path: Path) -> list[tuple[Any, ...]]:
    return table(path, f"SELECT table_name, constraint_type FROM duckdb_constraints() WHERE {OURS}") + table(
        path, f"SELECT table_name, index_name FROM duckdb_indexes() WHERE {OURS}"
    )


def test_every_table_of_ours_is_plain_after_runs_a_refresh_and_an_undo(
    cli: Any, db_path: Path, world: World, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("run", "--db", db_path, *FAST).code == 0
    assert cli("run", "--db", db_path, *FAST, "--retry-misses").code == 0
    with serving(changed_world(world, db_path), monkeypatch):
        assert cli("run", "--db", db_path, *FAST, "--refresh").code == 0
    assert cli("undo", "--db", db_path, "--last").code == 0
    ours = {name for (name,) in table(db_path, f"SELECT table_name FROM duckdb_tables() WHERE {OURS}")}
    assert {"backfill_log", "backfill_journal", "backfill_refreshed"} <= ours
    assert table(db_path, "SELECT count(*) FROM backfill_log")[0][0] > 0
    assert keys_and_indexes(db_path) == []


def everyones_keys_and_indexes(path: Path) -> list[tuple[Any, ...]]:
    return sorted(
        table(path, "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints()")
        + table(path, "SELECT table_name, index_name, sql FROM duckdb_indexes()")
    )


def test_every_table_the_tool_can_add_is_plain_and_the_users_keys_and_indexes_stay_as_they_were(
    cli: Any, tmp_path: Path, world: World, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All six of our tables (a run's log and provenance, a refresh's journal, a fallback's log, a quota's wait),
    on a history with the dashboard's own indexes: no key, index or constraint of ours, none of the user's lost."""
    path = tmp_path / "dashboard.duckdb"
    write_history(dataclasses.replace(world, spec=dataclasses.replace(world.spec, dashboard_schema=True)), path)
    before = everyones_keys_and_indexes(path)
    assert any(row[1] == "PRIMARY KEY" for row in before) and any(row[0] == "tracks" and row[2] for row in before)
    artists = ("--db", path, *FAST, "--only", "artists")  # the artists alone add every table a run adds, sooner
    assert cli("run", *artists).code == 0
    with serving(changed_world(world, path), monkeypatch):
        assert cli("run", *artists, "--refresh").code == 0
    assert cli("undo", "--db", path, "--last").code == 0
    fallback_and_hand_set(cli, path, world)
    with serving(world, monkeypatch, dev_mode=True, quota=1):  # the daily quota runs out: its wait is noted
        assert cli("run", *artists, "--retry-misses").code == 75
    ours = {name for (name,) in table(path, f"SELECT table_name FROM duckdb_tables() WHERE {OURS}")}
    assert ours == set(OWN_DDL)
    assert keys_and_indexes(path) == []
    assert everyones_keys_and_indexes(path) == before


def test_a_log_with_a_primary_key_is_rebuilt_plain_with_its_rows(cli: Any, db_path: Path, emulator: Any) -> None:
    remembered = [("track", f"{'0' * 21}{i}", "not_found", f"2026-01-0{i} 10:00:00") for i in range(1, 4)]
    con = duckdb.connect(str(db_path))
    con.execute(
        "CREATE TABLE backfill_log (kind VARCHAR NOT NULL, spotify_id VARCHAR NOT NULL, outcome VARCHAR NOT NULL, "
        "checked_at TIMESTAMP NOT NULL, PRIMARY KEY (kind, spotify_id))"
    )
    con.executemany("INSERT INTO backfill_log VALUES (?, ?, ?, ?)", remembered)
    con.close()
    assert keys_and_indexes(db_path)  # what an earlier version left

    assert cli("run", "--db", db_path, *FAST).code == 0
    assert keys_and_indexes(db_path) == []
    rows = table(
        db_path, "SELECT kind, spotify_id, outcome, strftime(checked_at, '%Y-%m-%d %H:%M:%S') FROM backfill_log"
    )
    assert set(rows) >= set(remembered)


def test_the_readme_names_every_table_and_column_a_run_adds_or_fills(
    cli: Any, db_path: Path, world: World, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    promise = " ".join(readme.split("**No data harmed.**")[1].split("\n- **")[0].split())
    tables_before = {name for (name,) in table(db_path, "SELECT table_name FROM duckdb_tables()")}
    ids_before = table(db_path, "SELECT artist_name, spotify_artist_id FROM artists ORDER BY ALL")
    assert cli("run", "--db", db_path, *FAST).code == 0
    with serving(changed_world(world, db_path), monkeypatch):
        assert cli("run", "--db", db_path, *FAST, "--refresh").code == 0
    added = {name for (name,) in table(db_path, "SELECT table_name FROM duckdb_tables()")} - tables_before
    assert added and all(f"`{name}`" in promise for name in added)
    ids_after = table(db_path, "SELECT artist_name, spotify_artist_id FROM artists ORDER BY ALL")
    assert ids_after != ids_before  # ids were recovered: the bullet must say so
    assert "`artists.spotify_artist_id`" in promise and "`tracks.primary_artist_id`" in promise
