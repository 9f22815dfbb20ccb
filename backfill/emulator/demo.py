"""`backfill demo`: a sample history, the local emulator, the real backfill, then verify. No credentials."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from backfill.emulator.sample import SampleSpec, build_world, write_history

DEMO_SEED = 7
_CLIENT_ID = "demo-client-id"
_CLIENT_SECRET = "demo-client-secret"  # the emulator's, not a real secret


def _say(text: str) -> None:
    print(f"\n>>> {text}", flush=True)


def run_demo(args: argparse.Namespace) -> int:
    path = Path(args.db)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)  # the demo's own file: start afresh each time
    spec = SampleSpec(seed=DEMO_SEED, tracks=args.tracks, artists=args.artists, plays=args.plays)
    _say(f"Writing a sample listening history to {path} ({spec.tracks:,} tracks, {spec.artists:,} artists)")
    write_history(build_world(spec), path)

    mode = "Extended Quota: batch endpoints allowed" if args.batch else "Development Mode: batch endpoints 403"
    _say(f"Starting the local Spotify emulator ({mode})")
    emulator_cmd = [
        sys.executable, "-m", "backfill.emulator", "--port", "0",
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
            print(f"backfill: error: the emulator did not start ({line or 'no output'})", file=sys.stderr)
            return 2
        base = line.removeprefix("emulator listening on ")
        # No credentials: the default source is then oEmbed, which needs no developer app and no quota.
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET")},
            "SPOTIFY_API_URL": f"{base}/v1",
            "SPOTIFY_TOKEN_URL": f"{base}/api/token",
            "SPOTIFY_OEMBED_URL": f"{base}/oembed",
            "BACKFILL_DB": str(path),
            "NO_PROXY": "127.0.0.1,localhost",  # the emulator is local, whatever proxy is set
            "no_proxy": "127.0.0.1,localhost",
        }
        backfill = [sys.executable, "-m", "backfill"]
        _say(
            f"backfill run --oembed-rate {args.rate:g}   (against {base}, with no credentials: every image "
            "comes from oEmbed, which needs no developer app and spends no Web API quota)"
        )
        run = [*backfill, "run", "--rate", str(args.rate), "--oembed-rate", str(args.rate)]
        code = subprocess.run(run, env=env, check=False).returncode
        _say("backfill verify")
        subprocess.run([*backfill, "verify"], env=env, check=False)
        _say(f"Done (run exited {code}). Run `make demo` again to start over; `make test` runs the tests.")
        return code
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
