"""Opening a history with the fallback selection, and what its plan and queues say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from backfill.records import MissFilter, Outcome, Plan
from backfill.store.fallback import Ask, Fallback
from backfill.store.store import Store

PROVIDERS = ("deezer", "musicbrainz")


def fallback_store(path: Path, misses: MissFilter | None = None, *, read_only: bool = False) -> Store:
    return Store.open(path, read_only=read_only, selection=Fallback(PROVIDERS, misses or MissFilter()))


def asks(path: Path, misses: MissFilter | None = None) -> tuple[Plan, dict[str, dict[str, Ask]]]:
    """The plan, and per kind ('track', 'artist') the rows queued, by key, in queue order."""
    store = fallback_store(path, misses, read_only=True)
    try:
        plan = store.plan()
        queued: dict[str, dict[str, Ask]] = {"track": {}, "artist": {}}
        for kind in ("track", "artist"):
            for page in store.stream_lookups(kind):  # type: ignore[arg-type]
                queued[kind].update((a.lookup.key, a) for a in page)
        return plan, queued
    finally:
        store.close()


def apply(path: Path, outcomes: list[Outcome]) -> dict[str, int]:
    store = fallback_store(path)
    try:
        store.plan()
        return store.apply(outcomes)
    finally:
        store.close()


def execute(path: Path, *statements: str, params: list[Any] | None = None) -> None:
    con = duckdb.connect(str(path))
    try:
        for sql in statements:
            con.execute(sql, params or [])
    finally:
        con.close()


def remember_spotify_miss(path: Path, kind: str, spotify_id: str, outcome: str = "not_found") -> None:
    """As a Spotify run would have: the misses log with one entry."""
    execute(
        path,
        "CREATE TABLE IF NOT EXISTS backfill_log (kind VARCHAR, spotify_id VARCHAR, outcome VARCHAR, "
        "checked_at TIMESTAMP)",
    )
    execute(path, "INSERT INTO backfill_log VALUES (?, ?, ?, now()::TIMESTAMP)", params=[kind, spotify_id, outcome])


def deezer(kind: str, key: str, url: str = "https://cdn.deezer.test/images/cover/abc/250x250.jpg") -> Outcome:
    return Outcome(
        "tracks" if kind == "track" else "artists",
        key,
        "updated",
        url,
        source="deezer",
        provider_id="123",
        confirmed_by='album "Live Bootleg"',
    )


def fallback_and_hand_set(cli: Any, path: Path, world: Any) -> str:
    """A fallback's answers (its log and provenance), a set by hand over one of them, and that set's undo by
    source: what those commands add to a history. Returns the local-file URI they were about."""
    local = next(u for u in world.odd_uris if u.startswith("spotify:local:"))
    odd = next(u for u in world.odd_uris if not u.startswith("spotify:local:"))
    apply(path, [deezer("track", local), Outcome("tracks", odd, "unconfirmed", source="deezer")])
    assert cli("set", "track", local, "https://img.example/by-hand.jpg", "--db", path).code == 0
    assert cli("undo", "--db", path, "--source", "manual").code == 0
    return local
