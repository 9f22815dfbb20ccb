"""`python -m backfill.emulator`: serve the stand-in Spotify on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from backfill.emulator.server import Emulator, EmulatorConfig


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m backfill.emulator", description="Serve a stand-in Spotify Web API for tests and the demo."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dev-mode", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--latency-jitter", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None)
    parser.add_argument("--rate-window", type=float, default=30.0)
    parser.add_argument("--quota", type=int, default=None)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--token-ttl", type=int, default=3600)
    parser.add_argument("--client-id", default=EmulatorConfig.client_id)
    parser.add_argument("--client-secret", default=EmulatorConfig.client_secret)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--local-images", action="store_true", help="image URLs on this server's /image/ path (loadable offline)"
    )
    parser.add_argument("--tracks", type=int, default=None, help="catalog size (default: the sample's)")
    parser.add_argument("--artists", type=int, default=None, help="catalog size (default: the sample's)")
    return parser.parse_args(argv)


async def _serve(emulator: Emulator, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await emulator.start(host, port)
    print(f"emulator listening on {emulator.base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await emulator.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    # Imported here: the sample generator is only needed when running standalone.
    from backfill.emulator.sample import SampleSpec, build_catalog

    sizes = {name: value for name in ("tracks", "artists") if (value := getattr(args, name)) is not None}
    catalog = build_catalog(SampleSpec(seed=args.seed, **sizes))
    config = EmulatorConfig(
        client_id=args.client_id,
        client_secret=args.client_secret,
        dev_mode=args.dev_mode,
        latency=args.latency,
        latency_jitter=args.latency_jitter,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        quota=args.quota,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        token_ttl=args.token_ttl,
        seed=args.seed,
        local_images=args.local_images,
    )
    try:
        asyncio.run(_serve(Emulator(catalog, config), args.host, args.port))
    except OSError as exc:  # e.g. the port is taken: one line, not a traceback
        print(f"emulator: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
