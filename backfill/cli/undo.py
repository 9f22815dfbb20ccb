"""`backfill undo`: put back what `run --refresh` or `set` replaced, from the journal; or, with --source, set
back what one provider wrote (backfill.store.unwrite)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from backfill.cli.parser import VERIFY_LOCK_TIMEOUT
from backfill.config import load_settings
from backfill.errors import EXIT_OK, UsageError
from backfill.report.undo import source_undo_json, source_undo_text, undo_json, undo_text
from backfill.store.journal import has_journal, undo
from backfill.store.store import Store
from backfill.store.unwrite import SourceUndo, has_provenance, undo_source


def cmd_undo(args: argparse.Namespace) -> int:
    if args.source:
        return _undo_source(args)
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


def _undo_source(args: argparse.Namespace) -> int:
    settings = load_settings(args.db)
    store = Store.open(settings.db_path, read_only=True, need_artists=False, lock_timeout=VERIFY_LOCK_TIMEOUT)
    try:
        writes = has_provenance(store)  # nothing was ever written by backfill: no need to open for writing
    finally:
        store.close()
    result = SourceUndo(args.source)
    if writes:
        store = Store.open(settings.db_path, read_only=False, need_artists=False, lock_timeout=VERIFY_LOCK_TIMEOUT)
        try:
            result = undo_source(store, args.source)
        finally:
            store.close()
    print(json.dumps(source_undo_json(result)) if args.json else source_undo_text(result))
    return EXIT_OK
