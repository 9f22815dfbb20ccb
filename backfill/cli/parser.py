"""The command line's words: commands, options, their help, the environment and the exit codes."""

from __future__ import annotations

import argparse

from backfill.cli.args import HelpFormatter, Parser, commands, version_option
from backfill.cli.args import number as _number
from backfill.cli.parser_demo import add_demo_command
from backfill.cli.parser_set import add_set_command
from backfill.config import DEFAULT_OEMBED_RATE
from backfill.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
)
from backfill.sync.model import DEFAULT_CONNECT_TIMEOUT

DEFAULT_RATE = 5.0
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_WAIT = 120.0
DEFAULT_LOCK_TIMEOUT = 30.0
VERIFY_LOCK_TIMEOUT = 5.0  # verify waits this long for a run's flush (or the dashboard) to let go of the file

_EXIT_MEANINGS = {
    EXIT_OK: "done (ids Spotify does not know, or that have no image, are not errors)",
    EXIT_FAILED: "some items failed after retries (they stay empty; run again), or Spotify refused access",
    EXIT_USAGE: "usage, configuration or database error (nothing was written)",
    EXIT_RATE_LIMITED: "stopped early by Spotify's rate limit or daily quota (work so far is saved)",
    EXIT_SIGINT: f"interrupted by Ctrl-C (SIGINT);  {EXIT_SIGTERM}: terminated (SIGTERM)",
    EXIT_BROKEN_PIPE: "stdout was closed early (e.g. `backfill verify | head`): stopped quietly",
}
_EXIT_DONE = {
    "sync": "done (or nothing to push)",
    "verify": "done",
    "undo": "done (or nothing to undo)",
    "set": "done (or already so)",
}
_EXIT_USAGE = {
    "sync": "usage, configuration, database or Postgres error (Postgres unchanged)",
    "verify": "usage or database error",
    "set": "usage or database error, a bad URL, an unknown key or a malformed line (nothing was changed)",
}

_VARIABLES = {
    "SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET": "app credentials (optional: without them, `run` uses oEmbed)",
    "BACKFILL_DB": "database file (default data/spotify.duckdb; ~ is home); --db overrides it",
    "SPOTIFY_API_URL": "default https://api.spotify.com/v1",
    "SPOTIFY_TOKEN_URL": "default https://accounts.spotify.com/api/token",
    "SPOTIFY_OEMBED_URL": "default https://open.spotify.com/oembed",
    "POSTGRES_URL": "the dashboard's production Postgres (`sync`, `run --sync`); --postgres overrides it",
    "HTTPS_PROXY, HTTP_PROXY, NO_PROXY": "the usual proxy settings, read once at start",
    "BACKFILL_TIMEOUT": "seconds to wait for one answer (default 30)",
    "BACKFILL_GIVE_UP_AFTER": "a source with no answer at all for this long is given up (default 90)",
    "BACKFILL_WRITE_SECONDS, BACKFILL_WRITE_RESULTS": "the writer holds the file this often at most (10, 50000)",
    "BACKFILL_EMBED_TIMEOUT": "verify --embed-images: seconds for each picture (default 5)",
    "BACKFILL_FALLBACK": "providers for what Spotify cannot fill, e.g. deezer,musicbrainz (default none)",
    "DEEZER_API_URL, MUSICBRAINZ_API_URL, COVERART_API_URL": "the fallback providers' endpoints",
}
# Each command's own: the variables it reads and the exit codes it can end with.
_USES: dict[str | None, tuple[tuple[str, ...], tuple[int, ...]]] = {
    None: (tuple(_VARIABLES), tuple(_EXIT_MEANINGS)),  # the overview: everything
    "run": (tuple(n for n in _VARIABLES if n != "BACKFILL_EMBED_TIMEOUT"), tuple(_EXIT_MEANINGS)),
    "sync": (("BACKFILL_DB", "POSTGRES_URL"), (EXIT_OK, EXIT_USAGE, EXIT_SIGINT, EXIT_BROKEN_PIPE)),
    "verify": (("BACKFILL_DB", "BACKFILL_EMBED_TIMEOUT"), (EXIT_OK, EXIT_USAGE, EXIT_SIGINT, EXIT_BROKEN_PIPE)),
    "undo": (("BACKFILL_DB",), (EXIT_OK, EXIT_USAGE, EXIT_SIGINT, EXIT_BROKEN_PIPE)),
    "set": (("BACKFILL_DB",), (EXIT_OK, EXIT_USAGE, EXIT_SIGINT, EXIT_BROKEN_PIPE)),
    "demo": ((), (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SIGINT)),  # its own emulator: no setting read
}


