"""Deezer as a fallback source, against the stand-in Deezer: right answers by evidence, its rate limit, its faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web

from backfill import __version__
from backfill.records import Lookup
from backfill.sources.deezer import DEEZER_OPTIONS, DeezerSource
from backfill.sources.deezer_search import picture
from backfill.sources.health import SourceDown
from backfill.sources.http import RateLimited
from backfill.sources.matching import deezer_md5
from standin.deezer import NO_DATA, DeezerConfig, DeezerEmulator
from tests.providers import WORLD, act_artist
from tests.sources.worlds import (
    FAST,
    Handler,
    Stepping,
    answering,
    artist_lookups,
    ask,
    capturing_agents,
    serving,
    track_lookups,
    track_rows,
    urls,
)

UNLIMITED = DeezerConfig(rate_limit=10**9)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def deezer() -> AsyncIterator[DeezerEmulator]:
    async with DeezerEmulator(WORLD, UNLIMITED) as emulator:
        yield emulator


def source(session: aiohttp.ClientSession, emulator: DeezerEmulator, **options: Any) -> DeezerSource:
    return DeezerSource(session, emulator.base_url, replace(FAST, **options), contact="tests@backfill.invalid")


# -- the right answer for every row of the world --------------------------------------------------------------


async def test_every_track_row_gets_the_worlds_cover_and_no_placeholder_is_stored(
    deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    answers = await ask(source(session, deezer), "tracks", track_lookups(WORLD))
    for row in WORLD.history:
        answer, album = answers[row.uri], WORLD.answers.deezer_album[row.uri]
        expected = WORLD.deezer_cover_url(row.uri)
        if expected is not None:
            assert (answer.status, answer.url, answer.provider_id) == ("updated", expected, str(album)), row
            assert answer.confirmed_by, "a cover is stored only with the evidence that confirmed it"
        elif album is not None:
            assert (answer.status, answer.url) == ("no_image", None), row  # the album is there, its cover is not
        else:
            assert answer.status in ("not_found", "unconfirmed") and answer.url is None, row
    assert all(deezer_md5(url) for url in urls(answers.values())), "a placeholder was stored"


async def test_every_artist_gets_the_worlds_photo_or_is_unconfirmed_with_its_candidates_named(
    deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    answers = await ask(source(session, deezer), "artists", artist_lookups(WORLD))
    for name, answer in answers.items():
        artist, expected = WORLD.answers.deezer_artist[name], WORLD.deezer_picture_url(name)
        if expected is not None:
            assert (answer.status, answer.url, answer.provider_id) == ("updated", expected, str(artist)), name
        elif artist is not None:
            assert (answer.status, answer.url, answer.provider_id) == ("no_image", None, str(artist)), name
        elif name in WORLD.answers.unconfirmed_artists:
            assert answer.status == "unconfirmed" and answer.url is None, name
            for candidate in WORLD.answers.unconfirmed_artists[name]:
                fans = f"{WORLD.deezer_artists[candidate].fans:,} fans"
                assert any(f"(deezer {candidate}, {fans})" in named for named in answer.candidates), name
        else:
            assert (answer.status, answer.url) == ("not_found", None), name
    assert all(deezer_md5(url) for url in urls(answers.values())), "a placeholder was stored"


@pytest.mark.parametrize(
    ("name", "status", "act"),
    [
        ("Queen", "updated", "queen"),  # five namesakes; the first listed has 75 fans
        ("Kings", "updated", "kings"),  # the famous namesake is listed first
        ("Céline Dion", "updated", "celine"),  # Deezer spells it "Celine Dion"
        ("Boney M.", "updated", "boney"),
        ("Bob Marley & The Wailers", "updated", "marley"),  # "and the Wailers" at Deezer
        ("Nova", "not_found", None),  # only "Nova Sky", with the user's titles: a near miss
        ("The Blue", "not_found", None),  # only "Blue", with the user's album
        ("Atlas", "unconfirmed", None),  # two namesakes, one of the user's albums each: a tie
        ("Hollow Pines", "no_image", "hollow"),  # confirmed, but only the silhouette
        ("Obscure Tapes", "not_found", None),
    ],
)
async def test_namesakes_near_misses_spellings_and_ties(
    deezer: DeezerEmulator, session: aiohttp.ClientSession, name: str, status: str, act: str | None
) -> None:
    answer = (await ask(source(session, deezer), "artists", {name: artist_lookups(WORLD)[name]}))[name]
    assert answer.status == status
    assert answer.provider_id == (str(act_artist(WORLD, act)) if act else None)
    if status == "updated":
        assert answer.url == WORLD.deezer_picture_url(name) and "album:" in answer.confirmed_by


async def test_artists_are_searched_in_plain_text_never_with_the_artist_field(
    deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    await ask(source(session, deezer), "artists", {"Queen": artist_lookups(WORLD)["Queen"]})
    searches = [parse_qs(r.query)["q"] for r in deezer.received if r.path == "/search/artist"]
    assert searches == [["Queen"]]


async def test_namesake_albums_of_one_title_are_told_apart_by_the_track_they_list(
    deezer: DeezerEmulator, session: aiohttp.ClientSession
) -> None:
    lookups = track_rows(WORLD, "Queen", "Greatest Hits")  # the real Queen's, and the 1,203-fan Queen's
    answer = next(iter((await ask(source(session, deezer), "tracks", lookups)).values()))
    album = WORLD.deezer_albums[int(answer.provider_id or 0)]
    assert answer.status == "updated" and album.artist_id == act_artist(WORLD, "queen")
    assert "track: Killer Queen" in answer.confirmed_by


async def test_the_rows_of_one_album_cost_one_search(deezer: DeezerEmulator, session: aiohttp.ClientSession) -> None:
    one_row = dict([next(iter(track_rows(WORLD, "Kings", "Harbour Lights").items()))])
    alone = source(session, deezer)
    await ask(alone, "tracks", one_row)
    together = source(session, deezer)
    answers = await ask(together, "tracks", track_rows(WORLD, "Kings", "Harbour Lights"))
    assert len(answers) == 2 and {a.status for a in answers.values()} == {"updated"}
    assert together.requests == alone.requests


async def test_every_request_names_this_tool_its_version_and_a_contact(session: aiohttp.ClientSession) -> None:
    emulator = DeezerEmulator(WORLD, UNLIMITED)
    async with capturing_agents(emulator) as agents:
        await ask(source(session, emulator), "artists", {"Kings": artist_lookups(WORLD)["Kings"]})
    assert agents and set(agents) == {f"backfill/{__version__} ( tests@backfill.invalid )"}


# -- the rate limit -----------------------------------------------------------------------------------------


def test_the_default_pace_stays_under_fifty_requests_in_five_seconds() -> None:
    assert DEEZER_OPTIONS.rate * 5 < 50


async def test_quota_answers_are_waited_out_and_asked_again_never_a_miss(session: aiohttp.ClientSession) -> None:
    # Every fifth request or so is over the limit: the emulator's clock moves one second per request.
    config = DeezerConfig(rate_limit=4, rate_window=4.5)
    async with DeezerEmulator(WORLD, config, Stepping(1.0)) as emulator:
        fallback = source(session, emulator, rate=50.0)
        lookups = track_rows(WORLD, "Queen") | track_rows(WORLD, "Kings")
        answers = await ask(fallback, "tracks", lookups)
        artists = await ask(fallback, "artists", {"Kings": artist_lookups(WORLD)["Kings"]})
    assert emulator.quota_answers(), "the limit was never reached: the test proves nothing"
    for key, answer in answers.items():
        assert (answer.status, answer.url) == ("updated", WORLD.deezer_cover_url(key))
    assert artists["Kings"].url == WORLD.deezer_picture_url("Kings")
    assert fallback.pace.lowest < fallback.pace.ceiling, "the adaptive pace did not slow down"
    assert fallback.requests.total() == len(emulator.received)


async def test_a_quota_that_never_lifts_gives_the_source_up_without_an_answer(session: aiohttp.ClientSession) -> None:
    async with DeezerEmulator(WORLD, DeezerConfig(rate_limit=0)) as emulator:
        fallback = source(session, emulator, max_wait=1.0)
        lookups = track_rows(WORLD, "Kings")
        seen = []
        with pytest.raises(RateLimited):
            async for item in fallback.singles("tracks", list(lookups), lookups):
                seen.append(item)
    assert seen == [] and emulator.quota_answers()


# -- errors and faults ----------------------------------------------------------------------------------------


async def test_no_data_is_not_found(session: aiohttp.ClientSession) -> None:
    async with serving(answering(NO_DATA)) as url:
        fallback = DeezerSource(session, url, FAST, contact="tests@backfill.invalid")
        tracks = await ask(fallback, "tracks", track_rows(WORLD, "Kings"))
        artists = await ask(fallback, "artists", {"Kings": artist_lookups(WORLD)["Kings"]})
    assert {a.status for a in (*tracks.values(), *artists.values())} == {"not_found"}


@pytest.mark.parametrize("fault", ["5xx", "html", "malformed", "busy"])
async def test_a_failing_deezer_fails_the_row_and_never_answers_a_miss(
    session: aiohttp.ClientSession, fault: str
) -> None:
    async with DeezerEmulator(WORLD, DeezerConfig(rate_limit=10**9, fault=fault)) as emulator:
        fallback = source(session, emulator)
        answers = await ask(fallback, "tracks", track_rows(WORLD, "Kings"))
        artists = await ask(fallback, "artists", {"Kings": artist_lookups(WORLD)["Kings"]})
    assert {(a.status, a.url) for a in (*answers.values(), *artists.values())} == {("failed", None)}


@pytest.mark.parametrize("fault", ["5xx", "html", "malformed", "drop"])
async def test_one_broken_answer_is_asked_again(session: aiohttp.ClientSession, fault: str) -> None:
    async with DeezerEmulator(WORLD, DeezerConfig(rate_limit=10**9, fault=fault, fault_count=1)) as emulator:
        answers = await ask(source(session, emulator), "tracks", track_rows(WORLD, "Kings"))
    assert {(a.status, a.url) for a in answers.values()} == {("updated", WORLD.deezer_cover_url(k)) for k in answers}


async def test_a_mute_deezer_is_given_up_within_seconds(session: aiohttp.ClientSession) -> None:
    async with DeezerEmulator(WORLD, DeezerConfig(fault="hang")) as emulator:
        fallback = source(session, emulator, timeout=0.2, give_up_after=0.3)
        lookups = track_rows(WORLD, "Kings")
        with pytest.raises(SourceDown, match="DEEZER_API_URL"):
            await asyncio.wait_for(ask(fallback, "tracks", lookups), 30)


async def test_an_unreachable_deezer_is_given_up(session: aiohttp.ClientSession) -> None:
    fallback = DeezerSource(session, "http://127.0.0.1:9", FAST, contact="tests@backfill.invalid")
    with pytest.raises(SourceDown, match="cannot be reached"):
        await asyncio.wait_for(ask(fallback, "artists", {"Kings": artist_lookups(WORLD)["Kings"]}), 30)


async def test_answers_that_are_not_deezers_give_the_source_up(session: aiohttp.ClientSession) -> None:
    async with serving(answering({"unexpected": True})) as url:
        fallback = DeezerSource(session, url, FAST, contact="tests@backfill.invalid")
        lookups = track_lookups(WORLD)
        seen = []
        with pytest.raises(SourceDown, match="is not the Deezer API"):
            async for item in fallback.singles("tracks", list(lookups), lookups):
                seen.append(item)
    assert seen and {answer.status for _, answer in seen} == {"failed"}


async def test_an_album_named_like_the_track_is_not_the_single(session: aiohttp.ClientSession) -> None:
    album = {
        "id": 7,
        "title": "Paper Boats",
        "record_type": "album",
        "md5_image": "0" * 32,
        "cover_medium": f"https://e-cdns-images.dzcdn.net/images/cover/{'0' * 32}/250x250-000000-80-0-0.jpg",
        "artist": {"id": 8, "name": "Juniper Lane"},
    }
    async with serving(answering({"data": [album], "total": 1})) as url:
        lookups = track_rows(WORLD, "Juniper Lane", "")  # a local file with no album: a single, or nothing
        answers = await ask(DeezerSource(session, url, FAST, contact="tests@backfill.invalid"), "tracks", lookups)
    assert {a.status for a in answers.values()} == {"not_found"}


async def test_a_near_miss_costs_no_catalogue_requests(deezer: DeezerEmulator, session: aiohttp.ClientSession) -> None:
    await ask(source(session, deezer), "artists", {"Nova": artist_lookups(WORLD)["Nova"]})
    assert [r.path for r in deezer.received] == ["/search/artist"]


COVER = "https://e-cdns-images.dzcdn.net/images/cover/{md5}/{size}x{size}-000000-80-0-0.jpg"
MD5 = "2e018122cb56986277102d2041a592c8"


@pytest.mark.parametrize(
    ("album", "expected"),
    [
        ({"md5_image": MD5, "cover_medium": COVER.format(md5=MD5, size=250)}, COVER.format(md5=MD5, size=250)),
        ({"md5_image": "", "cover_medium": COVER.format(md5=MD5, size=250)}, "no_image"),  # an empty md5_image
        ({"md5_image": MD5, "cover_medium": COVER.format(md5="", size=250)}, "no_image"),  # the placeholder's URL
        ({"md5_image": MD5}, COVER.format(md5=MD5, size=250)),  # built from the image id
        ({"md5_image": None, "cover_medium": "cover.jpg"}, "failed"),
    ],
)
def test_the_cover_stored_is_the_250_px_one_and_never_a_placeholder(album: dict[str, object], expected: str) -> None:
    answer = picture(album, "cover", "album 1")
    assert (answer.url or answer.status) == expected


def routed(pages: dict[str, list[dict[str, object]]], advanced_finds: bool = True) -> Handler:
    """A Deezer answering each path with its list (unknown paths: no data); with `advanced_finds` false,
    a query with a field (`artist:"..."`) finds nothing, as a search that misses a spelling would."""

    async def answer(request: web.Request) -> web.StreamResponse:
        if not advanced_finds and ':"' in request.query.get("q", ""):
            return web.json_response({"data": [], "total": 0})
        if request.path not in pages:
            return web.json_response(NO_DATA)
        return web.json_response({"data": pages[request.path], "total": len(pages[request.path])})

    return answer


def photo(md5: str) -> dict[str, str]:
    return {"picture_medium": f"https://e-cdns-images.dzcdn.net/images/artist/{md5}/250x250-000000-80-0-0.jpg"}


async def test_a_namesakes_top_tracks_can_outweigh_another_namesakes_album(session: aiohttp.ClientSession) -> None:
    first = {"id": 1, "name": "Harbour", "nb_fan": 900, **photo("1" * 32)}
    second = {"id": 2, "name": "Harbour", "nb_fan": 40, **photo("2" * 32)}
    pages = {
        "/search/artist": [first, second],
        "/artist/1/albums": [{"id": 10, "title": "Tides"}],  # one of the user's albums
        "/artist/2/albums": [],
        "/artist/1/top": [],
        "/artist/2/top": [{"id": 20, "title": "Gulls"}, {"id": 21, "title": "Salt"}],  # two of the user's tracks
    }
    lookup = Lookup("Harbour", "Harbour", tracks=("Gulls", "Salt"), albums=("Tides",))
    async with serving(routed(pages)) as url:
        answer = (
            await ask(
                DeezerSource(session, url, FAST, contact="tests@backfill.invalid"), "artists", {"Harbour": lookup}
            )
        )["Harbour"]
    assert (answer.status, answer.provider_id) == ("updated", "2")
    assert answer.confirmed_by == "track: Gulls, track: Salt"


async def test_an_advanced_search_that_finds_nothing_is_followed_by_plain_text(session: aiohttp.ClientSession) -> None:
    cover = COVER.format(md5=MD5, size=250)
    album = {"id": 7, "title": "Tides", "record_type": "album", "md5_image": MD5, "cover_medium": cover}
    pages = {"/search/album": [album | {"artist": {"id": 8, "name": "Harbour"}}]}
    lookups = {
        "spotify:local:Harbour:Tides:Gulls:200": Lookup(
            "spotify:local:Harbour:Tides:Gulls:200", "Harbour", "Gulls", "Tides"
        )
    }
    async with serving(routed(pages, advanced_finds=False)) as url:
        answers = await ask(DeezerSource(session, url, FAST, contact="tests@backfill.invalid"), "tracks", lookups)
    assert [(a.status, a.url, a.provider_id) for a in answers.values()] == [("updated", cover, "7")]
