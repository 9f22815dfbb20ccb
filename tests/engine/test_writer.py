"""The single writer: few holds of the file, counts as committed, one kind's failure keeps the other's work, and
values written by someone else between the plan and the write survive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from backfill.records import Outcome
from backfill.store.attach import Attachment, Busy
from backfill.store.schema import check_schema
from backfill.store.store import Store
from standin import Emulator
from standin.sample import World
from tests.conftest import FAST, table


@pytest.fixture
def holds(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Counts what the run does with the file: attaches per mode, schema checks, batches written."""
    seen: dict[str, Any] = {"read": 0, "write": 0, "checks": 0, "batches": [], "attached_after": []}
    attach, check, apply = Attachment.attach, check_schema, Store.apply

    def counting_attach(self: Attachment, mode: Any) -> bool:
        fresh = attach(self, mode)
        seen[mode] += fresh
        return fresh

    def counting_check(*args: Any) -> Any:
        seen["checks"] += 1
        return check(*args)

    def counting_apply(self: Store, outcomes: Any) -> Any:
        seen["batches"].append(len(outcomes))
        return apply(self, outcomes)

    monkeypatch.setattr(Attachment, "attach", counting_attach)
    monkeypatch.setattr("backfill.store.store.check_schema", counting_check)
    monkeypatch.setattr(Store, "apply", counting_apply)
    return seen


