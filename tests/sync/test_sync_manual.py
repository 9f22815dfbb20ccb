"""`sync` after `backfill set` and `undo --source`: a value set by hand goes to Postgres where Postgres still
holds the value it replaced (or NULL), and the undo's value (a value, or NULL) goes back the same way. A NULL
backfill did not leave is never pushed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backfill.kinds import track_id_from_uri
from tests.conftest import images
from tests.store.helpers import apply, deezer, execute, remember_spotify_miss
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
    # Set back to NULL in DuckDB, by backfill: Postgres, which still has the set's value, gets the NULL too.
    assert images(history)[0][empty] is None and now[empty] is None


DEEZER = "https://e-cdns-images.dzcdn.net/images/cover/0123456789abcdef0123456789abcdef/250x250-000000-80-0-0.jpg"


def _empty_rows(history: Path, n: int) -> list[str]:
    tracks = images(history)[0]
    return [u for u, v in sorted(tracks.items()) if v is None and track_id_from_uri(u)][:n]


def test_undo_source_clears_in_postgres_only_the_provider_values_backfill_set_back(
    cli: Any, history: Path, production: Production
) -> None:
    url = production.url()
    assert cli("sync", "--db", history, "--postgres", url).code == 0  # production is up to date
    mine, theirs = _empty_rows(history, 2)
    for uri in (mine, theirs):  # Spotify has no image for them: a fallback's to fill
        remember_spotify_miss(history, "track", track_id_from_uri(uri) or "", "no_image")
    assert apply(history, [deezer("track", mine, DEEZER), deezer("track", theirs, DEEZER)])
    assert cli("sync", "--db", history, "--postgres", url).code == 0
    assert postgres_images(production)[mine] == DEEZER
    with production.connect() as con:  # someone sets their own picture in production meanwhile
        con.execute(
            "UPDATE tracks SET album_image_url = 'https://mine.example/x.jpg' WHERE spotify_track_uri = %s", [theirs]
        )

    assert cli("undo", "--db", history, "--source", "deezer").code == 0
    assert images(history)[0][mine] is None
    dry = cli("sync", "--db", history, "--postgres", url, "--dry-run", "--json")
    assert dry.code == 0 and dry.json["tracks"]["album_image_url"]["refreshed"] == 1, dry.out
    assert postgres_images(production)[mine] == DEEZER  # a dry run changes nothing
    done = cli("sync", "--db", history, "--postgres", url, "--json")
    assert done.code == 0 and done.json["tracks"]["album_image_url"]["refreshed"] == 1, done.err
    now = postgres_images(production)
    assert now[mine] is None
    assert now[theirs] == "https://mine.example/x.jpg"  # not one backfill wrote: stays
    again = cli("sync", "--db", history, "--postgres", url, "--json")
    assert again.json["rows_sent"] == 0


def test_a_null_backfill_did_not_leave_is_never_pushed(cli: Any, history: Path, production: Production) -> None:
    url = production.url()
    tracks = images(history)[0]
    filled = next(u for u, v in sorted(tracks.items()) if v is not None and track_id_from_uri(u))
    (empty,) = _empty_rows(history, 1)
    assert cli("sync", "--db", history, "--postgres", url).code == 0
    assert cli("set", "track", filled, URL, "--db", history).code == 0  # journaled: the row has a journal
    # The empty row: set, set back to NULL by undo, then set again. Its last word is a value, not the NULL.
    assert cli("set", "track", empty, URL, "--db", history).code == 0
    assert cli("undo", "--db", history, "--source", "manual").code == 0
    assert cli("set", "track", empty, URL + "?again", "--db", history).code == 0
    assert cli("set", "track", filled, URL, "--db", history).code == 0
    assert cli("sync", "--db", history, "--postgres", url).code == 0
    assert postgres_images(production)[empty] == URL + "?again"
    # The user clears both values in DuckDB by hand, not through backfill: production keeps its values.
    execute(history, f"UPDATE tracks SET album_image_url = NULL WHERE spotify_track_uri IN ('{filled}', '{empty}')")
    result = cli("sync", "--db", history, "--postgres", url, "--json")
    assert result.code == 0, result.err
    assert result.json["refreshed"] == 0 and result.json["rows_sent"] == 0
    now = postgres_images(production)
    assert now[filled] == URL and now[empty] == URL + "?again"
