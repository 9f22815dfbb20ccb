"""The matching rules over the stand-in providers, asked as a source would: every history row gets the world's
right answer, no request is refused, and the naive top-result choice this replaces gets rows wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from backfill.sources.matching import (
    AlbumCandidate,
    ArtistCandidate,
    ArtistHistory,
    Catalogue,
    Confirmed,
    PlayedTrack,
    Verdict,
    confirm_artist,
    deezer_image,
    match_album,
)
from standin.deezer import DeezerConfig, DeezerEmulator
from standin.musicbrainz import MusicBrainzConfig, MusicBrainzEmulator
from tests.providers import AGENT, WORLD, FakeClock


class Asker:
    """GETs on one emulator, the clock moved on by `spacing` before each, so that the limit is kept."""

    def __init__(self, session: aiohttp.ClientSession, base: str, clock: FakeClock, spacing: float) -> None:
        self.session, self.base, self.clock, self.spacing = session, base, clock, spacing

    async def __call__(self, path: str, **params: str) -> Any:
        self.clock.now += self.spacing
        async with self.session.get(self.base + path, params=params, headers=AGENT) as response:
            assert response.status == 200, (path, params)
            return await response.json()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


async def deezer_artist(ask: Asker, name: str) -> tuple[Verdict[ArtistCandidate], dict[str, Any]]:
    found = (await ask("/search/artist", q=name))["data"]
    shown = {str(a["id"]): a for a in found}
    candidates = []
    for artist in found:  # near misses too: the matcher, not this helper, must turn them down
        albums = (await ask(f"/artist/{artist['id']}/albums", limit="100"))["data"]
        top = (await ask(f"/artist/{artist['id']}/top", limit="50"))["data"]
        catalogue = Catalogue(tuple(a["title"] for a in albums), tuple(t["title"] for t in top))
        candidates.append((ArtistCandidate(str(artist["id"]), artist["name"], artist["nb_fan"]), catalogue))
    rows = [r for r in WORLD.history if r.artist == name]
    history = ArtistHistory(name, tuple(r.title for r in rows), tuple(r.album for r in rows if r.album))
    return confirm_artist(history, candidates), shown


async def deezer_album(ask: Asker, played: PlayedTrack, artist_id: str | None) -> tuple[Verdict[AlbumCandidate], Any]:
    query = f'artist:"{played.artist}" album:"{played.album or played.title}"'
    found = (await ask("/search/album", q=query))["data"]
    candidates = []
    for album in found:
        tracks = (await ask(f"/album/{album['id']}/tracks"))["data"]
        candidates.append(
            AlbumCandidate(
                str(album["id"]),
                album["title"],
                str(album["artist"]["id"]),
                album["artist"]["name"],
                album["record_type"] == "single",
                tuple(t["title"] for t in tracks),
            )
        )
    return match_album(played, candidates, artist_id), {str(a["id"]): a for a in found}


async def test_evidence_gives_every_row_the_worlds_answer_at_deezer(session: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    async with DeezerEmulator(WORLD, DeezerConfig(), clock) as deezer:
        ask = Asker(session, deezer.base_url, clock, spacing=0.11)  # 46 requests in 5 s at most
        confirmed: dict[str, str | None] = {}
        wrong_naive = []
        for name in WORLD.history_artists:
            verdict, shown = await deezer_artist(ask, name)
            chosen = verdict.candidate.id if isinstance(verdict, Confirmed) else None
            confirmed[name] = chosen
            expected = WORLD.answers.deezer_artist[name]
            assert chosen == (str(expected) if expected is not None else None), name
            picture = deezer_image(shown[chosen], "picture") if chosen else None
            assert picture == WORLD.deezer_picture_url(name), name
            first = next(iter(shown.values()), None)  # what a top-result matcher would have stored
            if first is not None and first["picture_medium"] != WORLD.deezer_picture_url(name):
                wrong_naive.append(name)
        for track in WORLD.history:
            played = PlayedTrack(track.artist, track.album, track.title)
            album_verdict, albums = await deezer_album(ask, played, confirmed[track.artist])
            album_id = album_verdict.candidate.id if isinstance(album_verdict, Confirmed) else None
            expected_album = WORLD.answers.deezer_album[track.uri]
            assert album_id == (str(expected_album) if expected_album is not None else None), track
            cover = deezer_image(albums[album_id], "cover") if album_id else None
            assert cover == WORLD.deezer_cover_url(track.uri), track
        assert deezer.quota_answers() == []
    assert {"Queen", "Kings", "Hollow Pines", "Nova", "The Blue", "Atlas"} <= set(wrong_naive)


async def test_evidence_gives_every_row_the_worlds_answer_at_musicbrainz(session: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    async with MusicBrainzEmulator(WORLD, MusicBrainzConfig(), clock) as musicbrainz:
        ask = Asker(session, musicbrainz.base_url, clock, spacing=1.0)
        for track in WORLD.history:
            query = f'artist:"{track.artist}" AND releasegroup:"{track.album or track.title}"'
            groups = (await ask("/ws/2/release-group", query=query, fmt="json"))["release-groups"]
            candidates = [
                AlbumCandidate(
                    g["id"],
                    g["title"],
                    g["artist-credit"][0]["artist"]["id"],
                    "".join(c["name"] + c.get("joinphrase", "") for c in g["artist-credit"]),
                    g.get("primary-type") == "Single",
                )
                for g in groups
            ]
            verdict = match_album(PlayedTrack(track.artist, track.album, track.title), candidates)
            chosen = verdict.candidate.id if isinstance(verdict, Confirmed) else None
            assert chosen == WORLD.answers.release_group[track.uri], track
        assert 503 not in {r.status for r in musicbrainz.received}
