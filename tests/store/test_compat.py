"""The user's file stays readable by the DuckDB that created it (issue 10, item 1). Run by `make compat`.

Each older DuckDB lives in its own virtualenv under .cache/duckdb-<version>/ (made here with venv + pip when
missing, then reused). That DuckDB writes the sample history; the project's DuckDB backfills it through the
real CLI against the emulator; then that DuckDB must open it again and see the images, the log, and every
other column as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pytest

from backfill.store.dbfile import sniff
from standin import Emulator
from standin.sample import World
from tests import dashboard
from tests.checks import check_images
from tests.conftest import FAST, SMALL, digest, images, serving
from tests.store.helpers import fallback_and_hand_set
from tests.store.test_dashboard import shows_the_stored_images
from tests.store.test_refresh import changed_world

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
OLD = ROOT / "tests" / "old_duckdb.py"
# The latest patch of each release with a CPython 3.11 wheel. The histories are read back by these.
KEPT = ("0.10.3", "1.0.0", "1.1.3", "1.2.2", "1.3.2", "1.4.5", "1.5.6")
TOO_OLD_TO_KEEP = "0.9.2"  # readable by our DuckDB, but not by itself after our write: refused
TOO_OLD_TO_READ = "0.8.1"  # storage version 51: our DuckDB cannot open it at all
IMAGE_COLUMNS = {"tracks": {"album_image_url"}, "artists": {"image_url", "spotify_artist_id"}}

pytestmark = pytest.mark.skipif(
    not os.environ.get("BACKFILL_COMPAT"), reason="`make compat` runs these (a virtualenv per DuckDB version)"
)


def _venv(version: str) -> Path:
    home = CACHE / f"duckdb-{version}"
    python = home / "bin" / "python"
    if (home / ".ready").exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True, capture_output=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"duckdb=={version}"]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install duckdb=={version} failed:\n{done.stdout}{done.stderr}")
    (home / ".ready").touch()
    return python


@pytest.fixture(scope="session")
def pythons() -> dict[str, Path]:
    versions = (*KEPT, TOO_OLD_TO_KEEP, TOO_OLD_TO_READ)
    with ThreadPoolExecutor(len(versions)) as pool:
        return dict(zip(versions, pool.map(_venv, versions), strict=True))


def old(python: Path, *args: object) -> str:
    done = subprocess.run([str(python), str(OLD), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def write(python: Path, path: Path, plays: int = SMALL.play_count) -> None:
    old(python, "write", path, SMALL.seed, SMALL.tracks, SMALL.artists, plays)


def dump(python: Path, path: Path) -> dict[str, Any]:
    return json.loads(old(python, "dump", path))


def without(table: dict[str, Any], skip: set[str]) -> list[list[Any]]:
    keep = [i for i, c in enumerate(table["columns"]) if c not in skip]
    return sorted(([row[i] for i in keep] for row in table["rows"]), key=repr)


@pytest.mark.parametrize("version", KEPT)
def test_a_backfilled_history_opens_in_the_duckdb_that_made_it(
    version: str,
    pythons: dict[str, Path],
    world: World,
    emulator: Emulator,
    cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    python, path = pythons[version], tmp_path / f"made-by-{version}.duckdb"
    write(python, path)
    header = sniff(path)
    before = dump(python, path)
    assert cli("run", "--db", path, *FAST).code == 0
    # Again with the remembered misses, so the log's rows are replaced too (DELETE + INSERT).
    assert cli("run", "--db", path, *FAST, "--retry-misses").code == 0
    # A refresh that replaces images (the journal and the refreshed table appear), twice (their rows are
    # replaced too), and its undo (the journal's rows updated): the images end as the backfill left them.
    with serving(changed_world(world, path), monkeypatch):
        refreshed = cli("run", "--db", path, *FAST, "--refresh", "--json")
        assert refreshed.code == 0 and sum(refreshed.json["replaced"].values()) > 0
        assert cli("run", "--db", path, *FAST, "--refresh").code == 0
    assert cli("undo", "--db", path, "--last").code == 0
    # A fallback's answers (its log appears), a set by hand (provenance rows replaced) and their undo by source:
    # three more journal entries, and the images end as the backfill left them.
    fallback_and_hand_set(cli, path, world)
    assert cli("undo", "--db", path, "--source", "deezer").code == 0

    after = dump(python, path)  # fails if that DuckDB cannot read the file
    assert after["version"] == version
    assert sniff(path) == header, "the file's storage version or creator changed"
    assert check_images(path, world, complete=True)["tracks"] > 0
    tracks, artists = images(path)  # read by our DuckDB; the old one must see the same
    columns = after["tracks"]["columns"]
    uri, url = columns.index("spotify_track_uri"), columns.index("album_image_url")
    assert {r[uri]: r[url] for r in after["tracks"]["rows"] if r[uri] is not None} == tracks
    columns = after["artists"]["columns"]
    name, url = columns.index("artist_name"), columns.index("image_url")
    assert {r[name]: r[url] for r in after["artists"]["rows"]} == artists
    for table in ("tracks", "artists", "plays"):
        skip = IMAGE_COLUMNS.get(table, set())
        assert without(after[table], skip) == without(before[table], skip), f"{table}: other columns changed"
    assert after["backfill_log"]["rows"], "the log of misses is readable too"
    journal = after["backfill_journal"]
    assert len(journal["rows"]) == sum(refreshed.json["replaced"].values()) + 3, "the journal is readable too"
    undone = [row[journal["columns"].index("undone_at")] is not None for row in journal["rows"]]
    assert sum(undone) == sum(refreshed.json["replaced"].values())
    assert after["backfill_refreshed"]["rows"]
    assert after["backfill_provenance"]["rows"] and after["backfill_fallback_log"]["rows"]
    ours = {"backfill_log", "backfill_journal", "backfill_refreshed", "backfill_provenance", "backfill_fallback_log"}
    assert set(after) == {*before, *ours}


# A run killed right after a commit: the batch is only in the write-ahead log (a DETACH would have checkpointed).
KILLED_AFTER_A_COMMIT = """
import os, sys
from backfill.store.store import MissFilter, Outcome, Store
store = Store.open(sys.argv[1], read_only=False)
store.plan()
ids = [i for page in store.stream_tracks() for i, _ in page][:20]
store.apply([Outcome("tracks", i, "updated", url="https://i.scdn.co/image/" + i) for i in ids[:15]]
            + [Outcome("tracks", i, "not_found") for i in ids[15:]])
