"""Scenario 12's world: a Spotify sample history with the provider world's rows added, and the right answers.

The provider world's rows (standin.provider_world) are what Spotify cannot fill: local files, track ids the
Spotify emulator does not know (half asked in this run and answered 404, half remembered as "no image" by an
earlier run) and artists with no id, an id Spotify does not know, or one remembered as "no image". Every row
of the file has one right answer: Spotify's image, a provider's, or none (`Truth`), so any other value stored
is a wrong match, whoever stored it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from standin.provider_world import DEEZER_IMAGE_HOST, ProviderWorld
from standin.sample import BASE62, TRACK_PREFIX, World

PLACEHOLDER_MARKS = ("/images/artist//", "/images/cover//")  # Deezer's image URL with an empty md5
PROVIDERS = ("spotify", "deezer", "musicbrainz")
_LOG_DDL = "CREATE TABLE backfill_log (kind VARCHAR, spotify_id VARCHAR, outcome VARCHAR, checked_at TIMESTAMP)"


@dataclass(frozen=True)
class Truth:
    """Per row key: the URLs a correct run may store (empty: none) and who has them ("" for nobody)."""

    tracks: dict[str, tuple[frozenset[str], str]]
    artists: dict[str, tuple[frozenset[str], str]]
    fallback_tracks: int  # rows of the provider world (what Spotify cannot fill by construction)
    fallback_artists: int


@dataclass(frozen=True)
class Tally:
    """What a file holds after a run, judged against the truth."""

    filled: Counter[tuple[str, str]]  # (kind, provider) -> values stored by that provider
    right: Counter[tuple[str, str]]  # of those, the right one
    fillable: Counter[tuple[str, str]]  # (kind, provider) -> rows whose right answer is that provider's
    wrong: Counter[str]  # kind -> values stored that are not the row's right answer (incl. where it is none)
    placeholders: Counter[str]  # kind -> provider placeholders stored
    examples: list[str]  # a few wrong ones, for the notes


def _fake_id(world: ProviderWorld, n: int) -> str:
    """A Spotify-looking id no catalog holds (the provider world's seed, not the sample's, draws it)."""
    digest = hashlib.sha256(f"fallback-bench/{world.spec.seed}/{n}".encode()).digest()
    return "".join(BASE62[b % 62] for b in digest[:22])


def add_provider_rows(db: Path, world: ProviderWorld) -> None:
    """Append the provider world's tracks and artists to a sample history, with what an earlier run left."""
    con = duckdb.connect(str(db))
    try:
        con.execute(_LOG_DDL)
        tracks: list[tuple[str, str, str, str | None]] = []
        log: list[tuple[str, str | None, str]] = []
        for n, row in enumerate(world.history):
            tracks.append((row.uri, row.title, row.artist, row.album or None))
            if row.uri.startswith(TRACK_PREFIX) and n % 2:  # the other half: asked now, 404
                log.append(("track", row.uri.removeprefix(TRACK_PREFIX), "no_image"))
        artists = []
        for n, name in enumerate(world.history_artists):
            # A third with no id (none recoverable: these tracks carry none), a third unknown, a third remembered.
            spotify_id = None if n % 3 == 0 else _fake_id(world, n)
            artists.append((name, spotify_id))
            if n % 3 == 2:
                log.append(("artist", spotify_id, "no_image"))
        con.executemany(
            "INSERT INTO tracks (spotify_track_uri, track_name, primary_artist_name, album_name) VALUES (?, ?, ?, ?)",
            tracks,
        )
        con.executemany("INSERT INTO artists (artist_name, spotify_artist_id) VALUES (?, ?)", artists)
        con.executemany("INSERT INTO backfill_log VALUES (?, ?, ?, now()::TIMESTAMP)", log)
    finally:
        con.close()


def truth(sample: World, world: ProviderWorld, coverart_base: str) -> Truth:
    tracks: dict[str, tuple[frozenset[str], str]] = {}
    for uri in sample.tracks_table["spotify_track_uri"]:
        url = sample.expected_track_url.get(uri.removeprefix(TRACK_PREFIX)) if uri.startswith(TRACK_PREFIX) else None
        tracks[uri] = (frozenset({url}), "spotify") if url else (frozenset(), "")
    for row in world.history:
        cover = world.deezer_cover_url(row.uri)
        art = world.cover_art_urls(row.uri, coverart_base)
        tracks[row.uri] = (frozenset({cover}), "deezer") if cover else (art, "musicbrainz") if art else (art, "")
    artists: dict[str, tuple[frozenset[str], str]] = {}
    for name, spotify_id in zip(
        sample.artists_table["artist_name"], sample.artists_table["spotify_artist_id"], strict=True
    ):
        key = spotify_id or sample.recoverable_artists.get(name, "")
        url = sample.expected_artist_url.get(key)
        artists[name] = (frozenset({url}), "spotify") if url else (frozenset(), "")
    for name in world.history_artists:
        picture = world.deezer_picture_url(name)
        artists[name] = (frozenset({picture}), "deezer") if picture else (frozenset(), "")
    return Truth(tracks, artists, len(world.history), len(world.history_artists))


def provider_of(url: str, coverart_base: str) -> str:
    if url.startswith(DEEZER_IMAGE_HOST):
        return "deezer"
    if url.startswith(coverart_base):
        return "musicbrainz"
    return "spotify"


def stored(db: Path) -> dict[str, dict[str, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tracks = con.execute("SELECT spotify_track_uri, album_image_url FROM tracks").fetchall()
        artists = con.execute("SELECT artist_name, image_url FROM artists").fetchall()
    finally:
        con.close()
    return {"tracks": dict(tracks), "artists": dict(artists)}


def tally(db: Path, right: Truth, coverart_base: str) -> Tally:
    filled: Counter[tuple[str, str]] = Counter()
    good: Counter[tuple[str, str]] = Counter()
    fillable: Counter[tuple[str, str]] = Counter()
    wrong: Counter[str] = Counter()
    placeholders: Counter[str] = Counter()
    examples: list[str] = []
    values = stored(db)
    for kind, answers in (("tracks", right.tracks), ("artists", right.artists)):
        for key, (urls, owner) in answers.items():
            if owner:
                fillable[kind, owner] += 1
            url = values[kind].get(key)
            if url is None:
                continue
            by = provider_of(url, coverart_base)
            filled[kind, by] += 1
            if url in urls:
                good[kind, by] += 1
            else:
                wrong[kind] += 1
                if len(examples) < 3:
                    examples.append(f"{key} -> {url} (right: {', '.join(sorted(urls))[:120] or 'none'})")
            if any(mark in url for mark in PLACEHOLDER_MARKS):
                placeholders[kind] += 1
    return Tally(filled, good, fillable, wrong, placeholders, examples)
