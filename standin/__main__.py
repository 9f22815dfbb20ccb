"""`python -m standin`: serve the stand-in Spotify on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import textwrap
from collections.abc import Sequence

from standin import faults
from standin.accounts import TOKEN_FAULTS
from standin.config import EmulatorConfig
from standin.oembed import MODES as OEMBED_MODES
from standin.oembed import OEmbedConfig
from standin.server import Emulator

DEFAULT_PORT = 8080

_EPILOG = (
    "It serves the catalog of the sample history that `python -m standin.sample PATH` writes with "
    "the same --seed, --tracks and --artists (all three default to the sample's). Point backfill at it with "
    "`python -m standin --print-env > .env` (or set the five variables it prints), then run "
    '`backfill run --db PATH`.\n\nThe first line on stdout is always "emulator listening on URL".'
)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description keeps its lines; an option's help is never split at a hyphen ("client-secret")."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    # Imported here: the sample generator is only needed when running standalone.
    from standin.sample import SampleSpec

    sample = SampleSpec()
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m standin",
        description="Serve a stand-in Spotify Web API (token endpoint, tracks, artists, albums) for tests, "
        "the demo and trying backfill by hand. Needs no network.",
        epilog=_EPILOG,
        formatter_class=_HelpFormatter,
    )
    add = parser.add_argument
    add("--host", metavar="ADDRESS", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add(
        "--port", metavar="N", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    add("--print-env", action="store_true", help="print the .env lines that point backfill here, and exit")
    add(
        "--client-id",
        metavar="ID",
        default=defaults.client_id,
        help=f"the only client id the token endpoint accepts (default {defaults.client_id})",
    )
    add(
        "--client-secret",
        metavar="SECRET",
        default=defaults.client_secret,
        help=f"the only client secret it accepts (default {defaults.client_secret})",
    )
    add(
        "--seed",
        metavar="N",
        type=int,
        default=sample.seed,
        help=f"which world to serve; use the sample's seed (default {sample.seed}, the sample's default)",
    )
    add(
        "--tracks",
        metavar="N",
        type=int,
        default=sample.tracks,
        help=f"catalog size, as the sample's (default {sample.tracks})",
    )
    add(
        "--artists",
        metavar="N",
        type=int,
        default=sample.artists,
        help=f"catalog size, as the sample's (default {sample.artists})",
    )
    add(
        "--dev-mode",
        action="store_true",
        help="behave as for a Development Mode app: batch endpoints answer 403 (default: batch allowed)",
    )
    add(
        "--latency",
        metavar="SECONDS",
        type=float,
        default=defaults.latency,
        help="mean seconds added to each API answer (default 0)",
    )
    add(
        "--latency-jitter",
        metavar="FRACTION",
        type=float,
        default=defaults.latency_jitter,
        help="spread of the latency as a fraction: 0.5 gives 50-150 %% of it (default 0)",
    )
    add(
        "--rate-limit",
        metavar="N",
        type=int,
        default=defaults.rate_limit,
        help="API requests allowed per rolling window; more get 429 with Retry-After (default: no limit)",
    )
    add(
        "--rate-window",
        metavar="SECONDS",
        type=float,
        default=defaults.rate_window,
        help=f"the rolling window, in seconds (default {defaults.rate_window:g})",
    )
    add(
        "--quota",
        metavar="N",
        type=int,
        default=defaults.quota,
        help="API requests allowed in all; then 429 QUOTA_EXCEEDED with a day-long Retry-After (default: none)",
    )
    add(
        "--error-rate",
        metavar="SHARE",
        type=float,
        default=defaults.error_rate,
        help="share answered 500/502/503/504 (default 0)",
    )
    add(
        "--drop-rate",
        metavar="SHARE",
        type=float,
        default=defaults.drop_rate,
        help="share of connections dropped (default 0)",
    )
    add(
        "--token-ttl",
        metavar="SECONDS",
        type=int,
        default=defaults.token_ttl,
        help=f"lifetime of issued tokens, in seconds (default {defaults.token_ttl})",
    )
    add(
        "--oembed-rate-limit",
        metavar="N",
        type=int,
        default=None,
        help="oEmbed requests allowed per rolling window; more get 429 (default: no limit)",
    )
    add(
        "--oembed-rate-window",
        metavar="SECONDS",
        type=float,
        default=30.0,
        help="oEmbed's rolling window, in seconds (default 30)",
    )
    add(
        "--oembed-no-retry-after",
        action="store_true",
        help="oEmbed's 429s carry no Retry-After header (default: they carry one)",
    )
    add(
        "--fault-mode",
        choices=faults.MODES,
        metavar="NAME",
        help="answer API calls with a broken answer of this kind, for tests (default: none): "
        + ", ".join(faults.MODES),
    )
    add("--fault-count", metavar="N", type=int, default=None, help="how many answers get the fault (default: all)")
    add(
        "--token-fault",
        choices=TOKEN_FAULTS,
        metavar="NAME",
        help="a broken token endpoint (default: none): " + ", ".join(TOKEN_FAULTS),
    )
    add(
        "--token-fault-count",
        metavar="N",
        type=int,
        default=None,
        help="how many token answers get the token fault, then good tokens (default: all)",
    )
    add(
        "--oembed-fault",
        choices=OEMBED_MODES,
        metavar="NAME",
        help="answer oEmbed requests with a broken answer of this kind (default: none): " + ", ".join(OEMBED_MODES),
    )
    add(
        "--local-images",
        action="store_true",
        help="image URLs on this server's own /image/ path, so pages load them offline, as the demo's page does "
        "(default: Spotify's CDN URLs)",
    )
    return parser.parse_args(argv)


def env_lines(base_url: str, client_id: str, client_secret: str) -> list[str]:
    """What .env needs for backfill to use this emulator instead of Spotify."""
    return [
        "# backfill against the local emulator (python -m standin), not Spotify",
        f"SPOTIFY_CLIENT_ID={client_id}",
        f"SPOTIFY_CLIENT_SECRET={client_secret}",
        f"SPOTIFY_API_URL={base_url}/v1",
        f"SPOTIFY_TOKEN_URL={base_url}/api/token",
        f"SPOTIFY_OEMBED_URL={base_url}/oembed",
    ]


async def _serve(emulator: Emulator, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await emulator.start(args.host, args.port)
    print(f"emulator listening on {emulator.base_url}", flush=True)
    print("backfill finds it with these settings (in .env or the environment):", flush=True)
    for line in env_lines(emulator.base_url, args.client_id, args.client_secret)[1:]:
        print(f"  {line}", flush=True)
    print("Ctrl-C stops it.", flush=True)
    try:
        await stop.wait()
    finally:
        await emulator.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.print_env:
        if args.port == 0:
            print("python -m standin: error: --print-env needs a fixed --port", file=sys.stderr)
            return 2
        print("\n".join(env_lines(f"http://{args.host}:{args.port}", args.client_id, args.client_secret)))
        return 0
    from standin.sample import SampleSpec, build_catalog

    catalog = build_catalog(SampleSpec(seed=args.seed, tracks=args.tracks, artists=args.artists))
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
        fault_mode=args.fault_mode,
        fault_count=args.fault_count,
        token_fault=args.token_fault,
        token_fault_count=args.token_fault_count,
        oembed=OEmbedConfig(
            rate_limit=args.oembed_rate_limit,
            rate_window=args.oembed_rate_window,
            retry_after=not args.oembed_no_retry_after,
            fault=args.oembed_fault,
        ),
        local_images=args.local_images,
    )
    try:
        asyncio.run(_serve(Emulator(catalog, config), args))
    except OSError as exc:  # typically the port is taken
        where = f"{args.host}:{args.port}"
        print(f"python -m standin: error: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
