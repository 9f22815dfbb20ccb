"""`backfill undo`: put back what `run --refresh` replaced, from its journal."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from backfill.cli.parser import VERIFY_LOCK_TIMEOUT
from backfill.config import load_settings
from backfill.errors import EXIT_OK, UsageError
from backfill.report.undo import undo_json, undo_text
from backfill.store.journal import has_journal, undo
from backfill.store.store import Store


def cmd_undo(args: argparse.Namespace) -> int:
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
