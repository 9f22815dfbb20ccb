"""`backfill sync` against a real PostgreSQL server: images pushed, nothing else touched, every error harmless."""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg

from backfill.sync.pgurl import mask_url
from standin import Emulator
from tests.conftest import FAST, digest, table
from tests.sync.conftest import SECRET, Production, one_line_error, writer

COLUMNS = {"tracks": ("album_image_url",), "artists": ("image_url", "spotify_artist_id")}


def duck_values(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """table -> column -> {key: value} for the non-NULL values in the DuckDB history."""
    values: dict[str, dict[str, dict[str, Any]]] = {"tracks": {}, "artists": {}}
    for column in COLUMNS["tracks"]:
        rows = table(path, f"SELECT spotify_track_uri, {column} FROM tracks WHERE {column} IS NOT NULL")
        values["tracks"][column] = dict(rows)
    for column in COLUMNS["artists"]:
        rows = table(path, f"SELECT artist_name, {column} FROM artists WHERE {column} IS NOT NULL")
        values["artists"][column] = dict(rows)
    return values


def expected(before: dict[str, Any], duck: dict[str, dict[str, dict[str, Any]]]) -> tuple[dict[str, Any], dict]:
    """The snapshot a correct sync leaves, and the counts it reports, worked out independently."""
    after = copy.deepcopy(before)
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for tbl, columns in duck.items():
        counts[tbl] = {}
        for column, values in columns.items():
            c = counts[tbl][column] = dict.fromkeys(
                ("pushed", "refreshed", "already_set", "differing", "missing_in_postgres"), 0
            )
            for key, value in values.items():
                row = after[tbl].get(key)
                if row is None:
                    c["missing_in_postgres"] += 1
                elif row[column] is None:
                    row[column] = value
                    c["pushed"] += 1
                elif row[column] == value:
                    c["already_set"] += 1
                else:
                    c["differing"] += 1
    return after, counts


def reported(doc: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    return {tbl: {c: doc[tbl][c] for c in columns} for tbl, columns in COLUMNS.items()}


# -- what sync does ----------------------------------------------------------------------------------------


def test_sync_pushes_missing_values_and_changes_nothing_else(cli, history: Path, production: Production) -> None:
    duck = duck_values(history)
    tracks, artists = duck["tracks"]["album_image_url"], duck["artists"]["image_url"]
    initial = production.snapshot()
    to_fill = [uri for uri in sorted(tracks) if initial["tracks"][uri]["album_image_url"] is None]
    photos = [name for name in sorted(artists) if initial["artists"][name]["image_url"] is None]
    ids = [
        n for n in sorted(duck["artists"]["spotify_artist_id"]) if initial["artists"][n]["spotify_artist_id"] is None
    ]
    assert len(to_fill) > 100 and len(photos) > 20 and len(ids) >= 2  # the backfill filled these in DuckDB
    gone = next(name for name in photos[1:] if name not in ids)
    # Production was changed by others meanwhile: some values set (to other URLs, or the same), rows gone.
    production.execute(
        *[
            f"UPDATE tracks SET album_image_url = 'https://elsewhere.example/{i}' WHERE spotify_track_uri = '{u}'"
            for i, u in enumerate(to_fill[:5])
        ],
        *[f"UPDATE tracks SET album_image_url = '{tracks[u]}' WHERE spotify_track_uri = '{u}'" for u in to_fill[5:8]],
        f"UPDATE artists SET image_url = 'https://elsewhere.example/a' WHERE artist_name = '{photos[0]}'",
        f"UPDATE artists SET spotify_artist_id = '0000000000000000000000' WHERE artist_name = '{ids[0]}'",
        f"DELETE FROM tracks WHERE spotify_track_uri IN ('{to_fill[8]}', '{to_fill[9]}')",
        f"DELETE FROM artists WHERE artist_name = '{gone}'",
    )
    before = production.snapshot()
    want, counts = expected(before, duck)

    result = cli("sync", "--db", history, "--postgres", production.url(), "--json")

    assert result.code == 0, result.err
    assert production.snapshot() == want  # every column of every row of all four tables
    doc = result.json
    assert reported(doc) == counts
    assert counts["tracks"]["album_image_url"]["differing"] == 5 and counts["tracks"]["album_image_url"]["pushed"] > 90
    assert counts["tracks"]["album_image_url"]["missing_in_postgres"] == 2
    assert (
        counts["artists"]["spotify_artist_id"]["pushed"] >= 1
        and counts["artists"]["spotify_artist_id"]["differing"] == 1
    )
    assert doc["tracks"]["rows_updated"] == counts["tracks"]["album_image_url"]["pushed"]
    assert doc["dry_run"] is False and doc["postgres"] == production.url(password="***")


def test_second_sync_pushes_nothing(cli, history: Path, production: Production) -> None:
    assert cli("sync", "--db", history, "--postgres", production.url()).code == 0
    after_first = production.snapshot()
    again = cli("sync", "--db", history, "--postgres", production.url(), "--json")
    assert again.code == 0
    assert again.json["pushed"] == 0
    assert again.json["tracks"]["rows_updated"] == again.json["artists"]["rows_updated"] == 0
    assert production.snapshot() == after_first


def test_dry_run_counts_what_sync_does_and_writes_nothing(cli, history: Path, production: Production) -> None:
    # A role that may only read: the dry run's transaction is read-only, so it needs no more.
    reader = production.create_role("peek", "peek-password", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    before = production.snapshot()
    dry = cli("sync", "--db", history, "--postgres", production.url(reader, "peek-password"), "--dry-run", "--json")
    assert dry.code == 0, dry.err
    assert production.snapshot() == before
    real = cli("sync", "--db", history, "--postgres", production.url(), "--json")
    assert dry.json["dry_run"] is True
    assert reported(dry.json) == reported(real.json)
    assert dry.json["pushed"] == real.json["pushed"] > 0


def test_human_report(cli, history: Path, production: Production) -> None:
    url = production.url(writer(production), SECRET)
    result = cli("sync", "--db", history, "--postgres", url)
    assert result.code == 0, result.err
    assert "tracks.album_image_url" in result.out and "artists.spotify_artist_id" in result.out
    assert "missing in Postgres" in result.out and "Pushed " in result.out
    assert mask_url(url) in result.out and SECRET not in result.out + result.err


def test_url_from_environment_and_dotenv(cli, history: Path, production: Production, monkeypatch, tmp_path) -> None:
    (tmp_path / ".env").write_text(f"POSTGRES_URL={production.url()}\n")
    dry = cli("sync", "--db", history, "--dry-run", "--json")
    assert dry.code == 0 and dry.json["pushed"] > 0
    monkeypatch.setenv("POSTGRES_URL", "postgresql://nobody:x@127.0.0.1:1/none")  # the environment wins
    assert cli("sync", "--db", history, "--dry-run").code == 2
    assert cli("sync", "--db", history, "--postgres", production.url(), "--dry-run").code == 0  # --postgres wins


def test_run_with_sync_backfills_then_pushes(
    cli, db_path: Path, emulator: Emulator, production: Production, monkeypatch
) -> None:
    monkeypatch.setenv("POSTGRES_URL", production.url())
    result = cli("run", "--db", db_path, *FAST, "--sync", "--json")
    assert result.code == 0, result.err
    doc = result.json  # one object: the run's, with the sync's report inside
    assert doc["sync"]["pushed"] > 0 and doc["tracks"]["updated"] > 0
    after = production.snapshot()
    for uri, url in duck_values(db_path)["tracks"]["album_image_url"].items():
        assert after["tracks"][uri]["album_image_url"] == url


def test_run_with_sync_but_no_url_stops_before_the_run(cli, db_path: Path, emulator: Emulator) -> None:
    before = digest(db_path)
    result = cli("run", "--db", db_path, *FAST, "--sync")
    assert result.code == 2
    assert "POSTGRES_URL" in one_line_error(result.err)
    assert digest(db_path) == before and not emulator.received


STATE = """SELECT (SELECT count(*) FROM tracks), (SELECT count(album_image_url) FROM tracks),
                  (SELECT count(*) FROM artists), (SELECT count(image_url) FROM artists),
                  (SELECT count(spotify_artist_id) FROM artists)"""


def test_readers_never_see_a_missing_table_or_half_a_sync(cli, history: Path, production: Production) -> None:
    seen: list[tuple[int, ...]] = []
    errors: list[str] = []
    first, stop = threading.Event(), threading.Event()

    def read() -> None:  # the dashboard: one query after another, each in its own transaction
        with production.connect(autocommit=True) as con:
            while True:
                finishing = stop.is_set()  # one more query after the sync returned
                try:
                    row = con.execute(STATE).fetchone()
                    assert row is not None
                    seen.append(tuple(row))
                except psycopg.Error as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                first.set()
                if finishing:
                    return

    with production.connect() as con:
        before = con.execute(STATE).fetchone()
    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert first.wait(30)
        result = cli("sync", "--db", history, "--postgres", production.url())
    finally:
        stop.set()
        reader.join(30)
    assert result.code == 0, result.err
    with production.connect() as con:
        after = con.execute(STATE).fetchone()
    assert before != after
    assert not errors
    assert seen[0] == before and seen[-1] == after
    assert set(seen) <= {before, after}, sorted(set(seen))


def test_sync_and_verify_start_without_the_fetching_side(history: Path) -> None:
    # Start-up is most of a sync's time: it must not pay for aiohttp and tqdm, which only `run` needs.
    probe = (
        "import sys\nfrom backfill.cli.main import main\n"
        "main(sys.argv[1:])\n"
        "print(sorted(m for m in ('aiohttp', 'tqdm', 'backfill.engine.pipeline') if m in sys.modules))"
    )
    for args in (["sync", "--dry-run", "--postgres", "postgresql://x@127.0.0.1:1/x"], ["verify"]):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args, "--db", str(history)], capture_output=True, text=True, timeout=120
        )
        assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr


def test_without_pipeline_mode_the_same_sync(cli, history: Path, production: Production, monkeypatch) -> None:
    # A psycopg on a libpq older than 14 cannot pipeline: the same statements then go one by one.
    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    before = production.snapshot()
    want, counts = expected(before, duck_values(history))
    result = cli("sync", "--db", history, "--postgres", production.url(), "--json")
    assert result.code == 0, result.err
    assert reported(result.json) == counts and production.snapshot() == want