def test_results_are_written_every_n_and_nothing_is_read_after_the_plan(
    cli, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, holds: dict[str, Any]
) -> None:
    monkeypatch.setenv("BACKFILL_WRITE_SECONDS", "3600")  # only the count (and the end) makes a write
    monkeypatch.setenv("BACKFILL_WRITE_RESULTS", "60")
    result = cli("run", "--db", db_path, "--source", "oembed", "--oembed-rate", "500", "--json")
    assert result.code == 0, result.err
    answered = sum(result.json[k]["pending"] for k in ("tracks", "artists"))
    batches = holds["batches"]  # one apply per kind per write
    assert sum(batches) == answered
    assert max(batches) <= 60
    writes = holds["write"] - 1  # the run's own open (for writing) is the first
    assert writes <= -(-answered // 60) + 1  # one hold per 60 results (and the last), not one per second
    assert holds["read"] == 1  # the read-only plan; the run's counts come from no read of the file
    assert holds["checks"] == 2  # the schema is checked at the two plans, never under a write's lock


def test_the_summary_counts_only_what_was_committed(
    cli, db_path: Path, emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recovered ids, misses and images: the artists' transaction fails, so none of theirs is counted."""
    apply = Store.apply

    def failing_for_artists(self: Store, outcomes: Any) -> Any:
        if any(o.kind == "artists" for o in outcomes):
            raise duckdb.ConstraintException("Constraint Error: CHECK constraint failed on table artists")
        return apply(self, outcomes)

    monkeypatch.setattr(Store, "apply", failing_for_artists)
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 2, result.err
    doc = result.json
    artists = doc["artists"]
    assert artists["updated"] == artists["no_image"] == artists["not_found"] == artists["recovered_ids"] == 0
    assert artists["unwritten"] > 0 and "artists" in doc["error"]
    assert table(db_path, "SELECT count(*) FROM artists WHERE image_url IS NOT NULL")[0][0] == len(
        world.prefilled_artists
    )
    # The tracks' work was kept, and counted as committed.
    filled = table(db_path, "SELECT count(album_image_url) FROM tracks")[0][0]
    assert doc["tracks"]["updated"] == filled - len(world.prefilled_tracks) > 0
    assert doc["database"]["tracks"]["with_image"] == filled


def test_recovered_ids_are_counted_as_written(cli, db_path: Path, emulator: Emulator) -> None:
    result = cli("run", "--db", db_path, *FAST, "--json")
    written = table(db_path, "SELECT count(spotify_artist_id) FROM artists")[0][0]
    before = result.json["artists"]["recovered_ids"]
    assert result.code == 0 and before > 0
    rerun = cli("run", "--db", db_path, *FAST, "--retry-misses", "--json")
    assert rerun.json["artists"]["recovered_ids"] == 0  # nothing left to recover: none "recovered" again
    assert table(db_path, "SELECT count(spotify_artist_id) FROM artists")[0][0] == written


def test_a_check_constraint_that_rejects_the_urls_is_refused_at_set_up(cli, db_path: Path, emulator: Emulator) -> None:
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE a2 AS SELECT * FROM artists")
    con.execute("DROP TABLE artists")
    con.execute(
        "CREATE TABLE artists (artist_name VARCHAR, spotify_artist_id VARCHAR, "
        "image_url VARCHAR CHECK (image_url LIKE 'http://%'))"
    )
    con.execute("INSERT INTO artists SELECT artist_name, spotify_artist_id, image_url FROM a2 WHERE image_url IS NULL")
    con.execute("DROP TABLE a2")
    con.close()
    before = db_path.read_bytes()
    result = cli("run", "--db", db_path, *FAST)
    assert result.code == 2
    assert "constraint" in result.err and "image_url" in result.err and len(result.err.strip().splitlines()) == 1
    assert emulator.api() == []  # nothing asked
    assert db_path.read_bytes() == before


def test_a_check_constraint_that_rejects_some_urls_keeps_the_tracks_and_counts_only_what_was_committed(
    cli, db_path: Path, emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CHECK the set-up probe passes (it rejects only URLs ending in one pair of characters) fails the artists'
    write for real: the tracks' transaction stands, the artists' is rolled back whole, and the summary counts
    neither the artists' images nor their misses as remembered."""
    monkeypatch.setenv("BACKFILL_WRITE_SECONDS", "3600")  # one write at the end, holding the URL rejected
    prefilled = set(world.prefilled_artists.values())
    suffix = next(
        url[-2:]
        for url in sorted(u for u in world.expected_artist_url.values() if u)
        if url[-2:] != "00" and not any(p.endswith(url[-2:]) for p in prefilled)  # the probe's URLs end in 00
    )
    con = duckdb.connect(str(db_path))
    con.execute("ALTER TABLE artists RENAME TO a2")
    columns = ", ".join(
        f'"{name}" {kind}'
        for name, kind in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'a2' ORDER BY column_index"
        ).fetchall()
    )
    con.execute(f"CREATE TABLE artists ({columns}, CHECK (image_url IS NULL OR right(image_url, 2) <> '{suffix}'))")
    con.execute("INSERT INTO artists SELECT * FROM a2")
    con.execute("DROP TABLE a2")
    con.close()

    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 2, result.err
    doc = result.json
    assert "could not write the artists" in doc["error"] and "constraint" in doc["error"].lower(), doc["error"]
    artists = doc["artists"]
    assert artists["updated"] == artists["no_image"] == artists["not_found"] == artists["recovered_ids"] == 0
    assert artists["unwritten"] > 0
    assert table(db_path, "SELECT count(image_url) FROM artists")[0][0] == len(prefilled)
    kinds = table(db_path, "SELECT kind, count(*) FROM backfill_log GROUP BY kind")
    tracks = doc["tracks"]
    assert dict(kinds) == {"track": tracks["no_image"] + tracks["not_found"]}  # no artist remembered
    filled = table(db_path, "SELECT count(album_image_url) FROM tracks")[0][0]
    assert tracks["updated"] == filled - len(world.prefilled_tracks) > 0  # the tracks' work kept, and counted


RECOVERABLE = """SELECT a.artist_name FROM artists a JOIN (SELECT primary_artist_name AS n FROM tracks
    WHERE primary_artist_id IS NOT NULL GROUP BY 1 HAVING count(DISTINCT primary_artist_id) = 1) t
    ON t.n = a.artist_name WHERE a.spotify_artist_id IS NULL AND a.image_url IS NULL ORDER BY 1"""


def test_values_written_meanwhile_by_another_survive(
    cli, db_path: Path, emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the plan and the first write, another connection fills an artist's photo and a recoverable
    artist's id: both survive (the writer's IS NULL guards)."""
    photo_of, photo_id = table(
        db_path,
        "SELECT artist_name, spotify_artist_id FROM artists WHERE image_url IS NULL AND spotify_artist_id IS NOT NULL "
        "ORDER BY 1 LIMIT 1",
    )[0]
    id_of = table(db_path, RECOVERABLE)[0][0]
    # Spotify has a photo for the one and knows the other's id: without the guards, the run would overwrite both.
    assert world.expected_artist_url.get(photo_id)
    assert world.recoverable_artists[id_of] in world.catalog.artists
    apply, done = Store.apply, []

    def meanwhile(self: Store, outcomes: Any) -> Any:
        if not done:  # the plan is read and the file released: another process writes now
            con = duckdb.connect(str(db_path))
            con.execute(
                "UPDATE artists SET image_url = 'https://example.org/theirs.jpg' WHERE artist_name = ?", [photo_of]
            )
            con.execute("UPDATE artists SET spotify_artist_id = 'theirs' WHERE artist_name = ?", [id_of])
            con.close()
            done.append(True)
        return apply(self, outcomes)

    monkeypatch.setattr(Store, "apply", meanwhile)
    result = cli("run", "--db", db_path, *FAST)
    assert result.code == 0, result.err
    assert done
    rows = dict(table(db_path, "SELECT artist_name, image_url FROM artists"))
    ids = dict(table(db_path, "SELECT artist_name, spotify_artist_id FROM artists"))
    assert rows[photo_of] == "https://example.org/theirs.jpg"
    assert ids[id_of] == "theirs"


def test_a_recovered_id_spotify_does_not_know_is_not_written(
    cli, db_path: Path, emulator: Emulator, world: World
) -> None:
    names = [n for (n,) in table(db_path, RECOVERABLE)]
    con = duckdb.connect(str(db_path))  # one name's only primary_artist_id: an id Spotify does not know
    con.execute(
        "UPDATE tracks SET primary_artist_id = '0000000000000000000000' WHERE primary_artist_name = ?", [names[0]]
    )
    con.close()
    result = cli("run", "--db", db_path, *FAST)
    assert result.code == 0, result.err
    unknown = {i for r in emulator.api() if r.endpoint in ("artist", "artists") for i in r.ids} - set(
        world.catalog.artists
    )
    ids = dict(table(db_path, "SELECT artist_name, spotify_artist_id FROM artists"))
    written = {ids[n] for n in names if ids[n] is not None}
    assert "0000000000000000000000" in unknown  # asked, and answered not found
    assert written and not written & unknown
    assert ids[names[0]] is None


BUSY = "database {} is locked by another process (PID 4242: python dashboard.py) (waited 30 s)"


def busy_for(calls: int, monkeypatch: pytest.MonkeyPatch, *, after: int = 0) -> list[int]:
    """Store.apply writes its first `after` calls, answers Busy for the next `calls` (another process keeps the
    file), then writes."""
    apply, seen = Store.apply, [0]

    def sometimes_busy(self: Store, outcomes: Any) -> Any:
        seen[0] += 1
        if after < seen[0] <= after + calls:
            raise Busy(BUSY.format(self.path), 30.0)
        return apply(self, outcomes)

    monkeypatch.setattr(Store, "apply", sometimes_busy)
    return seen


def test_a_write_that_goes_through_on_the_last_try_is_not_an_error_of_the_file(
    cli, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file was busy past the lock timeout, fetching stopped, and the last try wrote everything fetched:
    exit 1 (the run stopped early), never exit 2 "locked ... close it and try again"."""
    monkeypatch.setenv("BACKFILL_WRITE_RESULTS", "5")  # the first write comes while much is still to fetch
    seen = busy_for(1, monkeypatch)
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert seen[0] >= 2
    assert result.code == 1, result.err
    error = result.json["error"]
    assert "PID 4242" in error and "were written once it was free" in error and "try again" not in error
    updated = result.json["tracks"]["updated"] + result.json["artists"]["updated"]
    assert updated > 0 and result.json["tracks"]["unwritten"] == result.json["artists"]["unwritten"] == 0


def test_a_file_still_busy_at_the_last_try_exits_2_saying_what_was_not_written(
    cli, db_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = table(db_path, "SELECT count(album_image_url) FROM tracks")
    busy_for(1_000, monkeypatch)
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 2, result.err
    assert "fetched results were not written" in result.json["error"] and "PID 4242" in result.json["error"]
    assert table(db_path, "SELECT count(album_image_url) FROM tracks") == before


def test_a_file_busy_after_some_writes_exits_2_keeping_and_counting_what_was_written(
    cli, db_path: Path, emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKFILL_WRITE_RESULTS", "40")
    busy_for(1_000, monkeypatch, after=2)  # the first write (tracks, then artists) goes through
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 2, result.err
    error = result.json["error"]
    assert "fetched results were not written" in error and "everything written before stays" in error
    filled = table(db_path, "SELECT count(album_image_url) FROM tracks")[0][0] - len(world.prefilled_tracks)
    tracks = result.json["tracks"]
    assert tracks["updated"] == filled > 0 and tracks["unwritten"] > 0


def test_a_key_on_two_rows_fills_only_the_empty_one_and_names_spotify_only_for_it(tmp_path: Path) -> None:
    """A table without its primary key may hold a key twice: the row with a value keeps it (the UPDATE's own
    IS NULL guard), and provenance names Spotify only for the value it wrote (the fills' guard)."""
    path = tmp_path / "twice.duckdb"
    uri, artist_id = "spotify:track:" + "a" * 22, "b" * 22
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE tracks (spotify_track_uri TEXT, track_name TEXT, primary_artist_name TEXT, album_name TEXT, "
        "album_image_url TEXT)"
    )
    con.execute("CREATE TABLE artists (artist_name TEXT, spotify_artist_id TEXT, image_url TEXT)")
    con.execute(
        "INSERT INTO tracks VALUES (?, 't', 'A', 'B', NULL), (?, 't', 'A', 'B', 'https://mine.example/t')", [uri, uri]
    )
    con.execute("INSERT INTO artists VALUES ('A', ?, NULL), ('A', ?, 'https://mine.example/a')", [artist_id, artist_id])
    con.close()
    store = Store.open(path, read_only=False)
    try:
        store.plan()
        store.apply(
            [
                Outcome("tracks", uri[14:], "updated", "https://i.scdn.co/image/t"),
                Outcome("artists", artist_id, "updated", "https://i.scdn.co/image/a"),
            ]
        )
    finally:
        store.close()
    assert sorted(table(path, "SELECT album_image_url FROM tracks")) == [
        ("https://i.scdn.co/image/t",),
        ("https://mine.example/t",),
    ]
    assert sorted(table(path, "SELECT image_url FROM artists")) == [
        ("https://i.scdn.co/image/a",),
        ("https://mine.example/a",),
    ]
    assert sorted(table(path, "SELECT kind, value, source FROM backfill_provenance")) == [
        ("artist", "https://i.scdn.co/image/a", "spotify"),
        ("track", "https://i.scdn.co/image/t", "spotify"),
    ]
