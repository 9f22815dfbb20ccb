"""The provider world and the stand-in Deezer: its shapes, ranking, placeholders, quota and faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from standin.deezer import NO_DATA, QUOTA_ERROR, DeezerConfig, DeezerEmulator
from standin.provider_world import DEEZER_IMAGE_HOST, ProviderWorldSpec, build_provider_world, deezer_image_url
from tests.providers import WORLD, FakeClock, act_artist, get, png_width, row


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def deezer(clock: FakeClock) -> AsyncIterator[DeezerEmulator]:
    async with DeezerEmulator(WORLD, DeezerConfig(), clock) as emulator:
        yield emulator


# -- the world ----------------------------------------------------------------------------------------------


def test_the_world_is_the_same_for_a_seed_and_other_for_another() -> None:
    again = build_provider_world(ProviderWorldSpec(seed=5, filler=30))
    assert again.history == WORLD.history and again.deezer_artists == WORLD.deezer_artists
    assert again.release_groups == WORLD.release_groups and again.answers == WORLD.answers
    other = build_provider_world(ProviderWorldSpec(seed=6, filler=30))
    assert other.history != WORLD.history and other.deezer_artists != WORLD.deezer_artists


def test_the_hand_made_cases_have_the_answers_they_stand_for() -> None:
    answers = WORLD.answers
    queens = [a for a in WORLD.deezer_artists.values() if a.name == "Queen"]
    assert len(queens) == 5 and queens[0].fans == 75
    assert answers.deezer_artist["Queen"] == act_artist(WORLD, "queen")
    assert answers.deezer_artist["Kings"] == act_artist(WORLD, "kings")  # not the famous, first-listed Kings
    assert answers.deezer_artist["Céline Dion"] == act_artist(WORLD, "celine")
    assert answers.deezer_artist["Boney M."] == act_artist(WORLD, "boney")
    assert answers.deezer_artist["Nova"] is None and answers.deezer_artist["The Blue"] is None
    assert answers.deezer_artist["Atlas"] is None and len(answers.unconfirmed_artists["Atlas"]) == 2
    # Photo-less: the artist is known, the right picture is none.
    assert answers.deezer_artist["Hollow Pines"] == act_artist(WORLD, "hollow")
    assert WORLD.deezer_picture_url("Hollow Pines") is None
    # Each Atlas album is its own; Queen's "Greatest Hits" is the real Queen's, not its namesake's.
    for artist, album in (("Atlas", "First Light"), ("Atlas", "Second Wind"), ("Hollow Pines", "Cedar Hall")):
        assert WORLD.deezer_cover_url(row(WORLD, artist, album)) is not None
    hits = answers.deezer_album[row(WORLD, "Queen", "Greatest Hits")]
    assert hits is not None and WORLD.deezer_albums[hits].artist_id == act_artist(WORLD, "queen")
    assert answers.release_group[row(WORLD, "Queen", "Greatest Hits")] is None  # two Queens at MusicBrainz
    assert WORLD.deezer_cover_url(row(WORLD, "Marrow", "Bare Rooms")) is None  # no cover at Deezer
    assert WORLD.cover_art_urls(row(WORLD, "Marrow", "Bare Rooms"), "http://x") != frozenset()
    assert WORLD.cover_art_urls(row(WORLD, "Marrow", "Window Seat"), "http://x") == frozenset()  # back only
    assert WORLD.deezer_cover_url(row(WORLD, "Juniper Lane", "")) is not None  # a single, by its title
    assert WORLD.deezer_cover_url(row(WORLD, "Nova", "Lights Out")) is None
    assert answers.release_group[row(WORLD, "The Blue", "Tidal")] is not None


# -- Deezer -------------------------------------------------------------------------------------------------

LISTED_ARTIST = {
    "id", "name", "link", "picture", "picture_small", "picture_medium", "picture_big", "picture_xl",
    "nb_album", "nb_fan", "radio", "tracklist", "type",
}  # fmt: skip


async def test_plain_artist_search_lists_namesakes_first_with_the_least_known_at_the_top(
    deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await get(session, f"{deezer.base_url}/search/artist", params={"q": "Queen"})
    assert status == 200 and set(body) == {"data", "total"} and body["total"] == 6
    assert all(set(artist) == LISTED_ARTIST and artist["type"] == "artist" for artist in body["data"])
    assert [a["name"] for a in body["data"]] == ["Queen"] * 5 + ["Queen Latifah"]
    assert body["data"][0]["nb_fan"] == 75
    real = WORLD.deezer_artists[act_artist(WORLD, "queen")]
    found = next(a for a in body["data"] if a["id"] == real.id)
    for field, size in (("small", 56), ("medium", 250), ("big", 500), ("xl", 1000)):
        expected = f"{DEEZER_IMAGE_HOST}/images/artist/{real.md5}/{size}x{size}-000000-80-0-0.jpg"
        assert found[f"picture_{field}"] == expected
    silhouette = next(a for a in body["data"] if a["id"] == act_artist(WORLD, "queen-88"))
    assert silhouette["picture_medium"] == f"{DEEZER_IMAGE_HOST}/images/artist//250x250-000000-80-0-0.jpg"


async def test_the_advanced_artist_query_ranks_longer_names_first(
    deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    _, body, _ = await get(session, f"{deezer.base_url}/search/artist", params={"q": 'artist:"Queen"'})
    assert [a["name"] for a in body["data"]][:2] == ["Queen Latifah", "Queen"]
    assert body["data"][1]["nb_fan"] == 75 and body["data"][-1]["nb_fan"] == 12_700_000
    _, nova, _ = await get(session, f"{deezer.base_url}/search/artist", params={"q": "Nova"})
    assert [a["name"] for a in nova["data"]] == ["Nova Sky"]  # the near miss is all there is


async def test_search_finds_other_spellings_and_edition_titles(
    deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    url = f"{deezer.base_url}/search/album"
    _, body, _ = await get(session, url, params={"q": 'artist:"Céline Dion" album:"Falling into You"'})
    assert [(a["title"], a["artist"]["name"]) for a in body["data"]] == [("Falling into You", "Celine Dion")]
    _, body, _ = await get(session, url, params={"q": 'artist:"Queen" album:"News of the World"'})
    assert [a["title"] for a in body["data"]] == ["News Of The World (2011 Remaster)"]
    assert body["data"][0]["md5_image"] and body["data"][0]["record_type"] == "album"
    _, tracks, _ = await get(session, f"{deezer.base_url}/search", params={"q": 'artist:"Boney M." track:"Rasputin"'})
    assert [(t["title"], t["type"], t["album"]["title"]) for t in tracks["data"]] == [
        ("Rasputin", "track", "Nightflight to Venus")
    ]


async def test_lists_page_with_next_only_when_there_is_more(
    deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    _, first, _ = await get(session, f"{deezer.base_url}/search/artist", params={"q": "Queen", "limit": "4"})
    assert len(first["data"]) == 4 and first["total"] == 6 and "next" in first
    _, rest, _ = await get(session, first["next"])
    assert len(rest["data"]) == 2 and "next" not in rest and "prev" in rest
    real = act_artist(WORLD, "queen")
    _, top, _ = await get(session, f"{deezer.base_url}/artist/{real}/top")
    assert len(top["data"]) == 5 and top["total"] == 13 and "next" in top  # five unless a limit is given
    _, top, _ = await get(session, f"{deezer.base_url}/artist/{real}/top", params={"limit": "50"})
    assert len(top["data"]) == 13 and "next" not in top
    ranks = [t["rank"] for t in top["data"]]
    assert ranks == sorted(ranks, reverse=True)


async def test_objects_by_id_and_their_placeholders(deezer: DeezerEmulator, session: aiohttp.ClientSession) -> None:
    base = deezer.base_url
    hollow = act_artist(WORLD, "hollow")
    _, artist, _ = await get(session, f"{base}/artist/{hollow}")
    assert artist["name"] == "Hollow Pines" and artist["type"] == "artist" and "share" in artist
    assert artist["picture_xl"] == f"{DEEZER_IMAGE_HOST}/images/artist//1000x1000-000000-80-0-0.jpg"
    _, albums, _ = await get(session, f"{base}/artist/{act_artist(WORLD, 'marrow')}/albums")
    bare = next(a for a in albums["data"] if a["title"] == "Bare Rooms")
    assert bare["md5_image"] == "" and bare["cover_medium"].endswith("/images/cover//250x250-000000-80-0-0.jpg")
    _, album, _ = await get(session, f"{base}/album/{bare['id']}")
    assert album["type"] == "album" and album["artist"]["name"] == "Marrow"
    assert [t["title"] for t in album["tracks"]["data"]] == ["Plaster", "Floorboards"]
    track_id = album["tracks"]["data"][0]["id"]
    _, track, _ = await get(session, f"{base}/track/{track_id}")
    assert track["album"]["md5_image"] == "" and track["isrc"] and track["artist"]["id"] == album["artist"]["id"]
    _, by_isrc, _ = await get(session, f"{base}/track/isrc:{track['isrc']}")
    assert by_isrc["id"] == track_id
    open_doors = next(a for a in albums["data"] if a["title"] == "Open Doors")
    md5 = open_doors["md5_image"]
    assert open_doors["cover_big"] == deezer_image_url("cover", md5, 500) and len(md5) == 32


@pytest.mark.parametrize("path", ["/artist/1", "/album/1", "/track/1", "/artist/1/top", "/track/isrc:XX0000000000"])
async def test_an_unknown_id_is_a_200_with_error_800(
    path: str, deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await get(session, deezer.base_url + path)
    assert status == 200 and body == NO_DATA


async def test_the_51st_request_in_5_seconds_gets_the_quota_error_as_a_200(
    deezer: DeezerEmulator, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    url = f"{deezer.base_url}/artist/{act_artist(WORLD, 'queen')}"
    start = clock.now
    for n in range(50):
        clock.now = start + n * 0.09  # 50 requests in 4.41 s
        status, body, _ = await get(session, url)
        assert status == 200 and "error" not in body, n
    clock.now = start + 4.99
    status, body, response = await get(session, url)
    assert status == 200 and body == QUOTA_ERROR and "Retry-After" not in response.headers
    # A rolling window: once the first request is 5 s old, one more fits, and then the limit holds again.
    clock.now = start + 5.0
    assert "error" not in (await get(session, url))[1]
    assert (await get(session, url))[1] == QUOTA_ERROR
    assert len(deezer.quota_answers()) == 2 and len(deezer.received) == 53


async def test_the_quota_counts_each_address_on_its_own(
    deezer: DeezerEmulator, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    url = f"{deezer.base_url}/artist/{act_artist(WORLD, 'queen')}"
    for _ in range(50):
        await get(session, url)
    assert (await get(session, url))[1] == QUOTA_ERROR
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as elsewhere:
        status, body, _ = await get(elsewhere, url)
    assert status == 200 and body["type"] == "artist"
    assert {r.remote for r in deezer.received} == {"127.0.0.1", "127.0.0.2"}


async def test_broken_answers_when_asked_for(
    deezer: DeezerEmulator, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    url = f"{deezer.base_url}/artist/{act_artist(WORLD, 'queen')}"
    deezer.config.fault, deezer.config.fault_count = "5xx", 1
    status, body, response = await get(session, url)
    assert status == 502 and response.content_type == "text/html" and b"<html>" in body
    assert (await get(session, url))[1]["type"] == "artist"  # only the first one
    deezer.faults_served, deezer.config.fault = 0, "malformed"
    status, body, response = await get(session, url)
    assert status == 200 and response.content_type == "application/json" and isinstance(body, bytes)
    with pytest.raises(ValueError):
        json.loads(body)
    deezer.faults_served, deezer.config.fault = 0, "busy"
    assert (await get(session, url))[1]["error"]["code"] == 700
    for fault in ("hang", "slow"):
        deezer.faults_served, deezer.config.fault, deezer.config.slow_seconds = 0, fault, 3600
        with pytest.raises(TimeoutError):  # a hang guard: nothing comes back while the client waits
            await get(session, url, timeout=aiohttp.ClientTimeout(total=0.3))
    # aiohttp's client sends an idempotent request again once after a dropped connection: drop both.
    deezer.faults_served, deezer.config.fault, deezer.config.fault_count = 0, "drop", 2
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(session, url)


async def test_local_images_are_served_without_counting_toward_the_quota(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    async with DeezerEmulator(WORLD, DeezerConfig(local_images=True, rate_limit=3), clock) as deezer:
        _, artist, _ = await get(session, f"{deezer.base_url}/artist/{act_artist(WORLD, 'hollow')}")
        assert artist["picture_medium"].startswith(f"{deezer.base_url}/images/artist//250x250-")
        the_game = WORLD.answers.deezer_album[row(WORLD, "Queen", "The Game")]
        _, album, _ = await get(session, f"{deezer.base_url}/album/{the_game}")
        for url in (artist["picture_medium"], album["cover_medium"], album["cover_xl"]):
            status, body, response = await get(session, url)
            assert status == 200 and response.content_type == "image/png"
            assert png_width(body) == int(url.rsplit("/", 1)[1].split("x")[0])
        # The third API request is still within a limit of three: the pictures did not count.
        assert (await get(session, f"{deezer.base_url}/album/{the_game}"))[1]["type"] == "album"
        assert deezer.quota_answers() == [] and len(deezer.received) == 3
