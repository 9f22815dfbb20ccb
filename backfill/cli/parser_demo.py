"""The words of `backfill demo` (beside backfill.cli.parser, which builds the rest)."""

from __future__ import annotations

from typing import Any

from backfill.cli.args import HelpFormatter, number


def add_demo_command(sub: Any, epilog: str) -> None:
    """`backfill demo`: a sample history, the local stand-ins, the real run, then verify."""
    demo = sub.add_parser(
        "demo",
        help="build a sample history and backfill it from a local Spotify emulator (no credentials)",
        description="Write a sample listening history (to data/demo.duckdb unless --db says), start the local "
        "Spotify emulator and a Deezer stand-in, run the real backfill against them (Deezer fills what Spotify "
        "cannot), then verify, writing data/demo.html with its "
        "pictures inside. Needs no credentials or network. "
        "It exits with the code of its backfill run.",
        epilog=epilog,
        formatter_class=HelpFormatter,
    )
    demo.add_argument(
        "--db",
        metavar="PATH",
        default="data/demo.duckdb",
        help="where to write the sample (default data/demo.duckdb); an existing file is replaced only if an "
        "earlier demo made it",
    )
    demo.add_argument("--tracks", type=number(int), default=1500, metavar="N", help="rows in tracks (default 1500)")
    demo.add_argument(
        "--artists",
        type=number(int),
        default=400,
        metavar="N",
        help="artists the emulator knows (default 400); the artists table has a few more rows: names that share "
        "an id or have none",
    )
    demo.add_argument("--plays", type=number(int), default=4000, metavar="N", help="rows in plays (default 4000)")
    demo.add_argument("--batch", action="store_true", help="emulate an Extended Quota app (batch endpoints allowed)")
    demo.add_argument("--rate", type=number(float), default=40.0, metavar="R", help="requests per second (default 40)")
    demo.add_argument(
        "--port",
        type=number(int, zero_ok=True),
        default=8765,
        metavar="N",
        help="the emulator's port, which the database's image URLs name (default 8765; 0: any free port)",
    )

    demo.add_argument(
        "--no-fallback",
        action="store_true",
        help="Spotify only: no Deezer stand-in, and none of the rows only it can fill",
    )
