"""Command line: arguments, set-up checks, exit codes. The work itself lives in pipeline.py."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from backfill import __version__
from backfill.config import ConfigError, load_settings
from backfill.pipeline import Pipeline
from backfill.report import Bars, dry_run_json, dry_run_text, run_json, run_text, verify_json, verify_text
from backfill.report_html import TOP_N, page, write_page
from backfill.runner import RunConfig, SetupError, execute, make_plan
from backfill.spotify import ClientOptions
from backfill.store import MissFilter, Plan, Store, StoreError
from backfill.token import CredentialsRejected

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RATE_LIMITED = 75  # EX_TEMPFAIL: try again later
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

DEFAULT_RATE = 5.0
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_WAIT = 120.0

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    done (ids Spotify does not know, or that have no image, are not errors)
  {EXIT_FAILED}    some items failed after retries (they stay empty; run again), or Spotify refused access
  {EXIT_USAGE}    usage, configuration or database error (nothing was written)
  {EXIT_RATE_LIMITED}   stopped early by Spotify's rate limit or daily quota (work so far is saved)
  {EXIT_SIGINT}  interrupted by Ctrl-C (SIGINT);  {EXIT_SIGTERM}: terminated (SIGTERM)"""

ENVIRONMENT = """\
environment (also read from ./.env; the real environment wins):
  SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET   app credentials (needed by `run`, not by `verify`)
  BACKFILL_DB         database file (default data/spotify.duckdb); --db overrides it
  SPOTIFY_API_URL     default https://api.spotify.com/v1
  SPOTIFY_TOKEN_URL   default https://accounts.spotify.com/api/token"""


class UsageError(Exception):
    pass


