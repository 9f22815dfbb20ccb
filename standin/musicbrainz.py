"""A MusicBrainz web service stand-in (`/ws/2`, no key) over a provider world.

- `GET /ws/2/release-group?query=...&fmt=json` (Lucene: `artist:"X" AND releasegroup:"Y"`, also `release:`,
  `primarytype:` and plain words) and `GET /ws/2/artist?query=...`: scored candidates, the best at 100, with
  `artist-credit`; `limit` (25, at most 100) and `offset`. Without `fmt=json` (or an Accept of JSON) the answer
  is XML, as the real service's default.
- The User-Agent must name the application, its version and a contact: `AppName/1.0 ( https://... )` or
  `( me@example.org )`. A missing or generic one (a library's default such as `Python/3.11 aiohttp/3.9`,
  `python-requests/2.31`, `curl/8.5`, a browser's `Mozilla/5.0 ...`) is refused with **403** and a JSON error
  body, before the rate limit, and does not count toward it. The real service drops such clients outright;
  403 is this stand-in's choice, so that a client sees a definite refusal rather than a silent one.
- 1 request per second per client address on average (a leaky bucket of `burst` requests draining at `rate`
  per second); faster gets **503**. Refused requests do not fill the bucket.
- Faults (`MusicBrainzConfig.fault`): "503" answers every request with 503, "malformed" with cut-off JSON.

Time comes from `clock`, so tests can move it instead of waiting. Run alone: `python -m standin.musicbrainz`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from standin.hosting import Hosted
from standin.provider_search import exact, finds, lucene_query
from standin.provider_world import MbArtist, ProviderWorld, ProviderWorldSpec, ReleaseGroup, build_provider_world

FAULTS = ("503", "malformed")
_AGENT = re.compile(r"^(?P<app>[A-Za-z0-9][\w.+-]*)/(?P<version>[\w.+-]+)\s*\(\s*(?P<contact>[^()]*?)\s*\)")
_CONTACT = re.compile(r"@|https?://|\w\.\w")
GENERIC_AGENTS = frozenset(
    {"python", "python-requests", "python-urllib", "aiohttp", "httpx", "curl", "wget", "mozilla", "java",
     "okhttp", "go-http-client", "axios", "node-fetch", "libwww-perl", "guzzlehttp", "test", "app", "myapp"}
)  # fmt: skip
_TYPE_IDS = {"Album": "f529b476-6e62-324f-b0aa-1f3e33d313fc", "Single": "d6038452-8ee0-3f68-affc-2de9a1ede0b9"}
_OFFICIAL = "4e304316-386d-3409-af2e-78857eec5cfe"
_GROUP = "e431f5f6-b5d2-343d-8b36-72607fffb74b"
RATE_LIMITED = (
    "Your requests are exceeding the allowable rate limit. Please see https://wiki.musicbrainz.org/XMLWebService"
)


def meaningful_agent(agent: str) -> bool:
    """Whether a User-Agent names an application (not a library's or browser's), a version and a contact."""
    match = _AGENT.match(agent.strip())
    return bool(match and match["app"].lower() not in GENERIC_AGENTS and _CONTACT.search(match["contact"]))


@dataclass
class MusicBrainzConfig:
    rate: float = 1.0  # requests per second the bucket drains
    burst: int = 1  # requests the bucket holds: 1 means no two requests closer than 1/rate s
    fault: str | None = None  # one of FAULTS
    fault_count: int | None = None  # how many requests get it (None: all)


@dataclass(frozen=True)
class MbRequest:
    at: float
    path: str
    query: str
    remote: str
    user_agent: str
    status: int


def _score(pairs: Sequence[tuple[str, str]]) -> float:
    """How well each (candidate text, query value) pair matches, 0 when any is not found at all."""
    total = 0.0
    for text, wanted in pairs:
        if not finds(text, wanted):
            return 0.0
        total += 1.0 if exact(text, wanted) else 0.6 * len(wanted.split()) / max(1, len(text.split()))
    return total / max(1, len(pairs))


def _scaled(scored: list[tuple[float, Any]]) -> list[tuple[int, Any]]:
    """Scores as the service shows them: the best is 100, the others in proportion; best first."""
    kept = sorted((pair for pair in scored if pair[0] > 0), key=lambda pair: -pair[0])
    top = kept[0][0] if kept else 1.0
    return [(round(100 * score / top), item) for score, item in kept]


class MusicBrainzEmulator(Hosted):
    def __init__(
        self,
        world: ProviderWorld,
        config: MusicBrainzConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.world = world
        self.config = config or MusicBrainzConfig()
        self.clock = clock
        self.received: list[MbRequest] = []
        self.faults_served = 0
        self._level: dict[str, tuple[float, float]] = {}  # address -> (bucket level, when it was measured)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def _admit(self, remote: str, now: float) -> bool:
        level, then = self._level.get(remote, (0.0, now))
        level = max(0.0, level - (now - then) * self.config.rate)
        if level + 1 > self.config.burst + 1e-9:
            self._level[remote] = (level, now)
            return False
        self._level[remote] = (level + 1, now)
        return True

    async def _handle(self, request: web.Request) -> web.Response:
        now = self.clock()
        agent = request.headers.get("User-Agent", "")
        remote = request.remote or ""
        status, body, kind = self._answer(request, agent, remote, now)
        self.received.append(MbRequest(now, request.path, request.query_string, remote, agent, status))
        return web.Response(status=status, body=body, content_type=kind)

    def _answer(self, request: web.Request, agent: str, remote: str, now: float) -> tuple[int, bytes, str]:
        as_json = request.query.get("fmt") == "json" or "json" in request.headers.get("Accept", "")
        if not meaningful_agent(agent):
            message = "Please identify your application: User-Agent: AppName/Version ( contact-url-or-email )"
            return 403, json.dumps({"error": message}).encode(), "application/json"
        if not self._admit(remote, now):
            return 503, json.dumps({"error": RATE_LIMITED}).encode(), "application/json"
        config = self.config
        if config.fault is not None and (config.fault_count is None or self.faults_served < config.fault_count):
            self.faults_served += 1
            if config.fault == "503":
                return 503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"
            return (
                200,
                b'{"created": "2026-11-02T10:00:00.000Z", "count": 3, "release-groups": [{"id": "',
                "application/json",
            )
        entity = request.path.removeprefix("/ws/2/").strip("/")
        query = request.query.get("query", "")
        if entity not in ("release-group", "artist"):
            return 400, json.dumps({"error": f"Invalid resource: {entity}"}).encode(), "application/json"
        if not query.strip():
            return 400, json.dumps({"error": "You must specify a query"}).encode(), "application/json"
        found = self._release_groups(query) if entity == "release-group" else self._artists(query)
        limit = int(request.query.get("limit", "25")) if request.query.get("limit", "").isdigit() else 25
        offset = int(request.query.get("offset", "0")) if request.query.get("offset", "").isdigit() else 0
        page = found[offset : offset + max(1, min(limit, 100))]
        key = "release-groups" if entity == "release-group" else "artists"
        if not as_json:
            xml = '<?xml version="1.0" encoding="UTF-8"?><metadata xmlns="http://musicbrainz.org/ns/mmd-2.0#">'
            xml += f'<{entity}-list count="{len(found)}" offset="{offset}"></{entity}-list></metadata>'
            return 200, xml.encode(), "application/xml"
        body = {"created": "2026-11-02T10:00:00.000Z", "count": len(found), "offset": offset, key: page}
        return 200, json.dumps(body, ensure_ascii=False).encode(), "application/json"

    def _artist_json(self, artist: MbArtist) -> dict[str, Any]:
        body: dict[str, Any] = {"id": artist.id, "name": artist.name, "sort-name": artist.sort_name}
        if artist.disambiguation:
            body["disambiguation"] = artist.disambiguation
        return body

    def _release_groups(self, query: str) -> list[dict[str, Any]]:
        fields, plain = lucene_query(query)
        artist_query = fields.get("artist") or fields.get("artistname")
        title_query = fields.get("releasegroup") or fields.get("release")
        kind = fields.get("primarytype") or fields.get("type")
        scored: list[tuple[float, ReleaseGroup]] = []
        for group in self.world.release_groups.values():
            artist = self.world.mb_artists[group.artist_id]
            if kind and kind.lower() != group.primary_type.lower():
                continue
            pairs = [(artist.name, artist_query)] if artist_query else []
            pairs += [(group.title, title_query)] if title_query else []
            pairs += [(f"{artist.name} {group.title}", plain)] if plain else []
            if pairs:
                scored.append((_score(pairs), group))
        return [self._group_json(group, score) for score, group in _scaled(scored)]

    def _group_json(self, group: ReleaseGroup, score: int) -> dict[str, Any]:
        artist = self.world.mb_artists[group.artist_id]
        type_id = _TYPE_IDS[group.primary_type]
        return {
            "id": group.id,
            "type-id": type_id,
            "score": score,
            "primary-type-id": type_id,
            "count": 1,
            "title": group.title,
            "first-release-date": group.first_release_date,
            "primary-type": group.primary_type,
            "artist-credit": [{"name": artist.name, "artist": self._artist_json(artist)}],
            "releases": [{"id": group.release_id, "status-id": _OFFICIAL, "title": group.title, "status": "Official"}],
        }

    def _artists(self, query: str) -> list[dict[str, Any]]:
        fields, plain = lucene_query(query)
        wanted = fields.get("artist") or fields.get("artistname") or plain
        scored = [(_score([(a.name, wanted)]), a) for a in self.world.mb_artists.values()]
        artists = []
        for score, artist in _scaled(scored):
            artists.append({"type": "Group", "type-id": _GROUP, "score": score, **self._artist_json(artist)})
        return artists


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m standin.musicbrainz", description="Serve a stand-in MusicBrainz.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--seed", type=int, default=ProviderWorldSpec.seed)
    parser.add_argument("--filler", type=int, default=ProviderWorldSpec.filler)
    parser.add_argument("--fault", choices=FAULTS)
    args = parser.parse_args(argv)
    world = build_provider_world(ProviderWorldSpec(seed=args.seed, filler=args.filler))
    emulator = MusicBrainzEmulator(world, MusicBrainzConfig(fault=args.fault))

    async def serve() -> None:
        await emulator.start(args.host, args.port)
        print(f"musicbrainz stand-in listening on {emulator.base_url}/ws/2", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
