"""The stand-in MusicBrainz (search, User-Agent rule, 1 request/s) and Cover Art Archive (JSON, 404, 307, 503)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from standin.coverart import CoverArtConfig, CoverArtEmulator
from standin.musicbrainz import MusicBrainzConfig, MusicBrainzEmulator, meaningful_agent
from tests.providers import AGENT, WORLD, FakeClock, get, png_width, row


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def musicbrainz(clock: FakeClock) -> AsyncIterator[MusicBrainzEmulator]:
    async with MusicBrainzEmulator(WORLD, MusicBrainzConfig(), clock) as emulator:
        yield emulator


@pytest.fixture
async def coverart(clock: FakeClock) -> AsyncIterator[CoverArtEmulator]:
    async with CoverArtEmulator(WORLD, CoverArtConfig(), clock) as emulator:
        yield emulator


def group_of(artist: str, album: str) -> str:
    mbid = WORLD.answers.release_group[row(WORLD, artist, album)]
    assert mbid is not None
    return mbid


async def test_release_group_search_scores_candidates_with_their_artist_credit(
    musicbrainz: MusicBrainzEmulator, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    url = f"{musicbrainz.base_url}/ws/2/release-group"
    query = 'artist:"Queen" AND releasegroup:"Greatest Hits"'
    status, body, _ = await get(session, url, params={"query": query, "fmt": "json"}, headers=AGENT)
    assert status == 200 and body["count"] == 2 and body["offset"] == 0
    groups = body["release-groups"]
    assert [(g["title"], g["score"], g["primary-type"]) for g in groups] == [("Greatest Hits", 100, "Album")] * 2
    credits = [g["artist-credit"][0] for g in groups]
    assert {c["name"] for c in credits} == {"Queen"} and len({c["artist"]["id"] for c in credits}) == 2
    assert any("disambiguation" in c["artist"] for c in credits)  # namesakes are told apart
    assert all(g["releases"][0]["id"] and g["id"] in WORLD.release_groups for g in groups)
    # Diacritics and a partial title: found, the exact one best.
    query = 'artist:"Celine Dion" AND releasegroup:"Falling"'
    clock.now += 1
    _, body, _ = await get(session, url, params={"query": query, "fmt": "json"}, headers=AGENT)
    assert [(g["title"], g["artist-credit"][0]["name"]) for g in body["release-groups"]] == [
        ("Falling into You", "Céline Dion")
    ]


async def test_artist_search_and_the_xml_default(
    musicbrainz: MusicBrainzEmulator, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    url = f"{musicbrainz.base_url}/ws/2/artist"
    _, body, _ = await get(session, url, params={"query": 'artist:"Queen"', "fmt": "json"}, headers=AGENT)
    names = [(a["name"], a["score"]) for a in body["artists"]]
    assert names[:2] == [("Queen", 100), ("Queen", 100)] and names[2][0] == "Queen Latifah" and names[2][1] < 100
    clock.now += 1
    status, xml, response = await get(session, url, params={"query": "Queen"}, headers=AGENT)
    assert status == 200 and response.content_type == "application/xml" and xml.startswith(b"<?xml")


@pytest.mark.parametrize(
    "agent",
    [
        None,
        "",
        "Python/3.11 aiohttp/3.9.1",
        "python-requests/2.31.0",
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        "backfill/0.1.0",
        "backfill/0.1.0 ( )",
        "aiohttp/3.9 ( me@example.org )",
    ],
)
async def test_a_missing_or_generic_user_agent_is_refused_and_does_not_count(
    agent: str | None, musicbrainz: MusicBrainzEmulator, session: aiohttp.ClientSession
) -> None:
    url = f"{musicbrainz.base_url}/ws/2/artist"
    params = {"query": "Queen", "fmt": "json"}
    headers = {"User-Agent": agent} if agent is not None else {}
    skip = () if agent is not None else ("User-Agent",)
    status, body, _ = await get(session, url, params=params, headers=headers, skip_auto_headers=skip)
    assert status == 403 and "User-Agent" in body["error"]
    status, _, _ = await get(session, url, params=params, headers=AGENT)  # at the same instant: the bucket is empty
    assert status == 200


@pytest.mark.parametrize("agent", ["backfill/0.1.0 ( https://example.org )", "MyTagger/2.3 ( me@example.org )"])
def test_an_application_with_a_version_and_a_contact_is_accepted(agent: str) -> None:
    assert meaningful_agent(agent)


async def test_more_than_one_request_a_second_gets_503(
    musicbrainz: MusicBrainzEmulator, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    url = f"{musicbrainz.base_url}/ws/2/artist"
    params = {"query": "Queen", "fmt": "json"}

    async def status_at(offset: float) -> int:
        clock.now = start + offset
        return (await get(session, url, params=params, headers=AGENT))[0]

    start = clock.now
    assert [await status_at(t) for t in (0.0, 0.5, 0.99, 1.0, 1.5, 2.0)] == [200, 503, 503, 200, 503, 200]
    # Steady at one a second: never refused.
    assert [await status_at(3.0 + n) for n in range(10)] == [200] * 10
    musicbrainz.config.burst = 3
    assert [await status_at(20.0) for _ in range(4)] == [200, 200, 200, 503]
    assert [r.status for r in musicbrainz.received].count(503) == 4


async def test_the_503_fault(
    musicbrainz: MusicBrainzEmulator, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    musicbrainz.config.fault, musicbrainz.config.fault_count = "503", 1
    url = f"{musicbrainz.base_url}/ws/2/artist"
    assert (await get(session, url, params={"query": "Queen", "fmt": "json"}, headers=AGENT))[0] == 503
    clock.now += 1
    assert (await get(session, url, params={"query": "Queen", "fmt": "json"}, headers=AGENT))[0] == 200


# -- Cover Art Archive --------------------------------------------------------------------------------------


async def test_a_release_group_with_art_lists_its_front_and_thumbnails(
    coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    mbid = group_of("Queen", "A Night at the Opera")
    status, body, _ = await get(session, f"{coverart.base_url}/release-group/{mbid}")
    assert status == 200 and len(body["images"]) == 1
    image = body["images"][0]
    assert image["front"] is True and image["types"] == ["Front"]
    assert set(image["thumbnails"]) == {"250", "500", "1200", "small", "large"}
    status, picture, response = await get(session, image["thumbnails"]["250"])
    assert status == 200 and response.content_type == "image/png" and png_width(picture) == 250


async def test_no_art_is_404_and_a_bad_id_is_400(coverart: CoverArtEmulator, session: aiohttp.ClientSession) -> None:
    no_art = group_of("Queen", "The Game")
    assert (await get(session, f"{coverart.base_url}/release-group/{no_art}"))[0] == 404
    assert (await get(session, f"{coverart.base_url}/release-group/{no_art}/front-250"))[0] == 404
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await get(session, f"{coverart.base_url}/release-group/{unknown}"))[0] == 404
    assert (await get(session, f"{coverart.base_url}/release-group/not-an-mbid"))[0] == 400


async def test_front_sizes_redirect_307_to_an_archive_file_served_here(
    coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    mbid = group_of("Marrow", "Bare Rooms")
    for size in (250, 500, 1200):
        url = f"{coverart.base_url}/release-group/{mbid}/front-{size}"
        status, _, response = await get(session, url, allow_redirects=False)
        location = response.headers["Location"]
        assert status == 307 and location.startswith(f"{coverart.base_url}/download/mbid-")
        assert location.endswith(f"_thumb{size}.jpg")
        status, picture, _ = await get(session, url)
        assert status == 200 and png_width(picture) == size
    for url in WORLD.cover_art_urls(row(WORLD, "Marrow", "Bare Rooms"), coverart.base_url):
        assert (await get(session, url))[0] == 200, url


async def test_art_without_a_front_has_no_front_cover(
    coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    mbid = group_of("Marrow", "Window Seat")
    status, body, _ = await get(session, f"{coverart.base_url}/release-group/{mbid}")
    assert status == 200 and [image["front"] for image in body["images"]] == [False]
    assert (await get(session, f"{coverart.base_url}/release-group/{mbid}/front-250"))[0] == 404


async def test_the_archive_answers_503_when_told_to(coverart: CoverArtEmulator, session: aiohttp.ClientSession) -> None:
    coverart.config.fault, coverart.config.fault_count = "503", 2
    url = f"{coverart.base_url}/release-group/{group_of('Queen', 'A Night at the Opera')}"
    assert [(await get(session, url))[0] for _ in range(3)] == [503, 503, 200]
