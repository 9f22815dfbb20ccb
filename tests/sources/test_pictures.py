"""The emulator's image files: one generated PNG per image URL, distinct per album and per artist."""

from __future__ import annotations

import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

from standin import Emulator
from standin.pictures import image_id
from standin.sample import World
from tests.conftest import FAST, images, serving


def fetch(url: str) -> tuple[int, str, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # local, whatever proxy is set
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def decode(png: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, RGB rows) of an 8-bit truecolour PNG, read independently of the generator."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + data)
        chunks[kind] = chunks.get(kind, b"") + data
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 3 * width
    assert len(raw) == height * stride
    rows = [raw[i * stride : (i + 1) * stride] for i in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter type none
    return width, height, [row[1:] for row in rows]


def test_pictures_distinct_per_album_and_artist_sized_as_the_catalog_says(emulator: Emulator, world: World) -> None:
    albums = [a for a in world.catalog.albums.values() if len(a.images) >= 2 and a.images[0].width][:6]
    artists = [a for a in world.catalog.artists.values() if a.images and a.images[0].width][:6]
    assert len(albums) == len(artists) == 6
    looks = set()
    for owner in (*albums, *artists):
        pixels = set()
        for im in owner.images:
            status, kind, body = fetch(f"{emulator.base_url}/image/{image_id(im.url)}")
            assert (status, kind) == (200, "image/png")
            width, height, rows = decode(body)
            assert width == height == (im.width or 300)
            # Every size shows the same picture: compare the colours used.
            pixels.add(frozenset(row[i : i + 3] for row in rows for i in range(0, len(row), 3)))
        assert len(pixels) == 1
        looks.add(next(iter(pixels)))
    assert len(looks) == 12  # no two owners alike
    assert emulator.api() == []  # image files are not API traffic: no token, not counted


def test_every_album_and_artist_of_the_world_looks_different(world: World) -> None:
    emu = Emulator(world.catalog)
    owners = [o for o in (*world.catalog.albums.values(), *world.catalog.artists.values()) if o.images]
    smallest = [min(o.images, key=lambda im: im.width or 300) for o in owners]
    looks = {emu.pictures.get(image_id(im.url) or "") for im in smallest if (im.width or 300) == 64}
    assert len(looks) == sum((im.width or 300) == 64 for im in smallest) > 40
    assert None not in looks


@pytest.mark.parametrize(
    ("id_", "status", "width"),
    [
        ("ab67616d00001e02" + "7" * 24, 200, 300),  # a real-looking album id: its size prefix says 300
        ("ab67616100005174" + "7" * 24, 200, 320),
        ("f" * 40, 200, 300),  # well formed, unknown size
        ("nope", 404, None),
        ("F" * 40, 404, None),
    ],
)
def test_ids_the_catalog_does_not_know(emulator: Emulator, id_: str, status: int, width: int | None) -> None:
    got, _, body = fetch(f"{emulator.base_url}/image/{id_}")
    assert got == status
    if width:
        assert decode(body)[0] == width


def test_local_images_puts_image_urls_on_the_emulator(
    cli, db_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_tracks, before_artists = images(db_path)
    with serving(world, monkeypatch, local_images=True) as emu:
        assert cli("run", "--db", db_path, *FAST).code == 0
        tracks, artists = images(db_path)
        fetched = [u for k, u in tracks.items() if u and before_tracks[k] is None]
        fetched += [u for k, u in artists.items() if u and before_artists[k] is None]
        assert len(fetched) > 100
        for url in fetched:
            assert url.startswith(emu.base_url + "/image/")
        for url in fetched[:20]:  # each one is there to load
            assert fetch(url)[0] == 200
    # Prefilled values are the user's and stay as they were.
    assert all(tracks[k] == v for k, v in before_tracks.items() if v is not None)


def test_image_urls_stay_spotify_cdn_urls_by_default(cli, db_path: Path, emulator: Emulator) -> None:
    assert cli("run", "--db", db_path, *FAST).code == 0
    tracks, _ = images(db_path)
    assert not any(u and u.startswith(emulator.base_url) for u in tracks.values())