def epilog(command: str | None) -> str:
    """The environment and exit codes that apply to `command` (None: the overview)."""
    names, codes = _USES[command]
    parts = []
    if names:
        head = (
            "environment (also read from the nearest .env, here or in a parent directory; the real environment wins):"
        )
        rows = [f"  {n:<18}  {_VARIABLES[n]}" if len(n) <= 18 else f"  {n}   {_VARIABLES[n]}" for n in names]
        parts.append("\n".join([head, *rows]))
    meanings = {**_EXIT_MEANINGS, EXIT_OK: _EXIT_DONE.get(command or "", _EXIT_MEANINGS[EXIT_OK])}
    meanings[EXIT_USAGE] = _EXIT_USAGE.get(command or "", _EXIT_MEANINGS[EXIT_USAGE])
    parts.append("\n".join(["exit codes:", *(f"  {c:<4} {meanings[c]}" for c in codes)]))
    return "\n\n".join(parts)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="database file (default: $BACKFILL_DB or data/spotify.duckdb)")


def _postgres_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", metavar="URL", help="Postgres URL (default: $POSTGRES_URL)")


def build_parser() -> argparse.ArgumentParser:
    fmt = HelpFormatter
    parser = Parser(
        prog="backfill",
        description="Fill missing Spotify image URLs (album art, artist photos) in a listening-history "
        "DuckDB database. Without a command, `run` is assumed. `backfill help COMMAND` shows a command's "
        "options.",
        epilog=epilog(None),
        formatter_class=fmt,
    )
    version_option(parser)
    sub = parser.add_subparsers(dest="command", title="commands")

    run = sub.add_parser(
        "run",
        help="fetch missing images from Spotify and store them (the default)",
        description="Fetch album art for tracks and photos for artists whose image column is NULL, and store "
        "them. Only NULL columns are filled; nothing else in the database changes.",
        epilog=epilog("run"),
        formatter_class=fmt,
    )
    _db_option(run)
    run.add_argument("--only", choices=("tracks", "artists"), help="fetch one kind only")
    run.add_argument(
        "--rate",
        type=_number(float),
        default=DEFAULT_RATE,
        metavar="R",
        help=f"at most R requests per second, evenly paced (default {DEFAULT_RATE:g}: Spotify allows an "
        "unpublished number per rolling 30 s; this stays well under it)",
    )
    run.add_argument(
        "--source",
        choices=("auto", "api", "oembed"),
        default="auto",
        help="where images come from. auto (default): without credentials oEmbed; with them the Web API's "
        "batch endpoints where the app may use them, else oEmbed, with single Web API calls for what oEmbed "
        "cannot answer. api: the Web API only. oembed: oEmbed only (no credentials, no Web API quota)",
    )
    run.add_argument(
        "--fallback",
        metavar="LIST",
        help="providers asked, in this order, for what Spotify cannot fill: deezer, musicbrainz, or none "
        "(default: $BACKFILL_FALLBACK, else none). A candidate is taken only when your history confirms it",
    )
    run.add_argument(
        "--oembed-rate",
        type=_number(float),
        default=DEFAULT_OEMBED_RATE,
        metavar="R",
        help=f"at most R oEmbed requests per second (default {DEFAULT_OEMBED_RATE:g}); lowered automatically "
        "on 429s and raised back after a run of successes",
    )
    run.add_argument(
        "--concurrency",
        type=_number(int),
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"at most N requests in flight (default {DEFAULT_CONCURRENCY})",
    )
    run.add_argument(
        "--max-wait",
        type=_number(float, zero_ok=True),
        default=DEFAULT_MAX_WAIT,
        metavar="SECONDS",
        help="the longest Retry-After worth sleeping through; a longer one (e.g. the daily quota) stops the "
        f"run with exit {EXIT_RATE_LIMITED} and says when to resume (default {DEFAULT_MAX_WAIT:g})",
    )
    run.add_argument(
        "--retries",
        type=int,
        choices=range(0, 11),
        default=5,
        metavar="N",
        help="retries for server errors, timeouts and dropped connections, with exponential backoff "
        "(0-10, default 5); then the item counts as failed and stays empty",
    )
    run.add_argument(
        "--lock-timeout",
        type=_number(float, zero_ok=True),
        default=DEFAULT_LOCK_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for a database another process holds (at start and at each "
        f"write; the file is held only while read or written) before exit {EXIT_USAGE} (default "
        f"{DEFAULT_LOCK_TIMEOUT:g})",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout; text goes to stderr")
    run.add_argument(
        "--dry-run", action="store_true", help="count what would be fetched and estimate requests; no network"
    )
    run.add_argument(
        "--retry-misses",
        action="store_true",
        help="ask again for ids that earlier runs found missing on Spotify or without an image",
    )
    run.add_argument(
        "--recheck-after",
        type=_number(float, zero_ok=True),
        metavar="DAYS",
        help="ask again for remembered misses checked more than DAYS days ago",
    )
    run.add_argument(
        "--refresh",
        action="store_true",
        help="fetch again the images rows already have, and replace those Spotify changed (journaled: "
        "`backfill undo --last` puts them back); a run without it only fills empty ones",
    )
    run.add_argument(
        "--older-than",
        type=_number(float, zero_ok=True),
        metavar="DAYS",
        help="with --refresh: skip ids a refresh already checked within the last DAYS days",
    )
    run.add_argument("--sync", action="store_true", help="after a successful run, `backfill sync` to Postgres")
    _postgres_option(run)

    sync_cmd = sub.add_parser(
        "sync",
        help="push the images Postgres lacks to the dashboard's production Postgres",
        description="Copy album art, artist photos and recovered artist ids from the DuckDB history to the "
        "dashboard's Postgres, where Postgres has NULL. Matches tracks on spotify_track_uri and artists on "
        "artist_name; never adds, deletes or overwrites anything. One transaction: readers see the data before "
        "or after, never in between. Needs psycopg: pip install 'backfill[postgres]'.",
        epilog=epilog("sync"),
        formatter_class=fmt,
    )
    _db_option(sync_cmd)
    _postgres_option(sync_cmd)
    sync_cmd.add_argument(
        "--connect-timeout",
        type=_number(int),
        default=DEFAULT_CONNECT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up connecting to Postgres after this long (default {DEFAULT_CONNECT_TIMEOUT}; at least 2)",
    )
    sync_cmd.add_argument("--dry-run", action="store_true", help="count what would be pushed; write nothing")
    sync_cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    verify = sub.add_parser(
        "verify",
        help="show image coverage and what is still missing (read-only, no credentials)",
        description="Read-only report: tracks and artists with and without images, why rows are still "
        "missing one, and a sample of each. Needs no credentials.",
        epilog=epilog("verify"),
        formatter_class=fmt,
    )
    _db_option(verify)
    verify.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    verify.add_argument(
        "--html",
        metavar="PATH",
        help="also write a self-contained HTML page: coverage, the Top 50 tracks and artists with their images, "
        "and what is missing (an existing file is replaced only if it is an HTML page)",
    )
    verify.add_argument(
        "--embed-images",
        action="store_true",
        help="with --html: fetch each picture of the Top lists (http(s) only, 2 MB at most, a few seconds in all) "
        "and put it inside the page, which then shows them offline; a picture not fetched keeps its URL",
    )

    undo = sub.add_parser(
        "undo",
        help="put back the images a refresh or a set replaced, or take back what one provider wrote",
        description="Restore the values a `run --refresh` or a `backfill set` replaced, newest first; or, with "
        "--source, set back every value one provider wrote (to NULL, or for a set to the value it replaced). A "
        "value changed since is left alone. Needs no credentials.",
        epilog=epilog("undo"),
        formatter_class=fmt,
    )
    _db_option(undo)
    which = undo.add_mutually_exclusive_group(required=True)
    which.add_argument("--last", action="store_true", help="undo the last refresh run (or set)")
    which.add_argument("--since", metavar="TIME", help="undo every change made at or after TIME (ISO 8601, local time)")
    which.add_argument(
        "--source",
        choices=("spotify", "deezer", "musicbrainz", "manual"),
        metavar="NAME",
        help="set back everything NAME wrote: spotify, deezer, musicbrainz, or manual (what `backfill set` wrote)",
    )
    undo.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    add_set_command(sub, epilog("set"), _db_option)

    add_demo_command(sub, epilog("demo"))

    help_ = sub.add_parser(
        "help", help="show the options of a command", description="Show the options of COMMAND.", formatter_class=fmt
    )
    help_.add_argument("topic", nargs="?", metavar="COMMAND", help="run, verify, demo, ... (default: an overview)")
    for command in commands(parser).values():
        version_option(command)
    return parser
