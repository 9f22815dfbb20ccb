"""A bare client for scenario 5: fetch a list of API requests from the emulator and throw the bodies away.

No pacing, no retries, no JSON parsing, no database: what is left of a run is the emulator's cost (and
aiohttp's). Same HTTP library and the same number of connections as the tool. Prints one JSON object.

    python -m bench.floor_client REQUESTS_FILE --base URL --concurrency 8   (one "/v1/...?..." per line)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp


async def _token(session: aiohttp.ClientSession, base: str) -> str:
    auth = aiohttp.BasicAuth(os.environ["SPOTIFY_CLIENT_ID"], os.environ["SPOTIFY_CLIENT_SECRET"])
    async with session.post(f"{base}/api/token", data={"grant_type": "client_credentials"}, auth=auth) as resp:
        body = await resp.json()
    return str(body["access_token"])


async def fetch_all(base: str, targets: list[str], concurrency: int) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    received = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        headers = {"Authorization": f"Bearer {await _token(session, base)}"}
        queue = iter(targets)
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal received
            for target in queue:  # a shared iterator: each target is taken once
                async with session.get(base + target, headers=headers) as resp:
                    received += len(await resp.read())
                    statuses[resp.status] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return {
        "requests": len(targets),
        "seconds": round(seconds, 4),
        "bytes": received,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_client", description=__doc__.splitlines()[0])
    parser.add_argument("requests", help="file with one request target (path and query) per line")
    parser.add_argument("--base", required=True, help="the emulator's base URL, e.g. http://127.0.0.1:PORT")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    with open(args.requests, encoding="utf-8") as lines:
        targets = [line.strip() for line in lines if line.strip()]
    print(json.dumps(asyncio.run(fetch_all(args.base.rstrip("/"), targets, args.concurrency))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
