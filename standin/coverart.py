"""A Cover Art Archive stand-in (no key) over a provider world's release groups.

- `GET /release-group/{mbid}` (and `/release/{mbid}`): `{"images": [{"front", "image", "thumbnails": {"250",
  "500", "1200", "small", "large"}, ...}], "release": ...}`; **404** when the group has no art or is unknown,
  400 when the id is no UUID. A group may have art but no front image (only a back).
- `GET /release-group/{mbid}/front` (`front-250`, `-500`, `-1200`): a **307** to an archive.org-like file URL
  (`/download/mbid-<release>/mbid-<release>-<id>_thumb250.jpg`) that this server also serves; 404 without a
  front image. The image URLs of the JSON answer redirect there the same way.
- Faults (`CoverArtConfig.fault`): "503" answers with 503 (the archive's way of slowing clients down); an
  optional rolling-window limit (`rate_limit` per `rate_window` s) answers 503 past it.

Run alone: `python -m standin.coverart`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from standin.hosting import Hosted
from standin.provider_images import picture_response
from standin.provider_world import ProviderWorld, ProviderWorldSpec, ReleaseGroup, build_provider_world

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SIZES = {"": "", "-250": "_thumb250", "-500": "_thumb500", "-1200": "_thumb1200"}


@dataclass
class CoverArtConfig:
    fault: str | None = None  # "503"
    fault_count: int | None = None  # how many requests get it (None: all)
    rate_limit: int | None = None  # requests per rolling window per address; None: unlimited
    rate_window: float = 1.0


@dataclass(frozen=True)
class CoverArtRequest:
    at: float
    path: str
    status: int
    location: str | None  # where a redirect pointed


class CoverArtEmulator(Hosted):
    def __init__(
        self, world: ProviderWorld, config: CoverArtConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.world = world
        self.config = config or CoverArtConfig()
        self.clock = clock
        self.received: list[CoverArtRequest] = []
        self.faults_served = 0
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._by_release = {group.release_id: group for group in world.release_groups.values()}
        self.app.router.add_get("/download/{folder}/{file}", self._file)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def _limited(self, request: web.Request, now: float) -> bool:
        config = self.config
        if config.fault == "503" and (config.fault_count is None or self.faults_served < config.fault_count):
            self.faults_served += 1
            return True
        if config.rate_limit is None:
            return False
        window = self._windows[request.remote or ""]
        while window and window[0] <= now - config.rate_window:
            window.popleft()
        if len(window) >= config.rate_limit:
            return True
        window.append(now)
        return False

    async def _handle(self, request: web.Request) -> web.Response:
        now = self.clock()
        if self._limited(request, now):
            response = web.Response(status=503, text="<html><body>503 Service Unavailable</body></html>")
            response.content_type = "text/html"
        else:
            response = self._answer(request)
        self.received.append(CoverArtRequest(now, request.path, response.status, response.headers.get("Location")))
        return response

    def _answer(self, request: web.Request) -> web.Response:
        base = self.base_url or f"{request.scheme}://{request.host}"
        parts = [p for p in request.path.split("/") if p]
        if len(parts) not in (2, 3) or parts[0] not in ("release-group", "release"):
            return web.Response(status=404, text="Not Found")
        if not _UUID.match(parts[1]):
            return web.Response(status=400, text=f"{parts[1]} is not a valid UUID")
        groups = self.world.release_groups if parts[0] == "release-group" else self._by_release
        group = groups.get(parts[1])
        if group is None or group.art == "none":
            return web.Response(status=404, text="No cover art found for this MBID")
        if len(parts) == 2:
            return web.json_response(self._listing(group, base))
        name = parts[2]
        image = f"{group.image_id}"
        if name.startswith(("front", image)):
            suffix = name.removeprefix("front").removeprefix(image).removesuffix(".jpg")
            is_front = name.startswith("front")
            if suffix in _SIZES and (group.art == "front" or not is_front):
                folder = f"mbid-{group.release_id}"
                target = f"{base}/download/{folder}/{folder}-{group.image_id}{_SIZES[suffix]}.jpg"
                return web.Response(status=307, headers={"Location": target})
        return web.Response(status=404, text="Not Found")

    def _listing(self, group: ReleaseGroup, base: str) -> dict[str, Any]:
        front = group.art == "front"
        url = f"{base}/release/{group.release_id}/{group.image_id}"
        thumbnails = {size: f"{url}-{size}.jpg" for size in ("250", "500", "1200")}
        thumbnails |= {"small": thumbnails["250"], "large": thumbnails["500"]}
        image = {
            "approved": True,
            "back": not front,
            "comment": "",
            "edit": group.image_id % 100_000_000,
            "front": front,
            "id": group.image_id,
            "image": f"{url}.jpg",
            "thumbnails": thumbnails,
            "types": ["Front"] if front else ["Back"],
        }
        return {"images": [image], "release": f"https://musicbrainz.org/release/{group.release_id}"}

    async def _file(self, request: web.Request) -> web.Response:
        self.received.append(CoverArtRequest(self.clock(), request.path, 200, None))
        return picture_response(request.match_info["folder"], request.match_info["file"])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m standin.coverart", description="Serve a stand-in Cover Art Archive."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8768)
    parser.add_argument("--seed", type=int, default=ProviderWorldSpec.seed)
    parser.add_argument("--filler", type=int, default=ProviderWorldSpec.filler)
    args = parser.parse_args(argv)
    world = build_provider_world(ProviderWorldSpec(seed=args.seed, filler=args.filler))
    emulator = CoverArtEmulator(world)

    async def serve() -> None:
        await emulator.start(args.host, args.port)
        print(f"cover art stand-in listening on {emulator.base_url}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
