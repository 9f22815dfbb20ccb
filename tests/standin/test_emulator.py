"""The Spotify emulator answers like the real Web API (spotify-facts.md), faults and limits included."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from standin import Emulator, EmulatorConfig
from standin.catalog import Album, Artist, Catalog, Image, Track


def sid(prefix: str, n: int = 0) -> str:
    """A well-formed 22-character base-62 id."""
    return f"{prefix}{n:0{22 - len(prefix)}d}"


ARTIST = sid("artist", 1)
ARTIST_NULL_SIZES = sid("artist", 2)
ARTIST_NO_IMAGES = sid("artist", 3)
ALBUM = sid("album", 1)
BIG_ALBUM = sid("album", 2)
TRACKS = [sid("track", n) for n in range(3)]
UNKNOWN = sid("nothere")
MALFORMED = "not-an-id"
SIZED = [Image(f"https://i.scdn.co/image/{n:040x}", w, w) for n, w in enumerate((640, 320, 160))]


@pytest.fixture
def catalog() -> Catalog:
    cat = Catalog()
    cat.add_artist(Artist(ARTIST, "Sized", list(SIZED), genres=["indie"], followers=12, popularity=40))
    cat.add_artist(Artist(ARTIST_NULL_SIZES, "Unsized", [Image("https://image-cdn-ak.spotifycdn.com/x", None, None)]))
    cat.add_artist(Artist(ARTIST_NO_IMAGES, "Faceless", []))
    cat.add_album(
        Album(ALBUM, "Small", [ARTIST], list(SIZED)),
        [Track(t, f"Song {n}", "", [ARTIST, ARTIST_NULL_SIZES], popularity=50) for n, t in enumerate(TRACKS)],
    )
    cat.add_album(
        Album(BIG_ALBUM, "Big", [ARTIST_NO_IMAGES], [], release_date="1999"),
        [Track(sid("big", n), f"Big {n}", "", [ARTIST_NO_IMAGES]) for n in range(120)],
    )
    return cat


@pytest.fixture
async def emu(catalog: Catalog) -> AsyncIterator[Emulator]:
    async with Emulator(catalog) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def basic(client_id: str = "emulator-client-id", secret: str = "emulator-client-secret") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def bearer(http: aiohttp.ClientSession, emu: Emulator) -> dict[str, str]:
    async with http.post(emu.token_url, data={"grant_type": "client_credentials"}, headers=basic()) as resp:
        assert resp.status == 200
        return {"Authorization": f"Bearer {(await resp.json())['access_token']}"}


async def get(
    http: aiohttp.ClientSession, emu: Emulator, path: str, headers: dict[str, str]
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.get(emu.api_url + path, headers=headers) as resp:
        assert resp.content_type == "application/json"
        assert resp.charset == "utf-8"
        return resp.status, await resp.json(), resp


async def test_token_success_and_errors(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.post(emu.token_url, data={"grant_type": "client_credentials"}, headers=basic()) as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]

    form = {"grant_type": "client_credentials", "client_id": "emulator-client-id"}
    async with http.post(emu.token_url, data=form | {"client_secret": "emulator-client-secret"}) as resp:
        assert resp.status == 200  # credentials in the form work too

    async with http.post(
        emu.token_url, data={"grant_type": "client_credentials"}, headers=basic(secret="wrong")
    ) as resp:
        assert resp.status == 400
        assert await resp.json() == {"error": "invalid_client", "error_description": "Invalid client"}
    async with http.post(emu.token_url, data={"grant_type": "client_credentials"}) as resp:
        assert (resp.status, (await resp.json())["error"]) == (400, "invalid_client")
    async with http.post(emu.token_url, data={"grant_type": "password"}, headers=basic()) as resp:
        assert (resp.status, (await resp.json())["error"]) == (400, "unsupported_grant_type")

    assert [r.status for r in emu.token_requests()] == [200, 200, 400, 400, 400]
    assert emu.api() == []


async def test_401_without_token_and_after_expiry(emu: Emulator, http: aiohttp.ClientSession) -> None:
    path = f"/tracks/{TRACKS[0]}"
    status, body, resp = await get(http, emu, path, {})
    assert status == 401
    assert body == {"error": {"status": 401, "message": "Missing/invalid/expired access token"}}
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="spotify", error="invalid_token"'
    assert (await get(http, emu, path, {"Authorization": "Bearer made-up"}))[0] == 401

    auth = await bearer(http, emu)
    assert (await get(http, emu, path, auth))[0] == 200
    emu.expire_tokens()
    assert (await get(http, emu, path, auth))[0] == 401
    fresh = await bearer(http, emu)
    assert (await get(http, emu, path, fresh))[0] == 200
    assert [(r.status, r.token is not None) for r in emu.api()] == [
        (401, False),
        (401, True),
        (200, True),
        (401, True),
        (200, True),
    ]


async def test_same_token_fault_hands_out_one_refused_token_for_its_count(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.config.token_fault = "same-token"
    emu.config.token_fault_count = 2
    path = f"/tracks/{TRACKS[0]}"
    first, second, mended = [await bearer(http, emu) for _ in range(3)]
    assert first == second != mended
    assert [(await get(http, emu, path, auth))[0] for auth in (first, second, mended)] == [401, 401, 200]


async def test_batch_keeps_order_with_null_for_unknown(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    ids = [TRACKS[2], UNKNOWN, TRACKS[0]]
    status, body, _ = await get(http, emu, "/tracks?ids=" + ",".join(ids), auth)
    assert status == 200
    assert [t and t["id"] for t in body["tracks"]] == [TRACKS[2], None, TRACKS[0]]
    track = body["tracks"][0]
    assert track["album"]["id"] == ALBUM and track["album"]["images"][1]["width"] == 320
    assert track["href"] == f"{emu.api_url}/tracks/{TRACKS[2]}"
    assert all("images" not in a for a in track["artists"] + track["album"]["artists"])

    status, body, _ = await get(http, emu, f"/artists?ids={ARTIST_NO_IMAGES},{UNKNOWN},{ARTIST}", auth)
    assert status == 200 and [a and a["name"] for a in body["artists"]] == ["Faceless", None, "Sized"]
    status, body, _ = await get(http, emu, f"/albums?ids={BIG_ALBUM},{UNKNOWN}", auth)
    assert status == 200 and body["albums"][0]["tracks"]["total"] == 120 and body["albums"][1] is None
    assert emu.api()[0].endpoint == "tracks" and emu.api()[0].ids == tuple(ids)


async def test_single_item_404_and_malformed_400(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    for kind in ("tracks", "artists", "albums"):
        status, body, _ = await get(http, emu, f"/{kind}/{UNKNOWN}", auth)
        assert (status, body) == (404, {"error": {"status": 404, "message": "non existing id"}})
        status, body, _ = await get(http, emu, f"/{kind}/{MALFORMED}", auth)
        assert (status, body) == (400, {"error": {"status": 400, "message": "invalid id"}})


async def test_batch_with_a_malformed_id_or_too_many_fails(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    status, body, _ = await get(http, emu, f"/tracks?ids={TRACKS[0]},{MALFORMED}", auth)
    assert (status, body["error"]["message"]) == (400, "invalid id")
    status, body, _ = await get(http, emu, "/tracks?ids=" + ",".join([TRACKS[0]] * 51), auth)
    assert (status, body["error"]["message"]) == (400, "Too many ids requested")
    assert (await get(http, emu, "/albums?ids=" + ",".join([ALBUM] * 20), auth))[0] == 200
    assert (await get(http, emu, "/albums?ids=" + ",".join([ALBUM] * 21), auth))[0] == 400


async def test_dev_mode_forbids_batches_and_drops_fields(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    _, full, _ = await get(http, emu, f"/tracks/{TRACKS[0]}", auth)
    assert {"popularity", "external_ids", "available_markets"} <= full.keys()

    emu.config.dev_mode = True
    for path in (f"/tracks?ids={TRACKS[0]}", f"/artists?ids={ARTIST}", f"/albums?ids={ALBUM}"):
        status, body, _ = await get(http, emu, path, auth)
        assert (status, body) == (403, {"error": {"status": 403, "message": "Forbidden"}})

    status, track, _ = await get(http, emu, f"/tracks/{TRACKS[0]}", auth)
    assert status == 200 and track["album"]["images"] == full["album"]["images"]
    assert not {"popularity", "external_ids", "available_markets", "linked_from"} & track.keys()
    assert "available_markets" not in track["album"]
    status, artist, _ = await get(http, emu, f"/artists/{ARTIST}", auth)
    assert status == 200 and artist["images"] and not {"popularity", "followers"} & artist.keys()
    status, album, _ = await get(http, emu, f"/albums/{ALBUM}", auth)
    assert status == 200 and not {"popularity", "label", "external_ids", "available_markets"} & album.keys()
    assert "available_markets" not in album["tracks"]["items"][0]


async def test_album_paging(emu: Emulator, http: aiohttp.ClientSession, catalog: Catalog) -> None:
    auth = await bearer(http, emu)
    status, album, _ = await get(http, emu, f"/albums/{BIG_ALBUM}", auth)
    assert status == 200 and album["release_date_precision"] == "year" and album["total_tracks"] == 120
    page = album["tracks"]
    seen, offsets = [], []
    while True:
        assert (page["limit"], page["total"]) == (50, 120)
        offsets.append(page["offset"])
        seen += [t["id"] for t in page["items"]]
        if page["next"] is None:
            break
        assert page["next"].startswith(emu.api_url + f"/albums/{BIG_ALBUM}/tracks?")
        async with http.get(page["next"], headers=auth) as resp:
            assert resp.status == 200
            page = await resp.json()
    assert offsets == [0, 50, 100] and seen == catalog.albums[BIG_ALBUM].track_ids
    assert page["previous"] is not None and len(page["items"]) == 20

    _, default, _ = await get(http, emu, f"/albums/{BIG_ALBUM}/tracks?offset=110", auth)
    assert (default["limit"], len(default["items"]), default["next"]) == (20, 10, None)
    assert (await get(http, emu, f"/albums/{BIG_ALBUM}/tracks?limit=51", auth))[0] == 400
    assert (await get(http, emu, f"/albums/{UNKNOWN}/tracks", auth))[0] == 404


async def test_images_served_as_is(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    _, body, _ = await get(http, emu, f"/artists?ids={ARTIST},{ARTIST_NULL_SIZES},{ARTIST_NO_IMAGES}", auth)
    sized, unsized, faceless = body["artists"]
    assert sized["images"] == [{"url": i.url, "height": i.height, "width": i.width} for i in SIZED]
    assert unsized["images"] == [{"url": "https://image-cdn-ak.spotifycdn.com/x", "height": None, "width": None}]
    assert faceless["images"] == []
    _, album, _ = await get(http, emu, f"/albums/{BIG_ALBUM}", auth)
    assert album["images"] == []


async def test_rate_limit_429_and_penalty(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    emu.config.rate_limit = 3
    path = f"/tracks/{TRACKS[0]}"
    statuses = [(await get(http, emu, path, auth))[0] for _ in range(3)]
    assert statuses == [200, 200, 200]

    status, body, resp = await get(http, emu, path, auth)
    assert (status, body) == (429, {"error": {"status": 429, "message": "API rate limit exceeded"}})
    first_wait = resp.headers["Retry-After"]
    assert first_wait.isdigit() and 1 <= int(first_wait) <= 30

    status, _, resp = await get(http, emu, path, auth)  # during the penalty: counted, and lengthens it
    assert status == 429 and resp.headers["Retry-After"].isdigit()
    records = emu.api()
    assert [r.in_penalty for r in records] == [False, False, False, False, True]
    ((start, end),) = emu.penalties()
    assert start == records[3].at
    assert end == pytest.approx(start + int(first_wait) + emu.config.penalty_extension)


async def test_quota_exceeded(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    emu.config.quota = 2
    assert (await get(http, emu, f"/tracks/{UNKNOWN}", auth))[0] == 404  # any status uses quota
    assert (await get(http, emu, f"/tracks/{TRACKS[0]}", auth))[0] == 200
    status, body, resp = await get(http, emu, f"/tracks/{TRACKS[0]}", auth)
    assert status == 429 and resp.headers["Retry-After"] == "79892"
    assert body == {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}
    assert emu.penalties() == []  # not a rate-limit penalty

    emu.new_day()  # the quota counts again from zero
    assert (await get(http, emu, f"/tracks/{TRACKS[0]}", auth))[0] == 200
    assert (await get(http, emu, f"/tracks/{TRACKS[0]}", auth))[0] == 200
    assert (await get(http, emu, f"/tracks/{TRACKS[0]}", auth))[0] == 429


async def test_inject_then_success(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    emu.inject(404, endpoint="artist")
    emu.inject(503)
    status, body, _ = await get(http, emu, f"/tracks/{TRACKS[0]}", auth)
    assert (status, body) == (503, {"error": {"status": 503, "message": "Service unavailable"}})
    assert (await get(http, emu, f"/tracks/{TRACKS[0]}", auth))[0] == 200  # 404 waits for an artist call
    assert (await get(http, emu, f"/artists/{ARTIST}", auth))[0] == 404
    assert (await get(http, emu, f"/artists/{ARTIST}", auth))[0] == 200

    emu.inject((429, 7))
    status, _, resp = await get(http, emu, f"/artists/{ARTIST}", auth)
    assert (status, resp.headers["Retry-After"]) == (429, "7")
    assert len(emu.penalties()) == 1 and emu.penalties()[0][1] - emu.penalties()[0][0] == pytest.approx(7)
    assert (await get(http, emu, f"/artists/{ARTIST}", auth))[0] == 429
    assert emu.api()[-1].in_penalty


async def test_error_rate_gives_spotify_5xx(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    emu.config.error_rate = 1.0
    for _ in range(5):
        status, body, _ = await get(http, emu, f"/tracks/{TRACKS[0]}", auth)
        assert status in {500, 502, 503, 504} and body["error"]["status"] == status


async def test_drop_is_a_client_side_connection_error(emu: Emulator, http: aiohttp.ClientSession) -> None:
    auth = await bearer(http, emu)
    url = f"{emu.api_url}/tracks/{TRACKS[0]}"
    # aiohttp retries an idempotent request once after a disconnect, so one drop goes unnoticed ...
    emu.inject("drop")
    async with http.get(url, headers=auth) as resp:
        assert resp.status == 200
    # ... and two in a row reach the caller.
    emu.inject("drop", "drop")
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        async with http.get(url, headers=auth):
            pass
    async with http.get(url, headers=auth) as resp:
        assert resp.status == 200
    assert [r.status for r in emu.api()] == [0, 200, 0, 0, 200]


async def test_drop_rate_drops(emu: Emulator) -> None:
    emu.config.drop_rate = 1.0
    # A fresh session per call: no pooled connection to confuse with the drop.
    async with aiohttp.ClientSession() as http:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            async with http.get(f"{emu.api_url}/tracks/{TRACKS[0]}"):
                pass
    assert {r.status for r in emu.api()} == {0}


@pytest.fixture
def threaded(catalog: Catalog) -> Iterator[Emulator]:
    with Emulator(catalog, EmulatorConfig(client_id="me", client_secret="pw")).running_in_thread() as emulator:
        yield emulator


def test_running_in_thread_serves_sync_clients(threaded: Emulator) -> None:
    request = urllib.request.Request(
        threaded.token_url, data=b"grant_type=client_credentials", headers=basic("me", "pw"), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        token = json.load(resp)["access_token"]
    request = urllib.request.Request(
        f"{threaded.api_url}/artists/{ARTIST}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert json.load(resp)["name"] == "Sized"
    assert [r.endpoint for r in threaded.received] == ["token", "artist"]


def test_cli_prints_its_address() -> None:
    pytest.importorskip("standin.sample")
    proc = subprocess.Popen(
        [sys.executable, "-m", "standin", "--port", "0", "--tracks", "20", "--artists", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("emulator listening on http://127.0.0.1:")
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        if proc.stdout is not None:
            proc.stdout.close()


def test_inject_rejects_unknown_outcomes(catalog: Catalog) -> None:
    with pytest.raises(ValueError):
        Emulator(catalog).inject("explode")


async def test_a_trailing_slash_is_the_same_endpoint_as_spotify_answers_it(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, emu)
    async with http.get(f"{emu.api_url}/tracks/", params={"ids": TRACKS[0]}, headers=headers) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["tracks"][0]["id"] == TRACKS[0]
