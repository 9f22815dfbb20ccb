"""Fixtures: a sample world, a fresh database file per test, and the emulator serving that world."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from backfill.cli.main import main
from standin import Emulator, EmulatorConfig
from standin.demo import DEMO_PORT
from standin.sample import SampleSpec, World, build_world, write_history

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-do-not-print"
SMALL = SampleSpec(seed=11, tracks=400, artists=120, plays=900)


@pytest.fixture(scope="session")
def world() -> World:
    return build_world(SMALL)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer .env or environment leaks into a test."""
    for var in (
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "BACKFILL_DB",
        "SPOTIFY_API_URL",
        "SPOTIFY_TOKEN_URL",
        "SPOTIFY_OEMBED_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(var, raising=False)
    # Never the real Spotify: a test without the emulator that still reached for oEmbed gets a closed port.
    monkeypatch.setenv("SPOTIFY_OEMBED_URL", "http://127.0.0.1:9/oembed")
    # Tests that watch a run's writes see one each second, not the default one per 10 s.
    monkeypatch.setenv("BACKFILL_WRITE_SECONDS", "1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def demo_port_held() -> Iterator[None]:
    """The demo's default port held by another program, as it may be on a developer's machine: a demo test that
    forgot `--port 0` fails every time, not only on the day something else listens there."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", DEMO_PORT))
        holder.listen()
    except OSError:
        pass  # another program holds it already: just as good
    try:
        yield
    finally:
        holder.close()


@pytest.fixture
def db_path(tmp_path: Path, world: World) -> Path:
    path = tmp_path / "history.duckdb"
    write_history(world, path)
    return path


@contextmanager
def serving(world: World, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[Emulator]:
    """The emulator serving `world`, with the environment pointing the tool at it; options: EmulatorConfig's."""
    emu = Emulator(world.catalog, EmulatorConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options))
    with emu.running_in_thread():
        monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("SPOTIFY_API_URL", emu.api_url)
        monkeypatch.setenv("SPOTIFY_TOKEN_URL", emu.token_url)
        monkeypatch.setenv("SPOTIFY_OEMBED_URL", emu.base_url + "/oembed")
        yield emu


@pytest.fixture
def emulator(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with serving(world, monkeypatch) as emu:
        yield emu


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `backfill ARGS...` in-process; returns exit code and captured output."""

    def run(*args: str) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


# Fast runs. The tests written for the Web API's own behaviour (batch probing, album grouping, quotas) name it;
# AUTO leaves the choice of source to the tool, as a user's run does.
AUTO = ("--rate", "500", "--oembed-rate", "500", "--concurrency", "8")
FAST = (*AUTO, "--source", "api")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def images(path: Path) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """(track uri → album_image_url, artist name → image_url)."""
    tracks = dict(
        table(path, "SELECT spotify_track_uri, album_image_url FROM tracks WHERE spotify_track_uri IS NOT NULL")
    )
    artists = dict(table(path, "SELECT artist_name, image_url FROM artists"))
    return tracks, artists
