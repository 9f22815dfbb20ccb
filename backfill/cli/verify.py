"""`backfill verify`: what the history has and lacks, as text, JSON or an HTML page."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backfill.cli.parser import VERIFY_LOCK_TIMEOUT
from backfill.cli.settings import checked_settings
from backfill.errors import EXIT_OK, UsageError
from backfill.report.html import TOP_N, page, refusal, write_page
from backfill.report.verify import verify_json, verify_record, verify_text
from backfill.store.dbfile import dashboard_cannot_open, sniff
from backfill.store.provenance import source_counts
from backfill.store.store import Store
from backfill.store.toplists import Ranking, TopItem, ranking, top_artists, top_tracks, unconfirmed

UNCONFIRMED_SHOWN = 100  # the unconfirmed candidates listed (JSON and the HTML page); the count is of all


def cmd_verify(args: argparse.Namespace) -> int:
    settings = checked_settings(args)
    if args.embed_images and args.html is None:
        raise UsageError("--embed-images needs --html PATH (it puts the pictures inside that page)")
    if args.html is not None and (refused := refusal(args.html, settings.db_path)):
        raise UsageError(f"cannot write {args.html!r}: {refused}")  # before any work: nothing is read or written
    store = Store.open(settings.db_path, read_only=True, need_artists=False, lock_timeout=VERIFY_LOCK_TIMEOUT)
    unopenable = dashboard_cannot_open(settings.db_path, sniff(settings.db_path))
    try:
        plan = store.plan()
        record = verify_record(
            str(settings.db_path),
            store.image_counts(),
            plan,
            store.remembered_counts(),
            store.samples(),
            source_counts(store.reader(), store.schema),
            unconfirmed(store, UNCONFIRMED_SHOWN),
        )
        tops = _tops(store) if args.html is not None else None
    finally:
        store.close()
    if tops is not None:  # the database is closed by now: fetching pictures never holds it open
        embedded = None
        if args.embed_images:
            from backfill.sources.pictures import embed  # aiohttp: only this option pays for it, not every verify

            embedded = embed((item.image_url for item in (*tops[1], *tops[2])), settings.embed_timeout)
        html = page(str(settings.db_path), record, *tops, embedded.uris if embedded else None)
        if embedded is not None:
            print(embedded.summary(), file=sys.stderr)
        try:
            write_page(Path(args.html), html, settings.db_path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot write {args.html}: {getattr(exc, 'strerror', None) or exc}") from None
        print(f"HTML report written to {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps({**verify_json(record), "error": None}, indent=2))
    else:
        print(verify_text(record))
    if unopenable:
        print(unopenable, file=sys.stderr)
    return EXIT_OK


def _tops(store: Store) -> tuple[Ranking, list[TopItem], list[TopItem]]:
    return ranking(store), top_tracks(store, TOP_N), top_artists(store, TOP_N)
