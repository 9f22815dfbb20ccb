"""Command line: arguments, set-up checks, exit codes. The work itself lives in pipeline.py."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from backfill import interrupts
from backfill.cliargs import ArgumentError, HelpFormatter, Parser, commands, parse, version_option
from backfill.cliargs import number as _number
from backfill.config import DEFAULT_DB, ConfigError, Settings, load_settings
from backfill.pipeline import Pipeline, RunResult
from backfill.progress import Bars
from backfill.report import dry_run_json, dry_run_text, run_json, run_text, verify_json, verify_text
from backfill.report_html import TOP_N, page, write_page
from backfill.runner import RunConfig, SetupError, execute, make_plan
from backfill.sources.http import ClientOptions
from backfill.sources.oembed import DEFAULT_OEMBED_RATE
from backfill.store import MissFilter, Plan, Store, StoreError
from backfill.sync import DEFAULT_CONNECT_TIMEOUT, SyncError, import_psycopg, sync
from backfill.sync_report import sync_json, sync_text
from backfill.token import CredentialsRejected
from backfill.toplists import ranking, top_artists, top_tracks

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RATE_LIMITED = 75  # EX_TEMPFAIL: try again later
EXIT_SIGINT = interrupts.EXIT_SIGINT
EXIT_SIGTERM = interrupts.EXIT_SIGTERM
EXIT_BROKEN_PIPE = 141  # what a shell reports for SIGPIPE: the reader (e.g. `| head`) stopped reading

DEFAULT_RATE = 5.0
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_WAIT = 120.0
DEFAULT_LOCK_TIMEOUT = 30.0
VERIFY_LOCK_TIMEOUT = 5.0  # verify waits this long for a run's flush (or the dashboard) to let go of the file

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    done (ids Spotify does not know, or that have no image, are not errors)
  {EXIT_FAILED}    some items failed after retries (they stay empty; run again), or Spotify refused access
  {EXIT_USAGE}    usage, configuration or database error (nothing was written)
  {EXIT_RATE_LIMITED}   stopped early by Spotify's rate limit or daily quota (work so far is saved)
  {EXIT_SIGINT}  interrupted by Ctrl-C (SIGINT);  {EXIT_SIGTERM}: terminated (SIGTERM)
  {EXIT_BROKEN_PIPE}  stdout was closed early (e.g. `backfill verify | head`): stopped quietly"""

ENVIRONMENT = """\
environment (also read from ./.env; the real environment wins):
  SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET   app credentials (optional: without them, `run` uses oEmbed)
  BACKFILL_DB         database file (default data/spotify.duckdb); --db overrides it
  SPOTIFY_API_URL     default https://api.spotify.com/v1
  SPOTIFY_TOKEN_URL   default https://accounts.spotify.com/api/token
  SPOTIFY_OEMBED_URL  default https://open.spotify.com/oembed
  POSTGRES_URL        the dashboard's production Postgres (`sync`, `run --sync`); --postgres overrides it
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY   the usual proxy settings, read once at start"""


class UsageError(Exception):
    pass


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="database file (default: $BACKFILL_DB or data/spotify.duckdb)")


def _postgres_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", metavar="URL", help="Postgres URL (default: $POSTGRES_URL)")


