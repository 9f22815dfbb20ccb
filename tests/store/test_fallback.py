"""The fallback selection: which rows the providers are asked about (only those Spotify cannot fill, minus
what each provider remembered), what each lookup carries, and how their answers are written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from backfill.kinds import track_id_from_uri
from backfill.records import MissFilter, Outcome, utcnow
from standin.sample import World
from tests.conftest import table
from tests.store.helpers import apply, asks, deezer, execute, remember_spotify_miss


def _local_uri(world: World) -> str:
    return next(u for u in world.odd_uris if u.startswith("spotify:local:"))


def _valid_pending_uri(path: Path) -> str:
    return next(
        uri
        for uri, url in table(path, "SELECT spotify_track_uri, album_image_url FROM tracks ORDER BY 1")
        if url is None and track_id_from_uri(uri)
    )


def test_local_files_and_invalid_uris_are_asked_with_what_the_history_says(db_path: Path, world: World) -> None:
    plan, queued = asks(db_path)
    local = _local_uri(world)
    lookup = queued["track"][local].lookup
    artist, album, title, _ = (p.replace("+", " ") for p in local[len("spotify:local:") :].split(":"))
    assert (lookup.artist, lookup.title, lookup.album) == (artist, title, album)
    assert queued["track"][local].providers == ("deezer", "musicbrainz")
    episode = next(u for u in world.odd_uris if u.startswith("spotify:episode:"))
    ((name, by, on),) = table(
        db_path, f"SELECT track_name, primary_artist_name, album_name FROM tracks WHERE spotify_track_uri = '{episode}'"
    )
    assert (queued["track"][episode].lookup.title, queued["track"][episode].lookup.artist) == (name, by)
    assert queued["track"][episode].lookup.album == (on or "")
    # A well-formed id Spotify has not answered yet is Spotify's to fill: never a fallback's.
    assert _valid_pending_uri(db_path) not in queued["track"]
    assert plan.fallback is not None and plan.fallback.tracks.asked == len(queued["track"])
    assert plan.fallback.tracks.per_provider == {"deezer": len(queued["track"]), "musicbrainz": len(queued["track"])}


def test_a_local_uri_is_url_decoded(db_path: Path) -> None:
    uri = "spotify:local:AC%2FDC+%26+Friends:Back+in+Black%3A+Live::215"
    execute(
        db_path,
        "INSERT INTO tracks (spotify_track_uri, track_name, primary_artist_name) VALUES (?, 'x', 'y')",
        params=[uri],
    )
    lookup = asks(db_path)[1]["track"][uri].lookup
    assert (lookup.artist, lookup.album, lookup.title) == ("AC/DC & Friends", "Back in Black: Live", "x")


def test_an_id_spotify_remembered_as_a_miss_goes_to_the_fallbacks(db_path: Path) -> None:
    uri = _valid_pending_uri(db_path)
    remember_spotify_miss(db_path, "track", uri[len("spotify:track:") :], "no_image")
    assert uri in asks(db_path)[1]["track"]


def test_a_key_shared_by_different_tracks_is_never_asked(db_path: Path) -> None:
    # A history whose tracks table has no key may repeat a URI (an empty one, an episode's).
    execute(
        db_path,
        "CREATE TABLE plain AS SELECT * FROM tracks",
        "DROP TABLE tracks",
        "ALTER TABLE plain RENAME TO tracks",
    )
    execute(
        db_path,
        "INSERT INTO tracks (spotify_track_uri, track_name, primary_artist_name) VALUES "
        "('spotify:local:::Intro:60', 'Intro', 'A'), ('spotify:local:::Intro:60', 'Intro', 'B')",
    )
    plan, queued = asks(db_path)
    assert "spotify:local:::Intro:60" not in queued["track"]
    assert plan.fallback is not None and plan.fallback.tracks.unusable >= 1


def test_artists_without_a_usable_id_or_remembered_by_spotify_are_asked_with_their_tracks(
    db_path: Path, world: World
) -> None:
    _, queued = asks(db_path)
    unrecoverable = sorted(world.unrecoverable_artists)[0]
    assert unrecoverable in queued["artist"]
    # Its evidence: the user's track titles and album names by that name.
    titles = {
        t for (t,) in table(db_path, f"SELECT track_name FROM tracks WHERE primary_artist_name = '{unrecoverable}'")
    }
    assert set(queued["artist"][unrecoverable].lookup.tracks) == titles
    recoverable = sorted(world.recoverable_artists)[0]
    assert recoverable not in queued["artist"]  # Spotify fills it with the id tracks give
    ((name, artist_id),) = table(
        db_path,
        "SELECT artist_name, spotify_artist_id FROM artists WHERE image_url IS NULL "
        "AND regexp_full_match(spotify_artist_id, '[0-9A-Za-z]{22}') ORDER BY 1 LIMIT 1",
    )
    assert name not in queued["artist"]
    remember_spotify_miss(db_path, "artist", artist_id)
    assert name in asks(db_path)[1]["artist"]


def test_most_played_rows_come_first(db_path: Path) -> None:
    _, queued = asks(db_path)
    plays = dict(table(db_path, "SELECT spotify_track_uri, count(*) FROM plays GROUP BY 1"))
    order = [plays.get(key, 0) for key in queued["track"]]
    assert order == sorted(order, reverse=True) and order[0] > 0


def _remember(path: Path, provider: str, key: str, outcome: str, days_ago: float = 0) -> None:
    execute(
        path,
        "CREATE TABLE IF NOT EXISTS backfill_fallback_log (provider VARCHAR, kind VARCHAR, row_key VARCHAR, "
        "outcome VARCHAR, candidates VARCHAR, checked_at TIMESTAMP)",
    )
    execute(
        path,
        "INSERT INTO backfill_fallback_log VALUES (?, 'track', ?, ?, NULL, ?)",
        params=[provider, key, outcome, utcnow() - timedelta(days=days_ago)],
    )


def test_a_row_is_asked_of_each_provider_that_has_not_remembered_it(db_path: Path, world: World) -> None:
    local = _local_uri(world)
    _remember(db_path, "deezer", local, "unconfirmed", days_ago=10)
    plan, queued = asks(db_path)
    assert queued["track"][local].providers == ("musicbrainz",)
    assert plan.fallback is not None
    assert plan.fallback.tracks.per_provider["deezer"] == plan.fallback.tracks.asked - 1
    _remember(db_path, "musicbrainz", local, "not_found", days_ago=1)
    plan, queued = asks(db_path)
    assert local not in queued["track"]
    assert plan.fallback is not None and plan.fallback.tracks.remembered == 1
    # --retry-misses asks both again; --recheck-after 5 only the one that remembered it 10 days ago.
    assert asks(db_path, MissFilter(retry_all=True))[1]["track"][local].providers == ("deezer", "musicbrainz")
    assert asks(db_path, MissFilter(recheck_after_days=5))[1]["track"][local].providers == ("deezer",)


def test_a_fill_writes_only_a_null_column_and_names_its_provider(db_path: Path, world: World) -> None:
    local = _local_uri(world)
    episode = next(u for u in world.odd_uris if u.startswith("spotify:episode:"))
    execute(
        db_path, f"UPDATE tracks SET album_image_url = 'https://meanwhile.test/x' WHERE spotify_track_uri = '{episode}'"
    )
    filled = apply(db_path, [deezer("track", local), deezer("track", episode)])
    assert filled["tracks"] == 1
    images = dict(table(db_path, "SELECT spotify_track_uri, album_image_url FROM tracks"))
    assert images[local] == deezer("track", local).url
    assert images[episode] == "https://meanwhile.test/x"  # set meanwhile: kept
    assert table(
        db_path, "SELECT kind, row_key, value, source, provider_id, confirmed_by FROM backfill_provenance"
    ) == [("track", local, deezer("track", local).url, "deezer", "123", 'album "Live Bootleg"')]
    # Settled: a second plan asks no provider about it.
    assert local not in asks(db_path)[1]["track"]


def test_misses_are_remembered_per_provider_and_failures_never(db_path: Path, world: World) -> None:
    keys = [*[u for u in world.odd_uris if not u.startswith("spotify:local:")][:3], _local_uri(world)]
    outcomes = [
        Outcome("tracks", keys[0], "unconfirmed", source="deezer", candidates=("Queen (deezer 1)", "Queen (deezer 2)")),
        Outcome("tracks", keys[1], "not_found", source="musicbrainz"),
        Outcome("tracks", keys[2], "failed", source="deezer"),
    ]
    assert apply(db_path, outcomes)["tracks"] == 0
    rows = table(db_path, "SELECT provider, row_key, outcome, candidates FROM backfill_fallback_log ORDER BY 2")
    assert sorted(rows, key=lambda r: r[1]) == sorted(
        [("deezer", keys[0], "unconfirmed", "Queen (deezer 1) | Queen (deezer 2)"),
         ("musicbrainz", keys[1], "not_found", None)],
        key=lambda r: r[1],
    )  # fmt: skip
    # A failure later, asked again with --retry-misses, keeps what the provider remembered.
    apply(db_path, [Outcome("tracks", keys[0], "failed", source="deezer")])
    assert table(db_path, f"SELECT outcome FROM backfill_fallback_log WHERE row_key = '{keys[0]}'") == [
        ("unconfirmed",)
    ]
    queued = asks(db_path)[1]["track"]
    assert queued[keys[0]].providers == ("musicbrainz",) and queued[keys[1]].providers == ("deezer",)
    assert queued[keys[2]].providers == ("deezer", "musicbrainz")  # the failure is asked again
    # A provider that later finds it: its remembered miss is cleared with the fill.
    apply(db_path, [deezer("track", keys[0])])
    assert table(db_path, f"SELECT count(*) FROM backfill_fallback_log WHERE row_key = '{keys[0]}'") == [(0,)]


def test_an_artist_fill_is_keyed_by_name(db_path: Path, world: World) -> None:
    name = sorted(world.unrecoverable_artists)[0]
    assert (
        apply(db_path, [deezer("artist", name, "https://cdn.deezer.test/images/artist/f00/250x250.jpg")])["artists"]
        == 1
    )
    assert table(db_path, f"SELECT image_url FROM artists WHERE artist_name = '{name}'") == [
        ("https://cdn.deezer.test/images/artist/f00/250x250.jpg",)
    ]
    assert table(db_path, "SELECT kind, row_key, source FROM backfill_provenance") == [("artist", name, "deezer")]
