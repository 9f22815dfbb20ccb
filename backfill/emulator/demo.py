"""`backfill demo`: a sample history, the local emulator, the real backfill, then verify. No credentials."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from backfill.emulator.pictures import IMAGE_PATH, image_id
from backfill.emulator.sample import SampleSpec, World, build_world, write_history

DEMO_SEED = 7
DEMO_PORT = 8765  # fixed, so the page's image URLs still work when `make demo-images` serves them later
_CLIENT_ID = "demo-client-id"
_CLIENT_SECRET = "demo-client-secret"  # the emulator's, not a real secret


def _say(text: str) -> None:
    print(f"\n>>> {text}", flush=True)


def _local_images(world: World, base: str) -> None:
    """Point the history's already-filled image URLs at the emulator too, so the whole page loads offline."""
    for table, column in ((world.tracks_table, "album_image_url"), (world.artists_table, "image_url")):
        table[column] = [f"{base}{IMAGE_PATH}{id_}" if url and (id_ := image_id(url)) else url for url in table[column]]


def run_demo(args: argparse.Namespace) -> int:
    path = Path(args.db)
    html = path.with_suffix(".html")
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)  # the demo's own file: start afresh each time
    spec = SampleSpec(seed=DEMO_SEED, tracks=args.tracks, artists=args.artists, plays=args.plays)

    mode = "Extended Quota: batch endpoints allowed" if args.batch else "Development Mode: batch endpoints 403"
    _say(f"Starting the local Spotify emulator ({mode})")
    # --local-images: the emulator hands out image URLs on its own address (and serves the pictures there),
    # so the demo's page shows real pictures offline. A real run stores Spotify's CDN URLs, of course.
    emulator_cmd = [
        sys.executable, "-m", "backfill.emulator", "--port", str(args.port), "--local-images",
        "--seed", str(DEMO_SEED), "--tracks", str(spec.tracks), "--artists", str(spec.artists),
        "--client-id", _CLIENT_ID, "--client-secret", _CLIENT_SECRET,
        "--latency", "0.03", "--latency-jitter", "0.5", "--error-rate", "0.01",
    ]  # fmt: skip
    if not args.batch:
        emulator_cmd.append("--dev-mode")
    emulator = subprocess.Popen(emulator_cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert emulator.stdout is not None
        line = emulator.stdout.readline().strip()
        if not line.startswith("emulator listening on "):
            hint = f"; is port {args.port} in use? pass --port" if args.port else ""
            print(f"backfill: error: the emulator did not start ({line or 'no output'}{hint})", file=sys.stderr)
            return 2
        base = line.removeprefix("emulator listening on ")
        _say(f"Writing a sample listening history to {path} ({spec.tracks:,} tracks, {spec.artists:,} artists)")
        world = build_world(spec)
        _local_images(world, base)
        write_history(world, path)
        env = {
            **os.environ,
            "SPOTIFY_CLIENT_ID": _CLIENT_ID,
            "SPOTIFY_CLIENT_SECRET": _CLIENT_SECRET,
            "SPOTIFY_API_URL": f"{base}/v1",
            "SPOTIFY_TOKEN_URL": f"{base}/api/token",
            "BACKFILL_DB": str(path),
            "NO_PROXY": "127.0.0.1,localhost",  # the emulator is local, whatever proxy is set
            "no_proxy": "127.0.0.1,localhost",
        }
        backfill = [sys.executable, "-m", "backfill"]
        _say(f"backfill run --rate {args.rate:g}   (against {base})")
        code = subprocess.run([*backfill, "run", "--rate", str(args.rate)], env=env, check=False).returncode
        _say(f"backfill verify --html {html}")
        subprocess.run([*backfill, "verify", "--html", str(html)], env=env, check=False)
        if args.port == DEMO_PORT:
            again = "`make demo-images` serves them again"
        elif args.port:
            again = f"`python -m backfill.emulator --port {args.port} --local-images` serves them again"
        else:
            again = "pass --port to the demo to be able to serve them again"
        _say(
            f"Done (run exited {code}). The page: {html.resolve()}\n"
            f"    Its pictures come from the emulator at {base}, which stops now; {again}.\n"
            "    Run `make demo` again to start over; `make test` runs the tests."
        )
        return code
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
