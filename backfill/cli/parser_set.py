"""The words of `backfill set` (beside backfill.cli.parser, which builds the rest)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from backfill.cli.args import HelpFormatter


def add_set_command(sub: Any, epilog: str, db_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """`backfill set track URI URL`, `backfill set artist NAME URL`, `backfill set --file overrides.csv`."""
    set_cmd = sub.add_parser(
        "set",
        help="set a track's album art or an artist's photo by hand; nothing later replaces it",
        description="Set an image by hand: `backfill set track URI URL`, `backfill set artist NAME URL`, or many "
        "with --file. A set replaces whatever the row has, journaled (`backfill undo --last` or `--source "
        "manual` puts the old value back, `sync` pushes the new one); `run --refresh` and the fallback "
        "providers never replace it. Every override is checked first: a URL that is not http(s), a key the "
        "database does not have or a malformed line changes nothing (exit 2, naming the line). Applying the "
        "same overrides again changes nothing. Needs no credentials.",
        epilog=epilog,
        formatter_class=HelpFormatter,
    )
    db_option(set_cmd)
    set_cmd.add_argument("kind", nargs="?", choices=("track", "artist"), help="what to set: track or artist")
    set_cmd.add_argument("key", nargs="?", metavar="KEY", help="the track's spotify_track_uri, or the artist's name")
    set_cmd.add_argument("url", nargs="?", metavar="URL", help="the image's http(s) URL")
    set_cmd.add_argument(
        "--file",
        metavar="CSV",
        help="overrides from a CSV file, one a line: kind,key,url (kind: track or artist); a first line "
        "`kind,key,url` is a header and skipped, blank lines are skipped, quote a field holding a comma",
    )
    set_cmd.add_argument("--dry-run", action="store_true", help="check the overrides and count; write nothing")
    set_cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")
