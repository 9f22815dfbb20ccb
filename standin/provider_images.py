"""The picture files behind the stand-in providers' image URLs, for pages shown with no network.

Each image id gets its own picture at the size its file name asks for (`250x250-...jpg`, `..._thumb500.jpg`);
Deezer's placeholder (an empty id) is a plain grey square, as its silhouette is the same for every artist.
"""

from __future__ import annotations

import re

from aiohttp import web

from standin.pictures import picture, png

_SIZE = re.compile(r"(?:^(\d+)x\d+-|_thumb(\d+)\.|-(\d+)\.jpg$)")
_DEFAULT = 500
_MAX = 1200


def picture_response(image_id: str, file_name: str, *, artist: bool = False) -> web.Response:
    match = _SIZE.search(file_name)
    size = next((int(g) for g in match.groups() if g), _DEFAULT) if match else _DEFAULT
    size = max(8, min(size, _MAX))
    body = picture(image_id, size, artist=artist) if image_id else png(size, size, [b"\xc8" * (3 * size)] * size)
    return web.Response(body=body, content_type="image/png", headers={"Cache-Control": "max-age=86400"})
