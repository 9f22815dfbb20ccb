"""`backfill run --fallback deezer,musicbrainz` end to end: the CLI, the engine's fallback phase, the providers'
emulators and the user's file. Rows Spotify cannot fill get the provider world's right answer, nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from standin.coverart import CoverArtEmulator
from standin.deezer import DeezerEmulator
from standin.musicbrainz import MusicBrainzEmulator
from standin.provider_world import ProviderWorld, ProviderWorldSpec, build_provider_world
from tests.conftest import table

WORLD = build_provider_world(ProviderWorldSpec(filler=0))  # small: MusicBrainz allows one request a second
CONTACT = "tests@backfill.invalid"


def write_history(world: ProviderWorld, path: Path) -> Path:
    """The provider world's rows as a user's history: local files and ids Spotify does not know (remembered as
    misses by an earlier run), artists with no Spotify id; no image anywhere."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE tracks (spotify_track_uri TEXT PRIMARY KEY, track_name TEXT, primary_artist_name TEXT, "
        "album_name TEXT, album_image_url TEXT)"
    )
    con.execute("CREATE TABLE artists (artist_name TEXT PRIMARY KEY, spotify_artist_id TEXT, image_url TEXT)")
    con.execute("CREATE TABLE backfill_log (kind VARCHAR, spotify_id VARCHAR, outcome VARCHAR, checked_at TIMESTAMP)")
    for r in world.history:
        con.execute("INSERT INTO tracks VALUES (?, ?, ?, ?, NULL)", [r.uri, r.title, r.artist, r.album or None])
        if r.uri.startswith("spotify:track:"):
            con.execute("INSERT INTO backfill_log VALUES ('track', ?, 'not_found', now()::TIMESTAMP)", [r.uri[14:]])
    for name in world.history_artists:
        con.execute("INSERT INTO artists VALUES (?, NULL, NULL)", [name])
    con.close()
    return path


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return write_history(WORLD, tmp_path / "history.duckdb")


@pytest.fixture
def providers(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[DeezerEmulator, MusicBrainzEmulator, CoverArtEmulator]]:
    deezer, coverart = DeezerEmulator(WORLD), CoverArtEmulator(WORLD)
    with deezer.running_in_thread(), coverart.running_in_thread():
        musicbrainz = MusicBrainzEmulator(WORLD)
        with musicbrainz.running_in_thread():
            monkeypatch.setenv("DEEZER_API_URL", deezer.base_url)
            monkeypatch.setenv("MUSICBRAINZ_API_URL", musicbrainz.base_url + "/ws/2")
            monkeypatch.setenv("COVERART_API_URL", coverart.base_url)
            monkeypatch.setenv("BACKFILL_CONTACT", CONTACT)
            monkeypatch.setenv("SPOTIFY_OEMBED_URL", "http://127.0.0.1:9/oembed")  # nothing for Spotify to ask
            yield deezer, musicbrainz, coverart


def stored(path: Path) -> tuple[dict[str, str | None], dict[str, str | None]]:
    tracks = dict(table(path, "SELECT spotify_track_uri, album_image_url FROM tracks"))
    artists = dict(table(path, "SELECT artist_name, image_url FROM artists"))
    return tracks, artists


def test_what_spotify_cannot_fill_gets_the_right_picture_or_none(cli, history: Path, providers: object) -> None:
    result = cli("run", "--db", history, "--source", "oembed", "--fallback", "deezer", "--json")
    assert result.code == 0, result.err
    tracks, artists = stored(history)
    wrong = {u: url for u, url in tracks.items() if url != WORLD.deezer_cover_url(u)}
    assert not wrong, f"{len(wrong)} rows wrong, e.g. {next(iter(wrong.items()))}"
    assert artists == {name: WORLD.deezer_picture_url(name) for name in artists}
    assert any(tracks.values()) and any(artists.values())
    assert not any("/images/artist//" in (u or "") or "/images/cover//" in (u or "") for u in artists.values())
    doc = result.json["fallback"]["deezer"]
    assert doc["tracks"]["filled"] == sum(1 for u in tracks.values() if u)
    assert doc["artists"]["filled"] == sum(1 for u in artists.values() if u)
    sources = dict(table(history, "SELECT source, count(*) FROM backfill_provenance GROUP BY ALL"))
    assert sources == {"deezer": doc["tracks"]["filled"] + doc["artists"]["filled"]}


