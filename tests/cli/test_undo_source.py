"""`undo --source P`: everything P wrote set back (to NULL, or for a set to the value it replaced), only where
the row still holds P's value; journaled, so a later `undo --last` walks it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standin import Emulator
from standin.sample import World
from tests.conftest import FAST, images, table
from tests.store.helpers import apply, deezer, execute

URL = "https://img.example/by-hand.jpg"


def test_undo_deezer_sets_its_fills_back_to_null_and_nothing_else(
    cli: Any, db_path: Path, world: World, emulator: Emulator
) -> None:
    assert cli("run", "--db", db_path, *FAST).code == 0
    a, b = sorted(world.unrecoverable_artists)[:2]
    apply(
        db_path,
        [deezer("artist", a, "https://cdn.deezer.test/a.jpg"), deezer("artist", b, "https://cdn.deezer.test/b.jpg")],
    )
    execute(db_path, f"UPDATE artists SET image_url = 'https://changed.example/b' WHERE artist_name = '{b}'")
    tracks, artists = images(db_path)
    result = cli("undo", "--db", db_path, "--source", "deezer", "--json")
    assert result.code == 0, result.err
    assert result.json["restored"] == {"tracks": 0, "artists": 1}
    assert result.json["kept"] == [{"kind": "artists", "row": b, "value_now": "https://changed.example/b"}]
    after_tracks, after_artists = images(db_path)
    assert after_tracks == tracks  # Spotify's fills untouched
    assert after_artists == {**artists, a: None}  # b changed since: left alone
    assert table(db_path, "SELECT kind, row_key, old_value, new_value FROM backfill_journal") == [
        ("artist", a, "https://cdn.deezer.test/a.jpg", None)
    ]
    # Journaled: the undo itself can be walked back.
    assert cli("undo", "--db", db_path, "--last").code == 0
    assert images(db_path)[1][a] == "https://cdn.deezer.test/a.jpg"


def test_undo_manual_puts_back_what_each_set_replaced(cli: Any, db_path: Path, emulator: Emulator) -> None:
    assert cli("run", "--db", db_path, *FAST).code == 0
    sources = cli("verify", "--db", db_path, "--json").json["tracks"]["sources"]
    tracks, _ = images(db_path)
    uri = next(u for u, _ in table(db_path, "SELECT row_key, source FROM backfill_provenance WHERE kind = 'track'"))
    assert cli("set", "track", uri, URL, "--db", db_path).code == 0
    assert cli("verify", "--db", db_path, "--json").json["tracks"]["sources"]["manual"] == 1
    result = cli("undo", "--db", db_path, "--source", "manual", "--json")
    assert result.json["restored"]["tracks"] == 1
    assert images(db_path)[0] == tracks
    # The value put back is Spotify's again, as verify says.
    assert cli("verify", "--db", db_path, "--json").json["tracks"]["sources"] == sources


def test_undo_spotify_empties_what_spotify_filled_and_keeps_what_was_there(
    cli: Any, db_path: Path, world: World, emulator: Emulator
) -> None:
    before = images(db_path)
    assert cli("run", "--db", db_path, *FAST).code == 0
    result = cli("undo", "--db", db_path, "--source", "spotify", "--json")
    assert result.code == 0, result.err
    assert images(db_path) == before


def test_nothing_written_nothing_to_undo(cli: Any, db_path: Path) -> None:
    result = cli("undo", "--db", db_path, "--source", "musicbrainz")
    assert result.code == 0 and "Nothing to undo" in result.out
