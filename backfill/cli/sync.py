"""`backfill sync` and `run --sync`: push the images to the dashboard's Postgres (the work is in backfill.sync)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from backfill.config import Settings, load_settings
from backfill.errors import EXIT_OK, EXIT_USAGE, StoreError, SyncError, UsageError
from backfill.sync import DEFAULT_CONNECT_TIMEOUT, import_psycopg, sync
from backfill.sync.report import sync_json, sync_text


def postgres_url(args: argparse.Namespace, settings: Settings) -> str:
    import_psycopg()  # its absence is the first thing to say
    url = args.postgres or settings.postgres_url
    if not url:
        raise UsageError("no Postgres URL: set POSTGRES_URL in the environment or in .env, or pass --postgres URL")
    return url


def cmd_sync(args: argparse.Namespace) -> int:
    settings = load_settings(args.db)
    url = postgres_url(args, settings)
    report = sync(settings.db_path, url, dry_run=args.dry_run, connect_timeout=args.connect_timeout)
    if args.json:
        print(json.dumps(sync_json(report)))
    else:
        print(sync_text(report))
    return EXIT_OK


def sync_after_run(args: argparse.Namespace, settings: Settings) -> Callable[[dict[str, Any]], int]:
    """`run --sync`: the sync that follows a successful run; its report goes into the run's JSON as "sync"."""
    url = postgres_url(args, settings)

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
