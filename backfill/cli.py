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
from backfill.cliargs import ArgumentError, commands, parse
from backfill.config import DEFAULT_DB, ConfigError, Settings, load_settings
from backfill.parser import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    VERIFY_LOCK_TIMEOUT,
    UsageError,
    build_parser,
)
from backfill.pipeline import Pipeline, RunResult
from backfill.progress import Bars
from backfill.report import dry_run_json, dry_run_text, run_json, run_text, verify_json, verify_text
from backfill.report_html import TOP_N, page, write_page
from backfill.runner import RunConfig, SetupError, execute, make_plan
from backfill.sources.http import ClientOptions
from backfill.store import MissFilter, Plan, Store, StoreError
from backfill.sync import DEFAULT_CONNECT_TIMEOUT, SyncError, import_psycopg, sync
from backfill.sync_report import sync_json, sync_text
from backfill.token import CredentialsRejected
from backfill.toplists import ranking, top_artists, top_tracks


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
