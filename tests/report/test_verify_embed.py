"""`verify --html --embed-images`: what is put inside the page, and what keeps its stored URL.

A small picture host on 127.0.0.1 serves one case per path; the page is read back as the browser reads it.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from backfill.sources.pictures import MAX_PICTURE
from standin.hosting import Hosted
from standin.pictures import picture
from tests.conftest import digest
from tests.report.test_verify_html import make_history

PNG = picture("a" * 40, 64)
CASES = ("ok", "moved", "missing", "html", "svg", "big", "big-chunked", "mute")


class PictureHost(Hosted):
    def __init__(self) -> None:
        super().__init__()
        self.asked: Counter[str] = Counter()
        self.app.router.add_get("/{case}", self._serve)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        case = request.match_info["case"]
        self.asked[case] += 1
        if case == "ok":
            return web.Response(body=PNG, content_type="image/png")
        if case == "moved":
            raise web.HTTPFound("/ok")
        if case == "html":
            return web.Response(text="<html>not a picture</html>", content_type="text/html")
        if case == "svg":
            return web.Response(text="<svg onload='alert(1)'/>", content_type="image/svg+xml")
        if case == "big":  # a valid picture padded past the cap, its length announced
            return web.Response(body=PNG + bytes(MAX_PICTURE), content_type="image/png")
        if case == "big-chunked":  # the same without a length: only counting what arrives finds it
            response = web.StreamResponse(headers={"Content-Type": "image/png"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(PNG)
            for _ in range(MAX_PICTURE // 65536 + 2):
                await response.write(bytes(65536))
            await response.write_eof()
            return response
        if case == "mute":
            await asyncio.sleep(30)
        # Some hosts answer a missing picture with a picture of their own: the status decides, not the type.
        return web.Response(status=404, body=PNG, content_type="image/png")


@pytest.fixture
def host() -> Iterator[PictureHost]:
    with PictureHost().running_in_thread() as served:
        yield served


def history(tmp_path: Path, urls: list[str]) -> Path:
    uris = [f"spotify:track:{chr(ord('A') + i) * 22}" for i in range(len(urls))]
    return make_history(
        tmp_path / "h.duckdb",
        [(uri, f"Song {i}", "Ann", url) for i, (uri, url) in enumerate(zip(uris, urls, strict=True))],
        [("Ann", "a" * 22, urls[0])],
        [(uri, f"Song {i}", "Ann", 60_000 * (len(uris) - i)) for i, uri in enumerate(uris)],
    )


def pictures(page: str) -> dict[str, str]:
    """Stored URL -> what the <img> shows, for every picture on the page."""
    shown = {}
    for tag in re.findall(r"<img [^>]*>", page):
        src = re.search(r' src="([^"]*)"', tag)
        stored = re.search(r' data-url="([^"]*)"', tag)
        assert src is not None
        shown[stored.group(1) if stored else src.group(1)] = src.group(1)
    return shown


def test_only_small_raster_pictures_are_put_inside_the_page(
    cli, host: PictureHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKFILL_EMBED_TIMEOUT", "0.5")  # for the mute case: the page is written all the same
    local = tmp_path / "pic.png"
    local.write_bytes(PNG)
    urls = [f"{host.base_url}/{case}" for case in CASES] + [local.as_uri()]
    db = history(tmp_path, urls)
    before = digest(db)
    out = tmp_path / "page.html"
    result = cli("verify", "--db", db, "--html", out, "--embed-images")
    assert result.code == 0, result.err
    assert digest(db) == before  # nothing written to the database
    shown = pictures(out.read_text(encoding="utf-8"))
    assert set(shown) == set(urls)
    embedded = {url for url, src in shown.items() if src != url}
    assert embedded == {f"{host.base_url}/ok", f"{host.base_url}/moved"}
    for url in embedded:
        assert shown[url] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert host.asked["ok"] == 2  # once for itself, once behind the redirect: each URL is fetched once
    assert f"Embedded 2 of {len(urls)} pictures in the page; {len(urls) - 2} kept their URL" in result.err


def test_without_the_option_nothing_is_fetched(cli, host: PictureHost, tmp_path: Path) -> None:
    url = f"{host.base_url}/ok"
    db = history(tmp_path, [url])
    out = tmp_path / "page.html"
    assert cli("verify", "--db", db, "--html", out).code == 0
    assert pictures(out.read_text(encoding="utf-8")) == {url: url}
    assert host.asked == Counter()


def test_embed_images_needs_a_page(cli, db_path: Path) -> None:
    result = cli("verify", "--db", db_path, "--embed-images")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "backfill: error: --embed-images needs --html PATH (it puts the pictures inside that page)"
    ]
    assert result.out == ""
