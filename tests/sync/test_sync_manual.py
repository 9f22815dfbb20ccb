"""`sync` after `backfill set` and `undo --source manual`: a value set by hand goes to Postgres where Postgres
still holds the value it replaced (or NULL), and the undo's value goes back the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import images
from tests.sync.conftest import Production

URL = "https://img.example/by-hand.jpg"


def postgres_images(production: Production) -> dict[str, Any]:
    with production.connect() as con:
        return dict(con.execute("SELECT spotify_track_uri, album_image_url FROM tracks").fetchall())


def test_a_set_and_its_undo_are_pushed(cli: Any, history: Path, production: Production) -> None:
    url = production.url()
    assert cli("sync", "--db", history, "--postgres", url).code == 0  # production is up to date
    tracks = images(history)[0]
    filled = next(u for u, v in sorted(tracks.items()) if v is not None and u.startswith("spotify:track:"))
    empty = next(u for u, v in sorted(tracks.items()) if v is None and u.startswith("spotify:track:"))
    assert postgres_images(production)[empty] is None
    for uri in (filled, empty):
        assert cli("set", "track", uri, URL, "--db", history).code == 0
    pushed = cli("sync", "--db", history, "--postgres", url, "--json")
    assert pushed.code == 0, pushed.err
    counts = pushed.json["tracks"]["album_image_url"]
    assert counts["refreshed"] == 1 and counts["pushed"] == 1
    now = postgres_images(production)
    assert now[filled] == URL and now[empty] == URL

    assert cli("undo", "--db", history, "--source", "manual").code == 0
    assert cli("sync", "--db", history, "--postgres", url).code == 0
    now = postgres_images(production)
    assert now[filled] == tracks[filled]
    # Set back to NULL in DuckDB: sync never clears a value in Postgres, so the set's value stays there.
    assert images(history)[0][empty] is None and now[empty] == URL
