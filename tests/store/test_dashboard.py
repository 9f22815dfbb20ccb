"""The dashboard's own DuckDB (1.4.2, from Node) opens the files we write and the files we backfill, and
shows the images the backfill stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from standin.sample import SampleSpec, build_world, write_history
from tests import dashboard
from tests.cli.test_demo import SMALL_DEMO
from tests.cli.test_demo import demo as run_demo
from tests.conftest import AUTO, FAST, SMALL, images, serving, table
from tests.store.test_refresh import changed_world

DASHBOARD_INDEXES = {
    ("plays", "idx_plays_year_month"),
    ("plays", "idx_plays_date"),
    ("tracks", "idx_tracks_release_year"),
    ("tracks", "idx_tracks_release_decade"),
    ("artists", "idx_artists_genres"),
}


@pytest.fixture(scope="module")
def node() -> None:
    dashboard.required()


def shows_the_stored_images(result: dict[str, Any], path: Path) -> None:
    """The dashboard's rows carry exactly the URLs our DuckDB reads from the file, some of them filled."""
    assert result["ok"], result["error"]
    tracks, artists = images(path)
    rows = result["top-tracks"]
    assert rows and all(
        tracks.get(r["spotify_track_uri"]) == r["album_image_url"] for r in rows if r["spotify_track_uri"]
    )
    assert rows and all(artists.get(r["artist_name"]) == r["image_url"] for r in result["top-artists"])
    assert any(r["album_image_url"] for r in rows) and any(r["image_url"] for r in result["top-artists"])


@pytest.mark.usefixtures("demo_port_held")
def test_the_sample_and_the_demo_open_in_the_dashboards_duckdb(node: None, cli: Any, tmp_path: Path) -> None:
    sample = tmp_path / "sample.duckdb"
    write_history(build_world(SampleSpec(seed=3, tracks=150, artists=40, plays=300)), sample)
    demo = tmp_path / "demo.duckdb"
    made = run_demo(tmp_path, "demo", "--db", demo.name, *SMALL_DEMO)
    assert made.returncode == 0, made.stderr
    read = dashboard.read([sample, demo])
    assert read[sample]["ok"], read[sample]["error"]
    assert read[sample]["top-tracks"] and read[sample]["top-artists"]
    shows_the_stored_images(read[demo], demo)  # the demo's backfill kept it readable too
    for path in (sample, demo):
        assert "can be opened only" not in cli("verify", "--db", path).err


def test_a_dashboards_real_history_stays_readable_by_the_dashboard_after_a_run_and_a_refresh(
    node: None, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secondary indexes, the dashboard's other tables, a column added by ALTER TABLE: all as they were."""
    spec = SampleSpec(
        seed=SMALL.seed, tracks=SMALL.tracks, artists=SMALL.artists, plays=SMALL.plays, dashboard_schema=True
    )
    world = build_world(spec)
    path = tmp_path / "real.duckdb"
    write_history(world, path)
    extras = "SELECT * FROM audio_features ORDER BY ALL", "SELECT * FROM genre_mappings ORDER BY ALL"
    before = [table(path, sql) for sql in extras]
    with serving(world, monkeypatch):
        assert cli("run", "--db", path, *AUTO).code == 0
    with serving(changed_world(world, path), monkeypatch):
        refreshed = cli("run", "--db", path, *FAST, "--refresh", "--json")
        assert refreshed.code == 0 and sum(refreshed.json["replaced"].values()) > 0
    shows_the_stored_images(dashboard.read_one(path), path)
    assert set(table(path, "SELECT table_name, index_name FROM duckdb_indexes()")) >= DASHBOARD_INDEXES
    assert [table(path, sql) for sql in extras] == before
    assert "can be opened only" not in cli("verify", "--db", path).err


def test_verify_says_when_the_dashboard_cannot_open_the_file(
    node: None, cli: Any, db_path: Path, tmp_path: Path
) -> None:
    newer = tmp_path / "newer.duckdb"
    con = duckdb.connect(str(newer))  # this DuckDB's own default storage version
    con.execute(f"ATTACH '{db_path}' AS old (READ_ONLY)")
    con.execute(f"COPY FROM DATABASE old TO {newer.stem}")
    con.close()
    assert not dashboard.read_one(newer)["ok"]  # really unreadable there: the line below is no false alarm
    for args in ((), ("--json",)):
        result = cli("verify", "--db", newer, *args)
        assert result.code == 0
        lines = [line for line in result.err.splitlines() if "can be opened only" in line]
        assert len(lines) == 1 and "DuckDB >= 2.0" in lines[0] and "duckdb-async 1.4" in lines[0], result.err