print(" ".join(ids), flush=True)
os._exit(9)
"""


@pytest.mark.parametrize("version", KEPT)
def test_after_a_crash_the_duckdb_that_made_the_file_replays_our_log(
    version: str, pythons: dict[str, Path], tmp_path: Path
) -> None:
    python, path = pythons[version], tmp_path / f"made-by-{version}.duckdb"
    write(python, path)
    before = dump(python, path)
    done = subprocess.run([sys.executable, "-c", KILLED_AFTER_A_COMMIT, str(path)], capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    ids = done.stdout.split()
    assert path.with_name(path.name + ".wal").exists(), "nothing left to replay: the test would prove nothing"

    after = dump(python, path)  # that DuckDB replays the WAL our DuckDB wrote
    columns = after["tracks"]["columns"]
    uri, url = columns.index("spotify_track_uri"), columns.index("album_image_url")
    got = {r[uri]: r[url] for r in after["tracks"]["rows"]}
    assert all(got[f"spotify:track:{i}"] == f"https://i.scdn.co/image/{i}" for i in ids[:15])
    assert {r[1] for r in after["backfill_log"]["rows"]} == set(ids[15:])
    for table in ("tracks", "artists", "plays"):
        skip = IMAGE_COLUMNS.get(table, set())
        assert without(after[table], skip) == without(before[table], skip)


def test_a_log_with_a_primary_key_is_rebuilt_plain(
    pythons: dict[str, Path], emulator: Emulator, cli: Any, tmp_path: Path
) -> None:
    """An earlier version of this tool made backfill_log with a PRIMARY KEY: the file is repaired, rows kept."""
    python, path = pythons["1.0.0"], tmp_path / "keyed-log.duckdb"
    write(python, path)
    remembered = [("track", f"{'0' * 21}{i}", "not_found", f"2026-01-0{i} 10:00:00") for i in range(1, 4)]
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE backfill_log (kind VARCHAR NOT NULL, spotify_id VARCHAR NOT NULL, outcome VARCHAR NOT NULL, "
        "checked_at TIMESTAMP NOT NULL, PRIMARY KEY (kind, spotify_id))"
    )
    con.executemany("INSERT INTO backfill_log VALUES (?, ?, ?, ?)", remembered)
    con.close()
    broken = subprocess.run([str(python), str(OLD), "dump", str(path)], capture_output=True, text=True)
    assert broken.returncode != 0 and "Serialization" in broken.stderr  # what the earlier version left

    assert cli("run", "--db", path, *FAST).code == 0
    log = dump(python, path)["backfill_log"]
    assert log["columns"] == ["kind", "spotify_id", "outcome", "checked_at"]
    assert {tuple(r) for r in log["rows"]} >= {tuple(r) for r in remembered}


def test_a_file_its_creator_could_not_read_after_a_write_is_refused(
    pythons: dict[str, Path], emulator: Emulator, cli: Any, tmp_path: Path
) -> None:
    path = tmp_path / "made-by-0.9.duckdb"
    write(pythons[TOO_OLD_TO_KEEP], path, plays=0)  # 0.9 cannot run the plays generator's SQL
    before = digest(path)
    result = cli("run", "--db", path, *FAST)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and f"v{TOO_OLD_TO_KEEP}" in lines[0] and duckdb.__version__ in lines[0]
    assert "EXPORT DATABASE" in lines[0]
    assert digest(path) == before
    assert emulator.received == []
    dump(pythons[TOO_OLD_TO_KEEP], path)  # still its own


def test_a_file_too_old_for_our_duckdb_is_refused(
    pythons: dict[str, Path], emulator: Emulator, cli: Any, tmp_path: Path
) -> None:
    path = tmp_path / "made-by-0.8.duckdb"
    old(
        pythons[TOO_OLD_TO_READ],
        "sql",
        path,
        "CREATE TABLE tracks (spotify_track_uri VARCHAR, album_image_url VARCHAR)",
        "CREATE TABLE artists (artist_name VARCHAR, spotify_artist_id VARCHAR, image_url VARCHAR)",
    )
    before = digest(path)
    result = cli("run", "--db", path, *FAST)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "v0.8" in lines[0] and duckdb.__version__ in lines[0], lines
    assert digest(path) == before
    assert emulator.received == []


@pytest.mark.parametrize("version", ["1.0.0", "1.5.6"])
def test_a_dashboards_real_history_made_by_an_older_duckdb_is_read_by_the_dashboards_duckdb_after_a_backfill(
    version: str,
    pythons: dict[str, Path],
    world: World,
    emulator: Emulator,
    cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Made by one DuckDB (with the dashboard's indexes and tables), backfilled by ours, read by a third:
    the dashboard's 1.4.2 from Node, running its Top Tracks and Top Artists."""
    dashboard.required()
    python, path = pythons[version], tmp_path / f"real-{version}.duckdb"
    old(python, "write", path, SMALL.seed, SMALL.tracks, SMALL.artists, SMALL.play_count, "--dashboard-schema")
    before = dump(python, path)
    assert {"audio_features", "genre_mappings"} <= set(before)
    assert cli("run", "--db", path, *FAST).code == 0
    with serving(changed_world(world, path), monkeypatch):
        assert cli("run", "--db", path, *FAST, "--refresh").code == 0
    shows_the_stored_images(dashboard.read_one(path), path)
    after = dump(python, path)  # and its maker still reads it
    for name in ("plays", "audio_features", "genre_mappings"):
        assert after[name] == before[name]
