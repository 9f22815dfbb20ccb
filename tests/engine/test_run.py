"""`backfill run` against the emulator: every image right, nothing else touched."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from standin import Emulator
from standin.sample import World
from tests.checks import check_images, other_columns, track_id, valid_id
from tests.conftest import FAST, table


def pending_track_ids(path: Path) -> set[str]:
    rows = table(path, "SELECT spotify_track_uri FROM tracks WHERE album_image_url IS NULL")
    return {tid for (uri,) in rows if (tid := track_id(uri))}


def requested_ids(emu: Emulator, *endpoints: str) -> list[str]:
    return [i for r in emu.api() if r.endpoint in endpoints for i in r.ids]


def test_batch_mode_fills_every_image_right(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    before = other_columns(db_path)
    pending = pending_track_ids(db_path)
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 0, result.err
    filled = check_images(db_path, world, complete=True)
    assert other_columns(db_path) == before
    summary = result.json
    assert summary["stopped"] is None and summary["resume_after"] is None
    assert summary["tracks"]["pending"] == len(pending)
    assert summary["tracks"]["updated"] == filled["tracks"]
    t = summary["tracks"]
    assert t["updated"] + t["no_image"] + t["not_found"] + t["failed"] == t["pending"]
    # Batch endpoints: 50 ids a call, each id asked for once.
    batches = [r for r in emulator.api() if r.endpoint == "tracks"]
    assert all(len(r.ids) <= 50 for r in batches)
    assert len(batches) == math.ceil(len(pending) / 50)
    asked = requested_ids(emulator, "tracks", "track")
    assert sorted(asked) == sorted(pending)
    assert summary["tracks"]["requests"] == len(batches)
    assert summary["requests"] == len(emulator.api())


def test_invalid_uris_are_counted_and_never_sent(cli, db_path: Path, emulator: Emulator) -> None:
    rows = table(db_path, "SELECT spotify_track_uri FROM tracks WHERE album_image_url IS NULL")
    invalid = [uri for (uri,) in rows if track_id(uri) is None]
    assert invalid, "the sample should hold odd URIs"
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.json["tracks"]["invalid"] == len(invalid)
    sent = set(requested_ids(emulator, "tracks", "track"))
    assert all(valid_id(i) for i in sent)
    odd_tails = {uri.rsplit(":", 1)[-1] for uri in invalid if uri}
    assert not sent & odd_tails


def test_development_mode_probes_once_per_kind_then_goes_single(
    cli, db_path: Path, emulator: Emulator, world: World
) -> None:
    emulator.config.dev_mode = True
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 0, result.err
    check_images(db_path, world, complete=True)  # the probe batch's items were not lost
    probes = [r for r in emulator.api() if r.endpoint in ("tracks", "artists", "albums")]
    assert sorted(r.endpoint for r in probes) == ["artists", "tracks"]
    assert all(r.status == 403 for r in probes)
    # Nobody sent a single-item request of a kind before that kind's probe had been answered.
    for probe, singles in (
        (p, {"tracks": ("track", "album", "album_tracks"), "artists": ("artist",)}[p.endpoint]) for p in probes
    ):
        assert all(r.at > probe.at for r in emulator.api() if r.endpoint in singles)
    assert result.json["tracks"]["failed"] == result.json["artists"]["failed"] == 0


def test_unknown_ids_are_asked_once_in_batch_mode(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    cli("run", "--db", db_path, *FAST)
    asked = requested_ids(emulator, "tracks", "track")
    unknown = [i for i in asked if i not in world.catalog.tracks]
    assert unknown, "the sample should hold ids Spotify does not know"
    assert len(asked) == len(set(asked))


def test_unknown_ids_get_one_404_in_development_mode(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    emulator.config.dev_mode = True
    result = cli("run", "--db", db_path, *FAST, "--json")
    singles = [r for r in emulator.api() if r.endpoint == "track"]
    not_found = [r.ids[0] for r in singles if r.status == 404]
    assert not_found
    assert len(not_found) == len(set(not_found))
    assert result.json["tracks"]["not_found"] == len(not_found)
    artists_404 = [r.ids[0] for r in emulator.api() if r.endpoint == "artist" and r.status == 404]
    assert len(artists_404) == len(set(artists_404)) == result.json["artists"]["not_found"]


def test_values_prefilled_before_the_run_survive(cli, db_path: Path, emulator: Emulator, world: World) -> None:
    assert world.prefilled_tracks and world.prefilled_artists
    cli("run", "--db", db_path, *FAST)
    tracks = dict(
        table(db_path, "SELECT spotify_track_uri, album_image_url FROM tracks WHERE spotify_track_uri IS NOT NULL")
    )
    for uri, url in world.prefilled_tracks.items():
        assert tracks[uri] == url
    artists = dict(table(db_path, "SELECT artist_name, image_url FROM artists"))
    for name, url in world.prefilled_artists.items():
        assert artists[name] == url


def test_row_counts_unchanged(cli, db_path: Path, emulator: Emulator) -> None:
    counts = "SELECT (SELECT count(*) FROM tracks), (SELECT count(*) FROM artists), (SELECT count(*) FROM plays)"
    before = table(db_path, counts)
    cli("run", "--db", db_path, *FAST)
    assert table(db_path, counts) == before


def test_shared_artist_id_is_fetched_once_and_fills_every_name(
    cli, db_path: Path, emulator: Emulator, world: World
) -> None:
    shared = table(
        db_path,
        """SELECT spotify_artist_id FROM artists WHERE image_url IS NULL AND spotify_artist_id IS NOT NULL
           GROUP BY 1 HAVING count(*) > 1""",
    )
    assert shared, "the sample should hold names sharing an id"
    emulator.config.dev_mode = True
    cli("run", "--db", db_path, *FAST)
    asked = requested_ids(emulator, "artist")
    for (artist_id,) in shared:
        assert asked.count(artist_id) == 1
    check_images(db_path, world, complete=True)


def test_only_one_kind(cli, db_path: Path, emulator: Emulator) -> None:
    artists_before = table(db_path, "SELECT * FROM artists ORDER BY ALL")
    result = cli("run", "--db", db_path, *FAST, "--only", "tracks", "--json")
    assert result.code == 0
    assert {r.endpoint for r in emulator.api()} <= {"tracks", "track", "album", "album_tracks"}
    assert table(db_path, "SELECT * FROM artists ORDER BY ALL") == artists_before
    assert result.json["artists"]["requests"] == 0


def test_old_schema_without_primary_artist_id(cli, tmp_path: Path, emulator: Emulator) -> None:
    from standin.sample import SampleSpec, build_world, write_history

    old = build_world(SampleSpec(seed=11, tracks=400, artists=120, plays=900, old_schema=True))
    path = tmp_path / "old.duckdb"
    write_history(old, path)
    assert "primary_artist_id" not in {
        c for (c,) in table(path, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'tracks'")
    }
    result = cli("run", "--db", path, *FAST, "--json")
    assert result.code == 0, result.err
    check_images(path, old, complete=True)


def test_human_summary_on_stdout(cli, db_path: Path, emulator: Emulator) -> None:
    result = cli("run", "--db", db_path, *FAST)
    assert result.code == 0
    for words in ("BACKFILL COMPLETE", "TRACKS", "ARTISTS", "Updated", "Not found", "Requests", "Database now"):
        assert words in result.out


@pytest.mark.parametrize("flag", ["--json"])
def test_json_alone_on_stdout(cli, db_path: Path, emulator: Emulator, flag: str) -> None:
    result = cli("run", "--db", db_path, *FAST, flag)
    assert result.json["tracks"].keys() >= {"pending", "updated", "no_image", "not_found", "invalid", "failed"}
    assert "BACKFILL COMPLETE" in result.err


def test_batch_access_withdrawn_mid_run_goes_single_without_losing_items(
    cli, db_path: Path, emulator: Emulator, world: World
) -> None:
    import threading

    done = threading.Event()

    def withdraw() -> None:  # Spotify moves the app to Development Mode after a few batch calls
        while not done.wait(0.002):
            if sum(r.endpoint == "tracks" for r in emulator.api()) >= 2:
                emulator.config.dev_mode = True
                return

    watcher = threading.Thread(target=withdraw, daemon=True)
    watcher.start()
    try:
        result = cli("run", "--db", db_path, "--rate", "50", "--concurrency", "2", "--source", "api", "--json")
    finally:
        done.set()
        watcher.join()
    assert result.code == 0, result.err
    assert any(r.endpoint == "tracks" and r.status == 403 for r in emulator.api())
    assert any(r.endpoint == "track" for r in emulator.api())
    check_images(db_path, world, complete=True)


def test_requests_go_through_the_proxy_the_environment_names(
    cli, db_path: Path, emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP(S)_PROXY is honoured: the Spotify hosts here do not resolve, only the proxy (the emulator) answers."""
    base = emulator.api_url.removesuffix("/v1")
    monkeypatch.setenv("HTTP_PROXY", base)
    monkeypatch.setenv("SPOTIFY_API_URL", "http://api.spotify.invalid/v1")
    monkeypatch.setenv("SPOTIFY_TOKEN_URL", "http://accounts.spotify.invalid/api/token")
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 0, result.err
    check_images(db_path, world, complete=True)


def test_no_proxy_hosts_are_reached_directly(
    cli, db_path: Path, emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    result = cli("run", "--db", db_path, *FAST, "--json")
    assert result.code == 0, result.err
    check_images(db_path, world, complete=True)
