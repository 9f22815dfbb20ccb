"""Every value a run or a refresh writes names its writer in backfill_provenance, in the same transaction; a
value backfill did not write has no provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from standin import Emulator
from standin.sample import World
from tests.conftest import FAST, images, serving, table
from tests.store.test_refresh import changed_world


def provenance(path: Path, kind: str) -> dict[str, tuple[str, str, str | None]]:
    rows = table(
        path,
        "SELECT row_key, value, source, provider_id FROM backfill_provenance WHERE kind = ?".replace("?", f"'{kind}'"),
    )
    return {key: (value, source, pid) for key, value, source, pid in rows}


def test_a_run_names_spotify_for_every_value_it_filled(
    cli: Any, db_path: Path, world: World, emulator: Emulator
) -> None:
    before_tracks, before_artists = images(db_path)
    assert cli("run", "--db", db_path, *FAST).code == 0
    tracks, artists = images(db_path)
    filled = {uri: url for uri, url in tracks.items() if url is not None and before_tracks.get(uri) is None}
    assert filled
    assert provenance(db_path, "track") == {
        uri: (url, "spotify", uri[len("spotify:track:") :]) for uri, url in filled.items()
    }
    ids = dict(table(db_path, "SELECT artist_name, spotify_artist_id FROM artists"))
    photos = {name: url for name, url in artists.items() if url is not None and before_artists.get(name) is None}
    assert photos
    assert provenance(db_path, "artist") == {name: (url, "spotify", ids[name]) for name, url in photos.items()}


def test_a_refresh_names_spotify_for_the_values_it_replaced(
    cli: Any, db_path: Path, world: World, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("run", "--db", db_path, *FAST).code == 0
    with serving(changed_world(world, db_path), monkeypatch):
        assert cli("run", "--db", db_path, *FAST, "--refresh").code == 0
    replaced = table(db_path, "SELECT kind, row_key, new_value FROM backfill_journal")
    assert replaced
    for kind, key, new in replaced:
        assert provenance(db_path, kind)[key][:2] == (new, "spotify")
    # The values replaced keep their own row: an undo puts them back with their writer still named.
    assert cli("undo", "--db", db_path, "--last").code == 0
    counts = cli("verify", "--db", db_path, "--json").json
    assert counts["tracks"]["sources"]["unknown"] == len(world.prefilled_tracks)
