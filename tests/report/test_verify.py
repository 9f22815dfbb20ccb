"""`backfill verify`: read-only coverage report, no credentials needed."""

from __future__ import annotations

from pathlib import Path

from standin import Emulator
from standin.sample import World
from tests.checks import track_id, valid_id
from tests.conftest import FAST, digest, table


def expected_counts(path: Path) -> dict[str, dict[str, int]]:
    tracks = table(path, "SELECT spotify_track_uri, album_image_url FROM tracks")
    artists = table(path, "SELECT artist_name, spotify_artist_id, image_url FROM artists")
    return {
        "tracks": {
            "total": len(tracks),
            "with_image": sum(url is not None for _, url in tracks),
            "invalid": sum(url is None and track_id(uri) is None for uri, url in tracks),
        },
        "artists": {
            "total": len(artists),
            "with_image": sum(url is not None for *_, url in artists),
        },
    }


def test_verify_counts_before_a_run(cli, db_path: Path) -> None:
    before = digest(db_path)
    result = cli("verify", "--db", db_path, "--json")  # no credentials in the environment
    assert result.code == 0, result.err
    report = result.json
    expected = expected_counts(db_path)
    for kind in ("tracks", "artists"):
        for key, value in expected[kind].items():
            assert report[kind][key] == value, (kind, key)
        assert report[kind]["without_image"] == report[kind]["total"] - report[kind]["with_image"]
    tracks = report["tracks"]
    assert tracks["pending"] == tracks["without_image"] - tracks["invalid"]
    assert tracks["remembered_not_found"] == tracks["remembered_no_image"] == 0
    assert digest(db_path) == before


def test_verify_after_a_run(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    run = cli("run", "--db", db_path, *FAST, "--json").json
    report = cli("verify", "--db", db_path, "--json").json
    expected = expected_counts(db_path)
    assert report["tracks"]["with_image"] == expected["tracks"]["with_image"]
    assert report["tracks"]["pending"] == 0
    assert report["tracks"]["remembered_not_found"] == run["tracks"]["not_found"]
    assert report["tracks"]["remembered_no_image"] == run["tracks"]["no_image"]
    assert report["artists"]["remembered_not_found"] == run["artists"]["not_found"]
    sample = report["tracks"]["sample"]
    assert sample["image_url"] in set(world.expected_track_url.values()) | set(world.prefilled_tracks.values())
    artist_ids = {i for (i,) in table(db_path, "SELECT spotify_artist_id FROM artists") if valid_id(i)}
    assert artist_ids


def test_verify_text(cli, db_path: Path) -> None:
    result = cli("verify", "--db", db_path)
    assert result.code == 0
    for words in ("TRACKS", "ARTISTS", "With image", "Without image", "invalid URI", "Sample"):
        assert words in result.out


def test_verify_missing_file(cli, tmp_path: Path) -> None:
    result = cli("verify", "--db", tmp_path / "nope.duckdb")
    assert result.code == 2
    assert "nope.duckdb" in result.err
    assert not (tmp_path / "nope.duckdb").exists()