def test_a_second_run_asks_no_provider_about_a_settled_row(cli, history: Path, providers) -> None:
    deezer = providers[0]
    assert cli("run", "--db", history, "--source", "oembed", "--fallback", "deezer").code == 0
    asked = len(deezer.received)
    again = cli("run", "--db", history, "--source", "oembed", "--fallback", "deezer", "--json")
    assert again.code == 0, again.err
    assert len(deezer.received) == asked
    assert again.json["fallback"]["deezer"]["tracks"]["asked"] == 0


def test_the_second_provider_is_asked_only_what_the_first_did_not_fill(cli, history: Path, providers) -> None:
    result = cli("run", "--db", history, "--source", "oembed", "--fallback", "deezer,musicbrainz", "--json")
    assert result.code == 0, result.err
    doc = result.json["fallback"]
    filled_by_deezer = doc["deezer"]["tracks"]["filled"]
    asked_of_musicbrainz = doc["musicbrainz"]["tracks"]["asked"]
    assert asked_of_musicbrainz == len(WORLD.history) - filled_by_deezer
    tracks, _ = stored(history)
    by_musicbrainz = {u: url for u, url in tracks.items() if url is not None and url != WORLD.deezer_cover_url(u)}
    assert by_musicbrainz, "the world has rows only MusicBrainz can fill"
    for uri, url in by_musicbrainz.items():  # one of the right ones: the Cover Art Archive's, never a guess
        assert WORLD.deezer_cover_url(uri) is None and url in WORLD.cover_art_urls(uri, providers[2].base_url), uri
    assert doc["musicbrainz"]["tracks"]["filled"] == len(by_musicbrainz)
    assert "artists" not in doc["musicbrainz"] or doc["musicbrainz"]["artists"]["asked"] == 0  # album art only


def test_a_provider_that_cannot_be_reached_writes_nothing_remembers_nothing_and_says_so(
    cli, history: Path, providers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEZER_API_URL", "http://127.0.0.1:9")  # nothing listens there
    before = stored(history)
    result = cli("run", "--db", history, "--source", "oembed", "--fallback", "deezer", "--json")
    assert result.code == 1, result.err
    assert stored(history) == before
    assert "backfill_fallback_log" not in {t for (t,) in table(history, "SELECT table_name FROM duckdb_tables()")} or (
        table(history, "SELECT count(*) FROM backfill_fallback_log") == [(0,)]
    )
    doc = result.json["fallback"]["deezer"]
    assert doc["stopped"] == "error" and "127.0.0.1:9" in doc["error"]
    text = cli("run", "--db", history, "--source", "oembed", "--fallback", "deezer").out
    assert "Deezer stopped:" in text and "127.0.0.1:9" in text


def test_musicbrainz_needs_a_contact_before_anything(cli, history: Path, providers, monkeypatch) -> None:
    monkeypatch.delenv("BACKFILL_CONTACT")
    result = cli("run", "--db", history, "--fallback", "musicbrainz")
    assert result.code == 2 and "BACKFILL_CONTACT" in result.err
    assert result.err.count("\n") == 1


def test_a_dry_run_counts_what_each_provider_would_be_asked(cli, history: Path, providers) -> None:
    deezer, musicbrainz, _ = providers
    doc = cli("run", "--db", history, "--dry-run", "--fallback", "deezer,musicbrainz", "--json").json
    assert doc["fallback"]["tracks"]["per_provider"] == {
        "deezer": len(WORLD.history),
        "musicbrainz": len(WORLD.history),
    }
    assert doc["fallback"]["artists"]["per_provider"]["deezer"] == len(WORLD.history_artists)
    assert deezer.received == [] and musicbrainz.received == []
    text = cli("run", "--db", history, "--dry-run", "--fallback", "deezer").out
    assert "Deezer" in text or "deezer" in text
