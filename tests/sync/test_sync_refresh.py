"""`sync` after `run --refresh` and `undo`: the values backfill itself replaced in DuckDB are replaced in
Postgres too, where Postgres still holds the value replaced; a value set in Postgres by anyone else stays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from standin.sample import World
from tests.conftest import FAST, serving, table
from tests.store.test_refresh import changed_world
from tests.sync.conftest import Production
from tests.sync.test_sync import duck_values, expected, reported

COLUMN = {"track": ("tracks", "album_image_url"), "artist": ("artists", "image_url")}
ELSEWHERE = "https://elsewhere.example/set-by-the-dashboard"


def refresh(cli: Any, history: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str, str]]:
    """`run --refresh` against a world where Spotify changed some images; returns the journal."""
    with serving(changed_world(world, history), monkeypatch):
        run = cli("run", "--db", history, "--refresh", *FAST, "--json")
    assert run.code == 0, run.err
    entries = table(history, "SELECT kind, row_key, old_value, new_value FROM backfill_journal ORDER BY seq")
    assert {kind for kind, *_ in entries} == {"track", "artist"}
    return entries


def someone_else_sets(production: Production, kind: str, key: str) -> None:
    tbl, column = COLUMN[kind]
    key_column = "spotify_track_uri" if kind == "track" else "artist_name"
    production.execute(f"UPDATE {tbl} SET {column} = '{ELSEWHERE}' WHERE {key_column} = '{key}'")


def walked(
    before: dict[str, Any], history: Path, moves: dict[tuple[str, str], tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a correct sync leaves and reports: the plain expectation, except that a row Postgres holds at
    `from` (a value the journal says backfill replaced) gets `to` and is counted as refreshed."""
    want, counts = expected(before, duck_values(history))
    for (kind, key), (old, new) in moves.items():
        tbl, column = COLUMN[kind]
        if before[tbl][key][column] == old:
            want[tbl][key][column] = new
            counts[tbl][column]["differing"] -= 1
            counts[tbl][column]["refreshed"] += 1
    return want, counts


def test_sync_after_a_refresh_pushes_the_replacements(
    cli, history: Path, production: Production, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = production.url()
    assert cli("sync", "--db", history, "--postgres", url).code == 0  # production is up to date
    entries = refresh(cli, history, world, monkeypatch)
    # The dashboard's admin set one of them meanwhile: that value is not backfill's, and stays.
    kind, key, _, _ = entries[0]
    someone_else_sets(production, kind, key)
    before = production.snapshot()
    want, counts = walked(before, history, {(k, r): (old, new) for k, r, old, new in entries})
    refreshed = sum(c["refreshed"] for columns in counts.values() for c in columns.values())
    assert refreshed == len(entries) - 1

    dry = cli("sync", "--db", history, "--postgres", url, "--dry-run", "--json")
    assert dry.code == 0, dry.err
    assert production.snapshot() == before

    result = cli("sync", "--db", history, "--postgres", url, "--json")
    assert result.code == 0, result.err
    after = production.snapshot()
    # What was written first: the UPDATE's own guard keeps the admin's value whatever the counting says.
    assert after == want  # every column of every row of all four tables
    assert after[COLUMN[kind][0]][key][COLUMN[kind][1]] == ELSEWHERE
    assert reported(result.json) == counts == reported(dry.json) and dry.json["refreshed"] == refreshed
    assert result.json["pushed"] == 0 and result.json["refreshed"] == refreshed
    assert result.json["tracks"]["rows_updated"] + result.json["artists"]["rows_updated"] == refreshed

    again = cli("sync", "--db", history, "--postgres", url)
    assert again.code == 0
    assert "Pushed 0 values (0 rows updated" in again.out and production.snapshot() == want


def test_undo_then_sync_walks_production_back(
    cli, history: Path, production: Production, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = production.url()
    before_refresh = production.snapshot()
    entries = refresh(cli, history, world, monkeypatch)
    # Never synced since the backfill: rows Postgres has NULL get the refreshed value, the others are replaced.
    first = cli("sync", "--db", history, "--postgres", url, "--json")
    assert first.code == 0, first.err
    assert first.json["pushed"] > 0 and first.json["refreshed"] > 0
    assert production.snapshot() == walked(before_refresh, history, {(k, r): (o, n) for k, r, o, n in entries})[0]

    assert cli("undo", "--db", history, "--last").code == 0
    kind, key, _, _ = entries[-1]
    someone_else_sets(production, kind, key)
    before = production.snapshot()
    want, counts = walked(before, history, {(k, r): (new, old) for k, r, old, new in entries})
    assert sum(c["refreshed"] for columns in counts.values() for c in columns.values()) == len(entries) - 1

    result = cli("sync", "--db", history, "--postgres", url)
    assert result.code == 0, result.err
    after = production.snapshot()
    assert after == want
    for k, row_key, old, _ in entries[:-1]:
        tbl, column = COLUMN[k]
        assert after[tbl][row_key][column] == old  # walked back to what undo restored
    assert after[COLUMN[kind][0]][key][COLUMN[kind][1]] == ELSEWHERE
    # The text report: a column of its own, and a line saying what they are.
    assert "refreshed" in result.out.splitlines()[1]
    assert f"Pushed 0 values and {len(entries) - 1:,} refreshed values" in result.out
    assert "Refreshed: " in result.out


def test_a_value_changed_in_duckdb_since_the_refresh_is_not_walked(
    cli, history: Path, production: Production, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set by hand in DuckDB after the refresh: not backfill's last word on that row, so Postgres keeps its own.
    url = production.url()
    assert cli("sync", "--db", history, "--postgres", url).code == 0
    entries = refresh(cli, history, world, monkeypatch)
    key = next(row_key for kind, row_key, _, _ in entries if kind == "track")
    con = duckdb.connect(str(history))
    con.execute("UPDATE tracks SET album_image_url = 'https://by.hand.example/x' WHERE spotify_track_uri = ?", [key])
    con.close()
    before = production.snapshot()
    result = cli("sync", "--db", history, "--postgres", url, "--json")
    assert result.code == 0, result.err
    assert result.json["refreshed"] == len(entries) - 1
    assert production.snapshot()["tracks"][key] == before["tracks"][key]
