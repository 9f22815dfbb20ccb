"""`backfill demo` writes only its own files, says what it wrote, and how to run it again."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from standin.provider_world import ProviderWorldSpec, build_provider_world
from tests.conftest import digest, table
from tests.report.test_verify_html import Items

# --port 0: any free port, so the tests never depend on the default port (8765) being free; they run with it held.
# --no-fallback: the Deezer stand-in's part (paced at Deezer's 10 requests a second) is tested once, below.
pytestmark = pytest.mark.usefixtures("demo_port_held")
WITH_FALLBACK = ("--tracks", "150", "--artists", "40", "--plays", "300", "--rate", "500", "--port", "0")
SMALL_DEMO = (*WITH_FALLBACK, "--no-fallback")


def demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS")}
    return subprocess.run(
        [sys.executable, "-m", "backfill", *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


@pytest.mark.parametrize("kind", ["history", "text", "directory", "orphan wal"])
def test_the_demo_never_replaces_a_file_it_did_not_make(cli, db_path: Path, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "mine" / "spotify.duckdb"
    target.parent.mkdir()
    if kind == "history":
        shutil.copy(db_path, target)
    elif kind == "text":
        target.write_text("not a database")
    elif kind == "directory":
        target.mkdir()
    else:
        target.with_name(target.name + ".wal").write_bytes(b"someone's log")
    before = {p.name: digest(p) for p in target.parent.iterdir() if p.is_file()}
    result = cli("demo", "--db", target, *SMALL_DEMO)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backfill: error: ") and "--db" in lines[0], result.err
    assert result.out == ""
    assert {p.name: digest(p) for p in target.parent.iterdir() if p.is_file()} == before
    assert target.is_dir() == (kind == "directory")


def test_the_demo_replaces_its_own_file_and_says_how_it_was_started(tmp_path: Path) -> None:
    for args in (["demo", "--db", "d.duckdb", *SMALL_DEMO], ["--db", "d.duckdb", "demo", *SMALL_DEMO]):
        proc = demo(tmp_path, *args)
        assert proc.returncode == 0, proc.stderr
        assert f"Run `python -m backfill {' '.join(args)}` again" in proc.stdout
        assert not re.search(r"make demo(?![-\w])", proc.stdout)  # `make demo-images` is another command
    # The counts announced are the table's rows, the ones verify shows.
    announced = re.search(r"\(([\d,]+) tracks, ([\d,]+) artists\)", proc.stdout)
    assert announced is not None
    totals = re.findall(r"Total:\s+([\d,]+)", proc.stdout)
    assert list(announced.groups()) == totals


def test_under_make_the_demo_says_make(tmp_path: Path) -> None:
    env = {**os.environ, "MAKELEVEL": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "backfill", "demo", *SMALL_DEMO], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Run `make demo ARGS='{' '.join(SMALL_DEMO)}'` again" in proc.stdout


def test_the_demo_uses_no_credentials_from_a_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SPOTIFY_CLIENT_ID=mine\nSPOTIFY_CLIENT_SECRET=my-secret\n")
    below = tmp_path / "sub"
    below.mkdir()
    proc = demo(below, "demo", *SMALL_DEMO)
    assert proc.returncode == 0, proc.stderr
    assert "Answered by:" in proc.stdout and "Web API" not in proc.stdout.split("Answered by:")[1].split("\n")[0]


@pytest.fixture(scope="module")
def with_fallback(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One whole demo, Deezer's part included, for the tests below (the Deezer stand-in is paced as Deezer is)."""
    where = tmp_path_factory.mktemp("demo")
    return where, demo(where, "demo", *WITH_FALLBACK)


def test_the_demo_page_carries_its_pictures_after_the_emulator_has_stopped(
    with_fallback: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    tmp_path, proc = with_fallback
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "data" / "demo.html").read_text(encoding="utf-8")
    items = Items()
    items.feed(page)
    shown = [i for i in items.items if i["src"] is not None]
    assert len(shown) >= 20
    db = tmp_path / "data" / "demo.duckdb"
    stored = {row[0] for row in table(db, "SELECT album_image_url FROM tracks UNION SELECT image_url FROM artists")}
    # The database keeps the stand-ins' http URLs (Spotify's, and Deezer's for what only Deezer could fill);
    # only the page holds the pictures themselves.
    spotify = r"http://127\.0\.0\.1:\d+/image/[0-9a-f]{40}"
    deezer = r"http://127\.0\.0\.1:\d+/images/(cover|artist)/[0-9a-f]{32}/250x250-000000-80-0-0\.jpg"
    assert all(url is None or re.fullmatch(f"{spotify}|{deezer}", url) for url in stored)
    urls = re.findall(r'<img src="([^"]*)" data-url="([^"]*)"', page)
    assert len(urls) == len(shown)  # every picture on the page is inside it, none left to a server that is gone
    for src, url in urls:
        assert url in stored
        head, _, data = src.partition(",")
        assert head.startswith("data:image/") and head.endswith(";base64")
        assert base64.b64decode(data, validate=True)[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")
    assert "its pictures are inside it" in proc.stdout
    assert any("/images/" in u for _, u in urls), "the page shows what Deezer filled"


def test_the_demo_fills_from_deezer_only_what_spotify_cannot_and_only_the_right_pictures(
    with_fallback: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    tmp_path, proc = with_fallback
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"a Deezer stand-in at (http://127\.0\.0\.1:\d+)", proc.stdout)
    assert found is not None, proc.stdout
    host = found.group(1)
    db = tmp_path / "data" / "demo.duckdb"
    by_deezer = table(
        db,
        "SELECT p.kind, p.row_key, coalesce(t.album_image_url, a.image_url) FROM backfill_provenance p "
        "LEFT JOIN tracks t ON p.kind = 'track' AND t.spotify_track_uri = p.row_key "
        "LEFT JOIN artists a ON p.kind = 'artist' AND a.artist_name = p.row_key WHERE p.source = 'deezer'",
    )
    world = build_provider_world(ProviderWorldSpec(filler=0))
    tracks = [(key, url) for kind, key, url in by_deezer if kind == "track"]
    artists = [(key, url) for kind, key, url in by_deezer if kind == "artist"]
    assert tracks and artists
    assert all(url == world.deezer_cover_url(key, host=host) for key, url in tracks)
    assert all(url == world.deezer_picture_url(key, host=host) for key, url in artists)
    # Deezer wrote exactly the rows the world has a Deezer cover for: none of the rows Spotify filled.
    assert {k for k, _ in tracks} == {r.uri for r in world.history if world.deezer_cover_url(r.uri)}
    assert re.search(r"Deezer: [\d,]+ asked", proc.stdout) and "Tracks filled:" in proc.stdout
