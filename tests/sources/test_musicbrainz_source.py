"""MusicBrainz and the Cover Art Archive as a fallback source, against their stand-ins: right covers by evidence,
the 1-a-second rule, the User-Agent rule, the archive's redirects and 404s, and their faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest

from backfill import __version__
from backfill.sources.health import SourceDown
from backfill.sources.http import RateLimited
from backfill.sources.musicbrainz import MUSICBRAINZ_OPTIONS, MusicBrainzSource, phrase
from standin.coverart import CoverArtConfig, CoverArtEmulator
from standin.musicbrainz import MusicBrainzConfig, MusicBrainzEmulator, meaningful_agent
from tests.providers import WORLD, get, png_width, row
from tests.sources.worlds import (
    FAST,
    Stepping,
    answering,
    artist_lookups,
    ask,
    capturing_agents,
    hanging,
    serving,
    track_lookups,
    track_rows,
)

CONTACT = "tests@backfill.invalid"
AGENT = f"backfill/{__version__} ( {CONTACT} )"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def musicbrainz() -> AsyncIterator[MusicBrainzEmulator]:
    # Its clock moves a second per request: at the test's fast pace the 1-a-second bucket never overflows.
    async with MusicBrainzEmulator(WORLD, MusicBrainzConfig(), Stepping(1.0)) as emulator:
        yield emulator


@pytest.fixture
async def coverart() -> AsyncIterator[CoverArtEmulator]:
    async with CoverArtEmulator(WORLD) as emulator:
        yield emulator


def source(
    session: aiohttp.ClientSession, musicbrainz: MusicBrainzEmulator, coverart: CoverArtEmulator, **options: Any
) -> MusicBrainzSource:
    return MusicBrainzSource(
        session, f"{musicbrainz.base_url}/ws/2", coverart.base_url, replace(FAST, **options), contact=CONTACT
    )


async def test_every_track_row_gets_the_worlds_front_cover(
    musicbrainz: MusicBrainzEmulator, coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    answers = await ask(source(session, musicbrainz, coverart), "tracks", track_lookups(WORLD))
    for history_row in WORLD.history:
        answer, group = answers[history_row.uri], WORLD.answers.release_group[history_row.uri]
        right = WORLD.cover_art_urls(history_row.uri, coverart.base_url)
        if right:
            assert answer.status == "updated" and answer.url in right and answer.provider_id == group, history_row
            assert answer.confirmed_by
        elif group is not None:
            assert (answer.status, answer.url, answer.provider_id) == ("no_image", None, group), history_row
        else:
            assert answer.status in ("not_found", "unconfirmed") and answer.url is None, history_row
    assert {r.status for r in musicbrainz.received} == {200}


@pytest.mark.parametrize(
    ("artist", "album", "status"),
    [
        ("Céline Dion", "Falling into You", "updated"),
        ("Sigur Ros", "Ágætis byrjun", "updated"),  # "Sigur Rós" at MusicBrainz
        ("Boney M.", "Nightflight to Venus", "updated"),
        ("The Blue", "Tidal", "updated"),  # not Blue's "Tidal"
        ("Nova", "Lights Out", "not_found"),  # only Nova Sky's "Lights Out": a near miss
        ("Queen", "Greatest Hits", "unconfirmed"),  # two Queens with a "Greatest Hits" and no track to tell
        ("Queen", "The Game", "no_image"),  # the archive has no art for it: 404
        ("Marrow", "Window Seat", "no_image"),  # art, but only a back: 404 for front-250
        ("Juniper Lane", "", "updated"),  # a local file without an album: the single named like its track
        ("Mara Vell", "Golden Hour", "not_found"),  # the single is not at MusicBrainz
    ],
)
async def test_spellings_near_misses_ties_and_missing_art(
    musicbrainz: MusicBrainzEmulator,
    coverart: CoverArtEmulator,
    session: aiohttp.ClientSession,
    artist: str,
    album: str,
    status: str,
) -> None:
    lookups = track_rows(WORLD, artist, album)
    answer = (await ask(source(session, musicbrainz, coverart), "tracks", lookups))[row(WORLD, artist, album)]
    assert answer.status == status
    if status == "unconfirmed":
        assert len(answer.candidates) == 2 and all(
            "Greatest Hits by Queen (musicbrainz " in c for c in answer.candidates
        )


async def test_the_front_cover_redirect_is_not_followed_and_the_stored_url_leads_to_the_picture(
    musicbrainz: MusicBrainzEmulator, coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    lookups = track_rows(WORLD, "Kings", "Harbour Lights")
    answer = next(iter((await ask(source(session, musicbrainz, coverart), "tracks", lookups)).values()))
    assert answer.url == f"{coverart.base_url}/release-group/{answer.provider_id}/front-250"
    assert [(r.status, r.path.endswith("/front-250")) for r in coverart.received] == [(307, True)]
    status, body, _ = await get(session, answer.url)  # what a page showing it gets: the 307, then the file
    assert status == 200 and png_width(body) > 0


async def test_it_answers_album_art_only(
    musicbrainz: MusicBrainzEmulator, coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    fallback = source(session, musicbrainz, coverart)
    assert fallback.kinds == frozenset({"tracks"})
    answers = await ask(fallback, "artists", {"Kings": artist_lookups(WORLD)["Kings"]})
    assert answers["Kings"].status == "failed" and musicbrainz.received == []


def test_names_are_escaped_in_the_lucene_query() -> None:
    assert phrase('AC/DC: "Live" (1992)') == r'"AC\/DC\: \"Live\" \(1992\)"'


async def test_the_query_asks_for_the_artist_and_the_release_group_as_json(
    musicbrainz: MusicBrainzEmulator, coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    await ask(source(session, musicbrainz, coverart), "tracks", track_rows(WORLD, "Kings", "Harbour Lights"))
    (search,) = musicbrainz.received
    assert search.path == "/ws/2/release-group"
    query = parse_qs(search.query)
    assert query["query"] == ['artist:"Kings" AND releasegroup:"Harbour Lights"'] and query["fmt"] == ["json"]


# -- the User-Agent and the pace ----------------------------------------------------------------------------


async def test_every_request_names_this_tool_its_version_and_a_contact(
    musicbrainz: MusicBrainzEmulator, session: aiohttp.ClientSession
) -> None:
    coverart = CoverArtEmulator(WORLD)
    async with capturing_agents(coverart) as archive_agents:
        await ask(source(session, musicbrainz, coverart), "tracks", track_rows(WORLD, "Kings"))
    agents = {r.user_agent for r in musicbrainz.received} | set(archive_agents)
    assert agents == {AGENT} and meaningful_agent(AGENT) and archive_agents


async def test_a_refused_user_agent_gives_the_source_up(
    musicbrainz: MusicBrainzEmulator, coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    fallback = source(session, musicbrainz, coverart)
    fallback.agent = "python-requests/2.31"
    with pytest.raises(SourceDown, match="403"):
        await ask(fallback, "tracks", track_rows(WORLD, "Kings"))
    assert [r.status for r in musicbrainz.received] == [403]


def test_the_default_pace_stays_under_one_request_a_second_and_never_climbs_above_it(
    session: aiohttp.ClientSession,
) -> None:
    fallback = MusicBrainzSource(session, contact=CONTACT)
    # A margin: requests paced exactly 1 s apart arrive a few ms closer now and then (bench scenario 12).
    assert 0.9 <= MUSICBRAINZ_OPTIONS.rate < 1.0
    assert fallback.pace.ceiling == MUSICBRAINZ_OPTIONS.rate and fallback.pace.rate == MUSICBRAINZ_OPTIONS.rate


async def test_a_503_slows_down_and_asks_again(coverart: CoverArtEmulator, session: aiohttp.ClientSession) -> None:
    config = MusicBrainzConfig(fault="503", fault_count=2)
    async with MusicBrainzEmulator(WORLD, config, Stepping(1.0)) as musicbrainz:
        fallback = source(session, musicbrainz, coverart, rate=20.0)
        answers = await ask(fallback, "tracks", track_rows(WORLD, "Kings"))
    assert {(a.status, a.url in WORLD.cover_art_urls(k, coverart.base_url)) for k, a in answers.items()} == {
        ("updated", True)
    }
    assert [r.status for r in musicbrainz.received] == [503, 503, 200]
    assert fallback.pace.lowest < fallback.pace.ceiling


async def test_the_archive_answering_503_is_asked_again(
    musicbrainz: MusicBrainzEmulator, session: aiohttp.ClientSession
) -> None:
    async with CoverArtEmulator(WORLD, CoverArtConfig(fault="503", fault_count=1)) as coverart:
        fallback = source(session, musicbrainz, coverart)
        answers = await ask(fallback, "tracks", track_rows(WORLD, "Kings"))
        assert [r.status for r in coverart.received] == [503, 307]
    assert {a.status for a in answers.values()} == {"updated"}
    assert fallback.coverart.pace.lowest < fallback.coverart.pace.ceiling, "the archive's pace did not slow down"


# -- faults ---------------------------------------------------------------------------------------------------


async def test_malformed_answers_fail_the_row_and_never_answer_a_miss(
    coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    async with MusicBrainzEmulator(WORLD, MusicBrainzConfig(fault="malformed"), Stepping(1.0)) as musicbrainz:
        answers = await ask(source(session, musicbrainz, coverart), "tracks", track_rows(WORLD, "Kings"))
    assert {(a.status, a.url) for a in answers.values()} == {("failed", None)}


async def test_a_musicbrainz_that_stays_overloaded_fails_nothing_into_a_miss(
    coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    async with MusicBrainzEmulator(WORLD, MusicBrainzConfig(fault="503"), Stepping(1.0)) as musicbrainz:
        fallback = source(session, musicbrainz, coverart, max_wait=1.0)
        with pytest.raises(RateLimited) as lost:
            await ask(fallback, "tracks", track_rows(WORLD, "Kings"))
    assert lost.value.source == "musicbrainz" and {r.status for r in musicbrainz.received} == {503}


async def test_an_unreachable_archive_gives_the_source_up_naming_its_setting(
    musicbrainz: MusicBrainzEmulator, session: aiohttp.ClientSession
) -> None:
    fallback = MusicBrainzSource(session, f"{musicbrainz.base_url}/ws/2", "http://127.0.0.1:9", FAST, contact=CONTACT)
    with pytest.raises(SourceDown, match="COVERART_API_URL") as lost:
        await asyncio.wait_for(ask(fallback, "tracks", track_lookups(WORLD)), 30)
    assert lost.value.source == "musicbrainz"


async def test_a_mute_musicbrainz_is_given_up_within_seconds(
    coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    async with serving(hanging) as url:
        options = replace(FAST, timeout=0.2, give_up_after=0.3)
        fallback = MusicBrainzSource(session, f"{url}/ws/2", coverart.base_url, options, contact=CONTACT)
        with pytest.raises(SourceDown, match="MUSICBRAINZ_API_URL"):
            await asyncio.wait_for(ask(fallback, "tracks", track_rows(WORLD, "Kings")), 30)


async def test_an_album_named_like_the_track_is_not_the_single(
    coverart: CoverArtEmulator, session: aiohttp.ClientSession
) -> None:
    group = {
        "id": "0b1b3a52-32a6-4b7e-a5b4-6a7b1f2b1e10",
        "title": "Paper Boats",
        "primary-type": "Album",
        "artist-credit": [{"name": "Juniper Lane", "artist": {"id": "5f0c2d7e-0a6b-4c47-9d52-2d9b5c1e7a31"}}],
    }
    async with serving(answering({"count": 1, "offset": 0, "release-groups": [group]})) as url:
        lookups = track_rows(WORLD, "Juniper Lane", "")  # a local file with no album: a single, or nothing
        answers = await ask(
            MusicBrainzSource(session, url, coverart.base_url, FAST, contact=CONTACT), "tracks", lookups
        )
    assert {a.status for a in answers.values()} == {"not_found"} and coverart.received == []
