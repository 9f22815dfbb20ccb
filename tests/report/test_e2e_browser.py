"""The page of `verify --html` in a real headless chromium, its pictures served by the emulator.

Skipped when chromium is missing, except under `make e2e` (BACKFILL_E2E=1), which installs it and fails
without it. BACKFILL_SCREENSHOT=PATH keeps the screenshot (the README's docs/verify.png comes from here);
BACKFILL_DEMO_SCREENSHOT=PATH keeps the demo page's.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from pathlib import Path
from typing import Any

import duckdb
import pytest

from standin.pictures import image_id
from standin.sample import World
from tests.browser import browser_page, chromium_path, file_url, required
from tests.cli.test_demo import SMALL_DEMO
from tests.cli.test_demo import demo as run_demo
from tests.conftest import FAST, serving, table

pytestmark = pytest.mark.e2e

NASTY = "<b>Tom & \"Jerry\"</b> 'café' </li><img src=x>"
PHONE = 375

# What the page shows for each Top item, as the browser has it.
_READ_ITEMS = """JSON.stringify([...document.querySelectorAll('li.item')].map(li => {
    const img = li.querySelector('img'), ph = li.querySelector('.ph');
    return {kind: li.dataset.kind, rank: li.dataset.rank,
            name: li.querySelector('.name').textContent, by: (li.querySelector('.by') || {}).textContent || null,
            src: img ? img.getAttribute('src') : null, natural: img ? img.naturalWidth : null,
            img_shown: img ? getComputedStyle(img).display !== 'none' : false,
            placeholder_shown: getComputedStyle(ph).display !== 'none', broken: li.classList.contains('broken')};
}))"""


@pytest.fixture
def chromium() -> None:
    if chromium_path() is None:
        if required():
            pytest.fail("chromium is not installed, and `make e2e` needs it")
        pytest.skip("chromium is not installed (`make e2e` installs it)")


def dashboard_top(db: Path, kind: str) -> list[tuple[Any, ...]]:
    """The dashboard's Top queries (its API routes), ties broken by play count and then by name."""
    if kind == "track":
        sql = """SELECT p.track_name, p.artist_name, t.album_image_url, t.spotify_track_uri
                 FROM plays p LEFT JOIN tracks t ON p.spotify_track_uri = t.spotify_track_uri
                 GROUP BY p.track_name, p.artist_name, t.spotify_track_uri, t.album_image_url
                 ORDER BY sum(p.ms_played) DESC, count(*) DESC, p.track_name, p.artist_name, t.spotify_track_uri
                 LIMIT 50"""
    else:
        sql = """SELECT p.artist_name, NULL, a.image_url, a.artist_name
                 FROM plays p LEFT JOIN artists a ON p.artist_name = a.artist_name
                 GROUP BY p.artist_name, a.artist_name, a.spotify_artist_id, a.image_url
                 ORDER BY sum(p.ms_played) DESC, count(*) DESC, p.artist_name LIMIT 50"""
    return table(db, sql)


def spoil_some(db: Path, base: str) -> dict[str, str | None]:
    """Among the top items: one name that needs escaping, one image URL that 404s, one image removed."""
    tracks = [row for row in dashboard_top(db, "track")[:10] if row[2] is not None and row[3] is not None]
    artists = [row for row in dashboard_top(db, "artist")[:10] if row[2] is not None]
    assert len(tracks) >= 3 and len(artists) >= 2
    con = duckdb.connect(str(db))
    try:
        con.execute("UPDATE plays SET track_name = ? WHERE spotify_track_uri = ?", [NASTY, tracks[0][3]])
        con.execute(
            "UPDATE tracks SET album_image_url = ? WHERE spotify_track_uri = ?", [f"{base}/image/nope", tracks[1][3]]
        )
        con.execute("UPDATE tracks SET album_image_url = NULL WHERE spotify_track_uri = ?", [tracks[2][3]])
        con.execute("UPDATE artists SET image_url = NULL WHERE artist_name = ?", [artists[1][0]])
    finally:
        con.close()
    return {"broken": f"{base}/image/nope"}


