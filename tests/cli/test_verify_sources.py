"""`verify`: the images of each kind counted by who wrote them, in JSON and text; the HTML page names each Top
image's provider and lists the unconfirmed candidates for a person to pick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backfill.records import Outcome
from standin import Emulator
from standin.sample import World
from tests.conftest import FAST, images, table
from tests.store.helpers import apply, deezer

URL = "https://img.example/by-hand.jpg"


def test_sources_per_kind(cli: Any, db_path: Path, world: World, emulator: Emulator) -> None:
    fresh = cli("verify", "--db", db_path, "--json").json
    assert fresh["tracks"]["sources"] == {
        "spotify": 0, "deezer": 0, "musicbrainz": 0, "manual": 0, "unknown": fresh["tracks"]["with_image"]
    }  # fmt: skip
    run = cli("run", "--db", db_path, *FAST, "--json").json
    local = next(u for u in world.odd_uris if u.startswith("spotify:local:"))
    apply(db_path, [deezer("track", local)])
    uri = next(u for u, url in sorted(world.prefilled_tracks.items()))
    assert cli("set", "track", uri, URL, "--db", db_path).code == 0
    report = cli("verify", "--db", db_path, "--json").json
    tracks = report["tracks"]
    assert tracks["sources"] == {
        "spotify": run["tracks"]["updated"],
        "deezer": 1,
        "musicbrainz": 0,
        "manual": 1,
        "unknown": len(world.prefilled_tracks) - 1,
    }
    assert sum(tracks["sources"].values()) == tracks["with_image"]
    assert report["artists"]["sources"]["spotify"] == run["artists"]["updated"]
    text = cli("verify", "--db", db_path).out
    assert "Images by source:" in text and "Deezer:" in text and "set by hand:" in text


def test_a_value_changed_since_backfill_wrote_it_is_unknown(cli: Any, db_path: Path, emulator: Emulator) -> None:
    assert cli("run", "--db", db_path, *FAST).code == 0
    before = cli("verify", "--db", db_path, "--json").json["tracks"]["sources"]
    (uri,) = next(iter(table(db_path, "SELECT row_key FROM backfill_provenance WHERE kind = 'track' LIMIT 1")))
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute("UPDATE tracks SET album_image_url = 'https://someone.else/x' WHERE spotify_track_uri = ?", [uri])
    con.close()
    after = cli("verify", "--db", db_path, "--json").json["tracks"]["sources"]
    assert after["spotify"] == before["spotify"] - 1 and after["unknown"] == before["unknown"] + 1


def test_the_page_names_providers_and_lists_unconfirmed_candidates(
    cli: Any, db_path: Path, world: World, tmp_path: Path
) -> None:
    top = table(
        db_path,
        "SELECT p.artist_name FROM plays p JOIN artists a USING (artist_name) WHERE a.image_url IS NULL "
        "GROUP BY 1 ORDER BY sum(ms_played) DESC LIMIT 1",
    )[0][0]
    other = sorted(world.unrecoverable_artists - {top})[0]
    apply(
        db_path,
        [
            deezer("artist", top, "https://cdn.deezer.test/top.jpg"),
            Outcome(
                "artists",
                other,
                "unconfirmed",
                source="deezer",
                candidates=("Nova (deezer 7, 10 fans)", "Nova (deezer 9, 3 fans)"),
            ),
        ],
    )
    page = tmp_path / "page.html"
    result = cli("verify", "--db", db_path, "--html", page, "--json")
    assert result.code == 0, result.err
    html = page.read_text()
    assert f'data-name="{top}"' in html
    item = html.split(f'data-name="{top}"')[1].split("</li>")[0]
    assert 'data-source="deezer"' in item and "image: Deezer" in item
    assert 'id="unconfirmed"' in html and "Nova (deezer 7, 10 fans)" in html
    assert f"backfill set artist &#x27;{other}&#x27; URL" in html
    assert result.json["unconfirmed"]["rows"] == 1
    assert result.json["unconfirmed"]["first"][0]["candidates"] == [
        "Nova (deezer 7, 10 fans)",
        "Nova (deezer 9, 3 fans)",
    ]
    # Set by hand, it is no longer a question.
    assert cli("set", "artist", other, URL, "--db", db_path).code == 0
    assert cli("verify", "--db", db_path, "--json").json["unconfirmed"]["rows"] == 0
    assert images(db_path)[1][other] == URL