def _number(kind: type[float] | type[int], *, zero_ok: bool = False) -> Callable[[str], float | int]:
    """An argparse type: a finite number > 0; with zero_ok, any number >= 0 (infinity included)."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if math.isnan(value):
            raise argparse.ArgumentTypeError(f"not a number: {text!r}")
        if zero_ok and value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
        if not zero_ok and not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a number greater than 0: {text!r}")
        return value

    return parse


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="database file (default: $BACKFILL_DB or data/spotify.duckdb)")


def build_parser() -> argparse.ArgumentParser:
    epilog = f"{ENVIRONMENT}\n\n{EXIT_CODES}"
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="backfill",
        description="Fill missing Spotify image URLs (album art, artist photos) in a listening-history "
        "DuckDB database. Without a command, `run` is assumed.",
        epilog=epilog,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"backfill {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{run,verify,undo,demo}")

    run = sub.add_parser(
        "run",
        help="fetch missing images from Spotify and store them (the default)",
        description="Fetch album art for tracks and photos for artists whose image column is NULL, and store "
        "them. Only NULL columns are filled; nothing else in the database changes.",
        epilog=epilog,
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

    verify = sub.add_parser(
        "verify",
        help="show image coverage and what is still missing (read-only, no credentials)",
        description="Read-only report: tracks and artists with and without images, why rows are still "
        "missing one, and a sample of each. Needs no credentials.",
        epilog=epilog,
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

    undo = sub.add_parser(
        "undo",
        help="put back the images a refresh replaced",
        description="Restore the values a `run --refresh` replaced, newest first. A value changed since the "
        "refresh is left alone. Needs no credentials.",
        epilog=epilog,
        formatter_class=fmt,
    )
    _db_option(undo)
    which = undo.add_mutually_exclusive_group(required=True)
    which.add_argument("--last", action="store_true", help="undo the last refresh run")
    which.add_argument("--since", metavar="TIME", help="undo every change made at or after TIME (ISO 8601, local time)")
    undo.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    demo = sub.add_parser(
        "demo",
        help="build a sample history and backfill it from a local Spotify emulator (no credentials)",
        description="Write a sample listening history to data/demo.duckdb, start the local Spotify emulator, "
        "run the real backfill against it, then verify, writing data/demo.html. Needs no credentials or network. "
        "It exits with the code of its backfill run.",
        epilog=epilog,
        formatter_class=fmt,
    )
    demo.add_argument("--db", metavar="PATH", default="data/demo.duckdb", help="where to write the sample")
    demo.add_argument("--tracks", type=_number(int), default=1500, help="tracks in the sample (default 1500)")
    demo.add_argument("--artists", type=_number(int), default=400, help="artists in the sample (default 400)")
    demo.add_argument("--plays", type=_number(int), default=4000, help="plays in the sample (default 4000)")
    demo.add_argument("--batch", action="store_true", help="emulate an Extended Quota app (batch endpoints allowed)")
    demo.add_argument("--rate", type=_number(float), default=40.0, help="requests per second (default 40)")
    demo.add_argument(
        "--port",
        type=_number(int, zero_ok=True),
        default=8765,
        help="the emulator's port, which the page's image URLs name (default 8765; 0: any free port)",
    )
    return parser


def _argv_with_default_command(argv: Sequence[str]) -> list[str]:
    argv = list(argv)
    first = next((a for a in argv), None)
    if first in ("run", "verify", "undo", "demo", "-h", "--help", "--version"):
        return argv
    return ["run", *argv]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_argv_with_default_command(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "verify":
            return cmd_verify(args)
        if args.command == "undo":
            return cmd_undo(args)
        if args.command == "demo":
            from backfill.emulator.demo import run_demo

            return run_demo(args)
        return cmd_run(args)
    except (ConfigError, StoreError, UsageError) as exc:
        print(f"backfill: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except duckdb.Error as exc:  # e.g. out of memory or a corrupt file while reading what is pending
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"backfill: error: database error: {first}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("backfill: interrupted", file=sys.stderr)
        return EXIT_SIGINT


def cmd_verify(args: argparse.Namespace) -> int:
    settings = load_settings(args.db)
    store = Store.open(settings.db_path, read_only=True, need_artists=False)
    try:
        plan = store.plan(MissFilter())
        report = verify_json(store.image_counts(), plan, store.remembered_counts(), store.samples())
        html = _verify_page(settings.db_path, store, report) if args.html else None
    finally:
        store.close()
    if html is not None:
        try:
            write_page(Path(args.html), html, settings.db_path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot write {args.html}: {getattr(exc, 'strerror', None) or exc}") from None
        print(f"HTML report written to {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(verify_text(str(settings.db_path), report))
    return EXIT_OK


def _verify_page(db_path: Path, store: Store, report: dict[str, Any]) -> str:
    return page(str(db_path), report, store.ranking(), store.top_tracks(TOP_N), store.top_artists(TOP_N))


def cmd_undo(args: argparse.Namespace) -> int:
    from backfill.refresh import has_journal, undo, undo_json, undo_text

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since: not an ISO 8601 time: {args.since!r}") from None
        since = since.astimezone(UTC).replace(tzinfo=None)  # a time without zone is local time
    settings = load_settings(args.db)
    store = Store.open(settings.db_path, read_only=True, need_artists=False)
    try:
        writes = has_journal(store)  # no refresh ever ran: nothing to undo, and no need to open for writing
        result = undo(store, last=args.last, since=since) if not writes else None
    finally:
        store.close()
    if result is None:
        store = Store.open(settings.db_path, read_only=False, need_artists=False)
        try:
            result = undo(store, last=args.last, since=since)
        finally:
            store.close()
    print(json.dumps(undo_json(result)) if args.json else undo_text(result))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    if args.older_than is not None and not args.refresh:
        raise UsageError("--older-than goes with --refresh")
    settings = load_settings(args.db)
    kinds: tuple[str, ...] = (args.only,) if args.only else ("tracks", "artists")
    config = RunConfig(
        settings,
        kinds,
        MissFilter(args.retry_misses, args.recheck_after),
        ClientOptions(rate=args.rate, concurrency=args.concurrency, max_wait=args.max_wait, max_retries=args.retries),
        refresh=args.refresh,
        older_than_days=args.older_than,
    )
    if not args.dry_run:
        settings.require_credentials()
    # Read-only first: every check passes before anything can be written.
    plan = make_plan(config)
    if args.dry_run:
        if args.json:
            print(json.dumps(dry_run_json(plan, kinds, args.rate), indent=2))
        elif args.refresh:  # the same figures, about the rows that have an image
            text = dry_run_text(plan, kinds, args.rate).replace("DRY RUN:", "DRY RUN (refresh):")
            for old, new in (("without an image:", "with an image:   "), ("Known misses,", "Just checked,")):
                text = text.replace(old, new)
            print(text)
        else:
            print(dry_run_text(plan, kinds, args.rate))
        return EXIT_OK
    return asyncio.run(_run(config, plan, as_json=args.json))


async def _run(config: RunConfig, plan: Plan, *, as_json: bool) -> int:
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    received: list[int] = []
    main_task = asyncio.current_task()
    pipeline: Pipeline | None = None

    def on_start(p: Pipeline) -> None:
        nonlocal pipeline
        pipeline = p

    def on_signal(signum: int) -> None:
        received.append(signum)
        if pipeline is not None:
            pipeline.halt("interrupted")  # stop fetching; the writer still commits what came in
        elif main_task is not None:
            main_task.cancel()  # still setting up: nothing written yet

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        outcome = await execute(
            config,
            plan,
            progress=lambda p: Bars({k: getattr(p, k).pending for k in config.kinds}),
            started=on_start,
        )
    except asyncio.CancelledError:
        print("backfill: interrupted before anything was fetched", file=sys.stderr)
        return _signal_exit(received)
    except SetupError as exc:
        raise UsageError(str(exc)) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)

    result, elapsed = outcome.result, time.monotonic() - started
    text = run_text(result, outcome.plan, config.kinds, outcome.db, elapsed)
    if outcome.replaced is not None:
        text += (
            f"\nRefresh: {outcome.replaced['tracks']:,} track images and {outcome.replaced['artists']:,} artist photos "
        )
        text += "replaced (journaled; `backfill undo --last` puts them back), the rest unchanged."
    print(text, file=sys.stderr if as_json else sys.stdout)
    if as_json:
        summary = run_json(result, outcome.plan, config.kinds, outcome.db, elapsed)
        if outcome.replaced is not None:
            summary["replaced"] = outcome.replaced
        print(json.dumps(summary))
    if result.stopped == "interrupted":
        return _signal_exit(received)
    if result.stopped == "rate_limited":
        return EXIT_RATE_LIMITED
    if result.stopped == "error":
        return EXIT_USAGE if isinstance(result.error, CredentialsRejected) else EXIT_FAILED
    return EXIT_FAILED if any(s.failed for s in result.stats.values()) else EXIT_OK


def _signal_exit(received: list[int]) -> int:
    return EXIT_SIGTERM if received and received[0] == signal.SIGTERM else EXIT_SIGINT