async def look(page_path: Path) -> dict[str, Any]:
    async with browser_page() as page:
        await page.viewport(1000, 900)
        await page.open(file_url(page_path))
        items = json.loads(await page.evaluate(_READ_ITEMS))
        screenshot = await page.screenshot(height=1300)
        wide_columns = await page.evaluate("getComputedStyle(document.querySelector('ol.top')).gridTemplateColumns")
        await page.viewport(PHONE, 800, mobile=True)
        phone_width = await page.evaluate("document.documentElement.scrollWidth")
        phone_columns = await page.evaluate("getComputedStyle(document.querySelector('ol.top')).gridTemplateColumns")
        return {
            "items": items,
            "events": page.events,
            "screenshot": screenshot,
            "phone_width": phone_width,
            "columns": (len(wide_columns.split()), len(phone_columns.split())),
        }


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_page_in_a_real_browser(
    chromium: None, cli, db_path: Path, world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    widths = {
        image_id(im.url): im.width
        for owner in (*world.catalog.albums.values(), *world.catalog.artists.values())
        for im in owner.images
    }
    with serving(world, monkeypatch, local_images=True) as emu:
        assert cli("run", "--db", db_path, *FAST).code == 0
        spoilt = spoil_some(db_path, emu.base_url)
        page_path = tmp_path / "verify.html"
        assert cli("verify", "--db", db_path, "--html", page_path).code == 0
        seen = asyncio.run(look(page_path))

    events = seen["events"]
    assert events.console_errors == []
    items = seen["items"]
    counts = {"loaded": 0, "broken": 0, "none": 0}
    expected_failures = set()
    for kind in ("track", "artist"):
        shown = [i for i in items if i["kind"] == kind]
        expected = dashboard_top(db_path, kind)
        assert len(shown) == len(expected) == 50
        for rank, (item, (name, artist, url, _)) in enumerate(zip(shown, expected, strict=True), start=1):
            assert item["rank"] == str(rank)
            assert item["name"] == (name or "(no name)") and item["by"] == artist  # escaped, read back exactly
            assert item["src"] == url  # exactly the stored URL
            if url is None:
                counts["none"] += 1
                assert item["placeholder_shown"] and not item["img_shown"]
            elif url.startswith(emu.base_url) and url != spoilt["broken"]:
                counts["loaded"] += 1  # the emulator's picture decoded, at the catalog's width
                assert item["natural"] == (widths[image_id(url)] or 300), item
                assert item["img_shown"] and not item["placeholder_shown"] and not item["broken"]
            else:  # a 404, or a CDN host this offline browser cannot reach
                counts["broken"] += 1
                expected_failures.add(url)
                assert item["natural"] == 0 and item["broken"], item
                assert item["placeholder_shown"] and not item["img_shown"]
    assert any(i["name"] == NASTY for i in items)
    assert counts["loaded"] >= 50 and counts["broken"] >= 1 and counts["none"] >= 2, counts
    assert spoilt["broken"] in expected_failures
    failed = {line.rsplit(": Failed to load resource", 1)[0] for line in events.network_errors}
    assert failed == expected_failures

    assert seen["phone_width"] <= PHONE  # nothing wider than a phone: no sideways scrolling
    assert seen["columns"][0] >= 3 and seen["columns"][1] == 1
    shot = seen["screenshot"]
    assert png_size(shot) == (1000, 1300)
    if target := os.environ.get("BACKFILL_SCREENSHOT"):
        (Path(__file__).parents[2] / target).write_bytes(shot)  # relative to the project, not the test's cwd


@pytest.mark.usefixtures("demo_port_held")
def test_the_demo_page_shows_its_pictures_after_the_demo_has_ended(chromium: None, tmp_path: Path) -> None:
    proc = run_demo(tmp_path, "demo", *SMALL_DEMO)  # returns when the demo, and so its emulator, has stopped
    assert proc.returncode == 0, proc.stderr
    page_path = tmp_path / "data" / "demo.html"
    seen = asyncio.run(look(page_path))
    with_url = [i for i in seen["items"] if i["src"] is not None]
    assert len(with_url) >= 20
    for item in with_url:  # every picture decoded from the page itself: nothing is left to load from a server
        assert item["natural"] > 0 and item["img_shown"] and not item["broken"], item
    assert seen["events"].network_errors == [] and seen["events"].console_errors == []
    if target := os.environ.get("BACKFILL_DEMO_SCREENSHOT"):
        (Path(__file__).parents[2] / target).write_bytes(seen["screenshot"])