def build_parser() -> argparse.ArgumentParser:
    epilog = f"{ENVIRONMENT}\n\n{EXIT_CODES}"
    fmt = HelpFormatter
    parser = Parser(
        prog="backfill",
        description="Fill missing Spotify image URLs (album art, artist photos) in a listening-history "
        "DuckDB database. Without a command, `run` is assumed. `backfill help COMMAND` shows a command's "
        "options.",
        epilog=epilog,
        formatter_class=fmt,
    )
    version_option(parser)
    sub = parser.add_subparsers(dest="command", title="commands")

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
        "--source",
        choices=("auto", "api", "oembed"),
        default="auto",
        help="where images come from. auto (default): without credentials oEmbed; with them the Web API's "
        "batch endpoints where the app may use them, else oEmbed, with single Web API calls for what oEmbed "
        "cannot answer. api: the Web API only. oembed: oEmbed only (no credentials, no Web API quota)",
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
        help="how long to wait, with backoff, for a database another process holds (at start and at each "
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
        epilog=epilog,
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
        description="Write a sample listening history (to data/demo.duckdb unless --db says), start the local "
        "Spotify emulator, run the real backfill against it, then verify, writing data/demo.html. "
        "Needs no credentials or network. "
        "It exits with the code of its backfill run.",
        epilog=epilog,
        formatter_class=fmt,
    )
    demo.add_argument(
        "--db",
        metavar="PATH",
        default="data/demo.duckdb",
        help="where to write the sample (default data/demo.duckdb); an existing file is replaced only if an "
        "earlier demo made it",
    )
    demo.add_argument("--tracks", type=_number(int), default=1500, metavar="N", help="rows in tracks (default 1500)")
    demo.add_argument(
        "--artists",
        type=_number(int),
        default=400,
        metavar="N",
        help="artists the emulator knows (default 400); the artists table has a few more rows: names that share "
        "an id or have none",
    )
    demo.add_argument("--plays", type=_number(int), default=4000, metavar="N", help="rows in plays (default 4000)")
    demo.add_argument("--batch", action="store_true", help="emulate an Extended Quota app (batch endpoints allowed)")
    demo.add_argument("--rate", type=_number(float), default=40.0, metavar="R", help="requests per second (default 40)")
    demo.add_argument(
        "--port",
        type=_number(int, zero_ok=True),
        default=8765,
        metavar="N",
        help="the emulator's port, which the page's image URLs name (default 8765; 0: any free port)",
    )

    help_ = sub.add_parser(
        "help", help="show the options of a command", description="Show the options of COMMAND.", formatter_class=fmt
    )
    help_.add_argument("topic", nargs="?", metavar="COMMAND", help="run, verify, demo, ... (default: an overview)")
    for command in commands(parser).values():
        version_option(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # SIGTERM during set-up or a long plan: one line and exit 143, like Ctrl-C (which raises KeyboardInterrupt).
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = interrupts.install() if in_main_thread else None
    try:
        return _main(argv)
    except ArgumentError as exc:
        exc.parser.print_usage(sys.stderr)
        print(f"{exc.parser.prog}: error: {exc}", file=sys.stderr)
        if "--json" in argv:
            print(json.dumps({"error": str(exc)}))
        raise SystemExit(EXIT_USAGE) from None
    except BrokenPipeError:  # `backfill ... | head`: the reader has seen enough
        with contextlib.suppress(OSError, ValueError):  # no second error when Python flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parse(parser, argv, default="run")
    try:
        if args.command == "help":
            return _help(parser, args.topic)
        if args.command == "verify":
            return cmd_verify(args)
        if args.command == "sync":
            return cmd_sync(args)
        if args.command == "undo":
            return cmd_undo(args)
        if args.command == "demo":
            from backfill.emulator.demo import run_demo

            return run_demo(args, argv)
        return cmd_run(args)
    except (ConfigError, StoreError, SyncError, UsageError) as exc:
        return _setup_error(args, str(exc))
    except RuntimeError as exc:
        if "interrupt" not in str(exc).lower():  # DuckDB's "Query interrupted" after Ctrl-C: handled below
            raise
        return interrupts.report()
    except (duckdb.InterruptException, KeyboardInterrupt):  # Ctrl-C or SIGTERM, while DuckDB works or not
        return interrupts.report()
    except duckdb.Error as exc:  # e.g. out of memory or a corrupt file while reading what is pending
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _setup_error(args, f"database error: {first}")


def _help(parser: argparse.ArgumentParser, topic: str | None) -> int:
    known = commands(parser)
    if topic is None:
        parser.print_help()
    elif topic in known:
        known[topic].print_help()
    else:
        known["help"].error(f"no command {topic!r} (choose from {', '.join(known)})")
    return EXIT_OK


def _setup_error(args: argparse.Namespace, message: str) -> int:
    """One line on stderr; with --json also the JSON object, its `error` set, on stdout."""
    print(f"backfill: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        out: dict[str, Any] = {"error": message}
        if args.command == "run":
            out = {"dry_run": True, **out} if args.dry_run else {"stopped": "error", **out}
        print(json.dumps(out))
    return EXIT_USAGE


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, once the database file is known to exist (the hint says where its name came from)."""
    settings = load_settings(args.db)
    path = settings.db_path
    if not os.path.lexists(path):
        if args.db is not None:
            where = ""
        elif path == Path(DEFAULT_DB):
            where = " (the default: set BACKFILL_DB or pass --db)"
        else:
            where = " (from BACKFILL_DB; pass --db for another file)"
        raise UsageError(f"database not found: {path}{where}")
    return settings


def cmd_verify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = Store.open(settings.db_path, read_only=True, need_artists=False, lock_timeout=VERIFY_LOCK_TIMEOUT)
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
        print(json.dumps({**report, "error": None}, indent=2))
    else:
        print(verify_text(str(settings.db_path), report))
    return EXIT_OK


def _verify_page(db_path: Path, store: Store, report: dict[str, Any]) -> str:
    return page(str(db_path), report, ranking(store), top_tracks(store, TOP_N), top_artists(store, TOP_N))


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
    # Like verify: a run holds the file only while it writes a batch, so wait a little for it to let go.
    store = Store.open(settings.db_path, read_only=True, need_artists=False, lock_timeout=VERIFY_LOCK_TIMEOUT)
    try:
        writes = has_journal(store)  # no refresh ever ran: nothing to undo, and no need to open for writing
        result = undo(store, last=args.last, since=since) if not writes else None
    finally:
        store.close()
    if result is None:
        store = Store.open(settings.db_path, read_only=False, need_artists=False, lock_timeout=VERIFY_LOCK_TIMEOUT)
        try:
            result = undo(store, last=args.last, since=since)
        finally:
            store.close()
    print(json.dumps(undo_json(result)) if args.json else undo_text(result))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    if args.older_than is not None and not args.refresh:
        raise UsageError("--older-than goes with --refresh")
    settings = _settings(args)
    kinds: tuple[str, ...] = (args.only,) if args.only else ("tracks", "artists")
    options = ClientOptions(
        rate=args.rate, concurrency=args.concurrency, max_wait=args.max_wait, max_retries=args.retries
    )
    config = RunConfig(
        settings,
        kinds,
        MissFilter(args.retry_misses, args.recheck_after),
        options,
        source=args.source,
        oembed=dataclasses.replace(options, rate=args.oembed_rate),
        lock_timeout=args.lock_timeout,
        refresh=args.refresh,
        older_than_days=args.older_than,
    )
    use_api, use_oembed = config.sources(check=not args.dry_run)  # a missing credential: an error before anything
    then = _sync_after_run(args, settings) if args.sync and not args.dry_run else None  # checked before the run
    # Read-only first: every check passes before anything can be written.
    plan = make_plan(config)
    if args.dry_run:
        if args.json:
            print(json.dumps(dry_run_json(plan, kinds, args.rate, use_api, use_oembed, args.oembed_rate), indent=2))
        elif args.refresh:  # the same figures, about the rows that have an image
            text = dry_run_text(plan, kinds, args.rate, use_api, use_oembed, args.oembed_rate)
            text = text.replace("DRY RUN:", "DRY RUN (refresh):")
            for old, new in (("without an image:", "with an image:   "), ("Known misses,", "Just checked,")):
                text = text.replace(old, new)
            print(text)
        else:
            print(dry_run_text(plan, kinds, args.rate, use_api, use_oembed, args.oembed_rate))
        return EXIT_OK
    return asyncio.run(_run(config, plan, as_json=args.json, then=then))


def _postgres_url(args: argparse.Namespace, settings: Settings) -> str:
    import_psycopg()  # its absence is the first thing to say
    url = args.postgres or settings.postgres_url
    if not url:
        raise UsageError("no Postgres URL: set POSTGRES_URL in the environment or in .env, or pass --postgres URL")
    return url


def cmd_sync(args: argparse.Namespace) -> int:
    settings = load_settings(args.db)
    url = _postgres_url(args, settings)
    report = sync(settings.db_path, url, dry_run=args.dry_run, connect_timeout=args.connect_timeout)
    if args.json:
        print(json.dumps(sync_json(report)))
    else:
        print(sync_text(report))
    return EXIT_OK


def _sync_after_run(args: argparse.Namespace, settings: Settings) -> Callable[[dict[str, Any]], int]:
    """`run --sync`: the sync that follows a successful run; its report goes into the run's JSON as "sync"."""
    url = _postgres_url(args, settings)

    def then(doc: dict[str, Any]) -> int:
        try:
            report = sync(settings.db_path, url, connect_timeout=DEFAULT_CONNECT_TIMEOUT)
        except (SyncError, StoreError) as exc:
            print(f"backfill: error: sync: {exc}", file=sys.stderr)
            doc["sync"] = {"error": str(exc)}
            return EXIT_USAGE
        print(sync_text(report), file=sys.stderr if args.json else sys.stdout)
        doc["sync"] = sync_json(report)
        return EXIT_OK

    return then


async def _run(
    config: RunConfig, plan: Plan, *, as_json: bool, then: Callable[[dict[str, Any]], int] | None = None
) -> int:
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
            if received:  # a second signal while the summary is written and threads wind down: nothing to stop
                signal.signal(signum, signal.SIG_IGN)

    result, elapsed = outcome.result, time.monotonic() - started
    text = run_text(result, outcome.plan, config.kinds, outcome.db, elapsed)
    if outcome.replaced is not None:
        text += (
            f"\nRefresh: {outcome.replaced['tracks']:,} track images and {outcome.replaced['artists']:,} artist photos "
        )
        text += "replaced (journaled; `backfill undo --last` puts them back), the rest unchanged."
    print(text, file=sys.stderr if as_json else sys.stdout)
    doc = run_json(result, outcome.plan, config.kinds, outcome.db, elapsed)
    if outcome.replaced is not None:
        doc["replaced"] = outcome.replaced
    code = _exit_code(result, received)
    if then is not None and code == EXIT_OK:
        code = then(doc)
    if as_json:
        print(json.dumps(doc))
    return code


def _exit_code(result: RunResult, received: list[int]) -> int:
    if result.stopped == "interrupted":
        return _signal_exit(received)
    if result.stopped == "rate_limited":
        return EXIT_RATE_LIMITED
    if result.stopped == "error":
        return EXIT_USAGE if isinstance(result.error, CredentialsRejected | StoreError) else EXIT_FAILED
    return EXIT_FAILED if any(s.failed for s in result.stats.values()) else EXIT_OK


def _signal_exit(received: list[int]) -> int:
    return EXIT_SIGTERM if received and received[0] == signal.SIGTERM else EXIT_SIGINT
