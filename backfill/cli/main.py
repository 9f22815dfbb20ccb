"""Command line: arguments, errors and exit codes shared by every command; each command in backfill.cli.settings."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import duckdb

from backfill.cli import signals as interrupts
from backfill.cli.args import ArgumentError, commands, parse, suggestion
from backfill.cli.parser import build_parser
from backfill.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    StoreError,
    SyncError,
    UsageError,
    first_line,
)


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
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parse(parser, argv, default="run")
    try:
        if args.command == "help":
            return _help(parser, args.topic)
        # Each command's module is imported when it is called: `sync` needs neither aiohttp nor tqdm.
        if args.command == "verify":
            from backfill.cli.verify import cmd_verify

            return cmd_verify(args)
        if args.command == "sync":
            from backfill.cli.sync import cmd_sync

            return cmd_sync(args)
        if args.command == "undo":
            from backfill.cli.undo import cmd_undo

            return cmd_undo(args)
        if args.command == "set":
            from backfill.cli.set import cmd_set

            return cmd_set(args)
        if args.command == "demo":
            from backfill.cli.demo import cmd_demo

            return cmd_demo(args, argv)
        from backfill.cli.run import cmd_run

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
        return _setup_error(args, f"database error: {first_line(exc)}")


def _help(parser: argparse.ArgumentParser, topic: str | None) -> int:
    known = commands(parser)
    if topic is None:
        parser.print_help()
    elif topic in known:
        known[topic].print_help()
    else:
        hint = suggestion(topic, list(known)) or f" (choose from {', '.join(known)})"
        known["help"].error(f"no command {topic!r}{hint}")
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
