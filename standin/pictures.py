"""The pictures behind the emulator's image URLs: small PNGs made with the standard library only.

Every album and every artist gets its own look (a mirrored 5 by 5 pattern in colours derived from its id), the
same at each of its sizes, as a real cover is; each picture is as wide as the catalog says that image is.
An image id the catalog does not know still gets a picture when it is well formed (40 hex digits, like a
real one), sized by Spotify's size prefix when it has a known one: so pages whose URLs were stored by an
earlier emulator (another port, another catalog size) still show pictures.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
import struct
import zlib
from collections import OrderedDict
from typing import Final

from standin.catalog import Catalog

IMAGE_PATH: Final = "/image/"
_ID_RE: Final = re.compile(r"[0-9a-f]{40}")
DEFAULT_WIDTH: Final = 300  # for an unsized catalog entry and an id without a known size prefix
MAX_WIDTH: Final = 2000
# spotify-facts.md: the id is a size prefix and a tail shared by every size of one image.
SIZE_PREFIXES: Final = {
    "ab67616d0000b273": 640,
    "ab67616d00001e02": 300,
    "ab67616d00004851": 64,
    "ab6761610000e5eb": 640,
    "ab67616100005174": 320,
    "ab6761610000f178": 160,
}
_GRID = 5
_CACHE_SIZE = 512


def image_id(url: str) -> str | None:
    """The id in an image URL (`https://i.scdn.co/image/<id>`), or None for another kind of URL."""
    head, sep, tail = url.rpartition(IMAGE_PATH)
    return tail if sep and head and tail and "/" not in tail else None


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from `height` rows of `3 * width` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (none) on each row
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def _rgb(hue: float, lightness: float, saturation: float) -> bytes:
    return bytes(round(255 * c) for c in colorsys.hls_to_rgb(hue, lightness, saturation))


def picture(seed: str, width: int, *, artist: bool = False) -> bytes:
    """A square PNG `width` px wide whose colours and pattern follow from `seed` alone."""
    digest = hashlib.sha256(seed.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    fg = _rgb(hue, 0.45, 0.65)
    bg = _rgb((hue + 0.3 + digest[2] / 640) % 1.0, 0.88 if artist else 0.22, 0.35)
    bits = int.from_bytes(digest[3:7], "big")
    # The left three columns from the digest, mirrored onto the right two: a symmetric, face-like pattern.
    cells = [[bool(bits >> (r * 3 + min(c, _GRID - 1 - c)) & 1) for c in range(_GRID)] for r in range(_GRID)]
    cell = max(1, width // (_GRID + 1))
    margin = (width - cell * _GRID) // 2
    left, right = bg * margin, bg * (width - margin - cell * _GRID)
    blank = bg * width
    rows = [blank] * margin
    for row in cells:
        line = left + b"".join((fg if on else bg) * cell for on in row) + right
        rows += [line] * cell
    rows += [blank] * (width - len(rows))
    return png(width, width, rows)


class Pictures:
    """Image id → PNG bytes for one catalog, the most recent ones cached."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._index: dict[str, tuple[str, int | None, bool]] | None = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()

    def _owner(self, id_: str) -> tuple[str, int | None, bool] | None:
        if self._index is None:  # built on the first image request: API-only runs never pay for it
            index: dict[str, tuple[str, int | None, bool]] = {}
            for album in self.catalog.albums.values():
                for im in album.images:
                    if key := image_id(im.url):
                        index[key] = (album.id, im.width, False)
            for art in self.catalog.artists.values():
                for im in art.images:
                    if key := image_id(im.url):
                        index[key] = (art.id, im.width, True)
            self._index = index
        return self._index.get(id_)

    def get(self, id_: str) -> bytes | None:
        """The picture for an image id, or None when no such image can exist (a malformed id)."""
        cached = self._cache.get(id_)
        if cached is not None:
            self._cache.move_to_end(id_)
            return cached
        owner = self._owner(id_)
        if owner is not None:
            seed, width, artist = owner
        elif _ID_RE.fullmatch(id_):
            seed, width, artist = id_[16:], SIZE_PREFIXES.get(id_[:16]), id_.startswith("ab676161")
        else:
            return None
        body = picture(seed, min(MAX_WIDTH, max(8, width or DEFAULT_WIDTH)), artist=artist)
        self._cache[id_] = body
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return body
