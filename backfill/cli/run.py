"""`backfill run`: fill the missing images (the work is in runner.py and pipeline.py; this is its CLI side:
options to a RunConfig, signals, the summary and the exit code)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backfill.cli.progress import Bars
from backfill.cli.settings import checked_settings
from backfill.cli.sync import sync_after_run
from backfill.config import Settings, parse_fallback
from backfill.engine.pipeline import Pipeline
from backfill.engine.runner import RunConfig, execute, make_plan
from backfill.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_RATE_LIMITED,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    SetupError,
    StoreError,
    UsageError,
)
from backfill.records import RunRecord
from backfill.report.fallbacks import fallback_json
from backfill.report.plan import dry_run_json, dry_run_text
from backfill.report.run import run_json, run_text
from backfill.report.text import text_width
from backfill.sources.auth import CredentialsRejected
from backfill.sources.http import ClientOptions
from backfill.store.runlock import run_lock
from backfill.store.store import MissFilter, Plan


def cmd_run(args: argparse.Namespace) -> int:
    if args.older_than is not None and not args.refresh:
        raise UsageError("--older-than goes with --refresh")
    settings = checked_settings(args)
    if args.fallback is not None:  # --fallback wins over BACKFILL_FALLBACK
        settings = dataclasses.replace(settings, fallback=parse_fallback(args.fallback))
    kinds: tuple[str, ...] = (args.only,) if args.only else ("tracks", "artists")
    options = ClientOptions(
        rate=args.rate,
        concurrency=args.concurrency,
        max_wait=args.max_wait,
        max_retries=args.retries,
        timeout=settings.timeout,
        give_up_after=settings.give_up_after,
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
    then = sync_after_run(args, settings) if args.sync and not args.dry_run else None  # checked before the run
    if not args.dry_run:  # one run per file: a second one stops here, before its plan (backfill.store.runlock)
        with run_lock(settings.db_path):
            plan = make_plan(config)
            return asyncio.run(_run(config, plan, as_json=args.json, then=then))
    # A dry run: read-only, no run lock (it writes nothing and spends no request).
    plan = make_plan(config)
    if args.json:
        doc = dry_run_json(plan, kinds, args.rate, use_api, use_oembed, args.oembed_rate)
        print(json.dumps({**doc, "env_file": _env_file(settings)}, indent=2))
        return EXIT_OK
    print(dry_run_text(plan, kinds, args.rate, use_api, use_oembed, args.oembed_rate, refresh=args.refresh))
    print(env_file_line(settings))
    return EXIT_OK


def _env_file(settings: Settings) -> str | None:
    return str(settings.env_file) if settings.env_file else None


def env_file_line(settings: Settings) -> str:
    """Which .env was read: one run from another directory would otherwise lose its settings unseen."""
    if settings.env_file:
        line = f"Settings read from {settings.env_file} (the environment wins)"
    else:
        line = f"No .env file in {Path.cwd()} or above: settings from the environment only"
    return textwrap.fill(line, text_width(), break_long_words=False, break_on_hyphens=False)


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
        code = _signal_exit(received)
        word = "terminated" if code == EXIT_SIGTERM else "interrupted"
        print(f"backfill: {word} before anything was fetched", file=sys.stderr)
        return code
    except SetupError as exc:
        raise UsageError(str(exc)) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
            if received:  # a second signal while the summary is written and threads wind down: nothing to stop
                signal.signal(signum, signal.SIG_IGN)

    result, elapsed = outcome.result, time.monotonic() - started
    refreshed = outcome.refreshed
    text = run_text(result, outcome.plan, config.kinds, outcome.db, elapsed, refreshed, outcome.fallbacks)
    print(text, file=sys.stderr if as_json else sys.stdout)
    doc = run_json(result, outcome.plan, config.kinds, outcome.db, elapsed)
    doc["env_file"] = _env_file(config.settings)
    if refreshed is not None:
        doc["replaced"] = dict(refreshed.rows)
    if outcome.fallbacks:
        doc["fallback"] = fallback_json(outcome.fallbacks, config.kinds)
    code = _exit_code(result, received)
    for phase in outcome.fallbacks:  # a provider's trouble is never hidden behind exit 0
        if code == EXIT_OK and phase.record is not None:
            code = _fallback_exit(phase.record, received)
    if then is not None and code == EXIT_OK:
        code = then(doc)
    if as_json:
        print(json.dumps(doc))
    return code


def _exit_code(result: RunRecord, received: list[int]) -> int:
    if result.stopped == "interrupted":
        return _signal_exit(received)
    if result.stopped == "rate_limited":
        return EXIT_RATE_LIMITED
    if result.stopped == "error":
        return EXIT_USAGE if isinstance(result.error, CredentialsRejected | StoreError) else EXIT_FAILED
    return EXIT_FAILED if any(s.failed for s in result.stats.values()) else EXIT_OK


def _fallback_exit(record: RunRecord, received: list[int]) -> int:
    """A provider's phase: a stop by signal or a wait as for Spotify; any other trouble (unreachable, refused,
    failures) is exit 1, never a usage error: the settings were right for Spotify's part."""
    if record.stopped in ("interrupted", "rate_limited"):
        return _exit_code(record, received)
    return EXIT_FAILED if record.stopped == "error" or any(s.failed for s in record.stats.values()) else EXIT_OK


def _signal_exit(received: list[int]) -> int:
    return EXIT_SIGTERM if received and received[0] == signal.SIGTERM else EXIT_SIGINT
