"""`backfill set`: a person's own image for a track or an artist (the store side: backfill.store.manual).

The overrides come from the command line (`set track URI URL`, `set artist NAME URL`) or a CSV file
(`set --file overrides.csv`): one override a line, `kind,key,url`, kind `track` or `artist`, fields separated
by commas (quoted when they hold one, as CSV does), a space after a comma ignored. A first line that reads
`kind,key,url` is a header and skipped (so a file with or without one works); blank lines are skipped. Every
line is checked before anything is written: a malformed one names its line, exits 2 and changes nothing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from backfill.cli.parser import VERIFY_LOCK_TIMEOUT
from backfill.cli.settings import checked_settings
from backfill.errors import EXIT_OK, UsageError
from backfill.kinds import LogKind
from backfill.report.overrides import set_json, set_text
from backfill.store.manual import Override, OverrideError, apply_overrides, plan_overrides
from backfill.store.store import Store

HEADER = ["kind", "key", "url"]
_KINDS: dict[str, LogKind] = {"track": "track", "artist": "artist"}


def read_overrides(path: Path) -> list[Override]:
    """The overrides in a CSV file; OverrideError naming the line for a malformed one."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise OverrideError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise OverrideError(f"cannot read {path}: {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    out: list[Override] = []
    first = True
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise OverrideError(f"{path}, line {reader.line_num}: not a CSV line ({exc})") from None
        where = f"{path}, line {reader.line_num}"
        if not fields or all(not f.strip() for f in fields):
            continue
        if first and [f.strip().lower() for f in fields] == HEADER:
            first = False
            continue
        first = False
        if len(fields) != len(HEADER):
            raise OverrideError(f"{where}: {len(fields)} fields, expected 3 (kind,key,url)")
        kind, key, url = fields[0].strip().lower(), fields[1], fields[2].strip()
        if kind not in _KINDS:
            raise OverrideError(f"{where}: kind {fields[0]!r} is neither 'track' nor 'artist'")
        out.append(Override(_KINDS[kind], key, url, where))
    if not out:
        raise OverrideError(f"{path}: no override in it (lines of kind,key,url)")
    return out


def _overrides(args: argparse.Namespace) -> list[Override]:
    given = [a for a in (args.kind, args.key, args.url) if a is not None]
    if args.file is not None:
        if given:
            raise UsageError("set: give either KIND KEY URL or --file CSV, not both")
        return read_overrides(Path(args.file))
    if len(given) != len(HEADER):
        raise UsageError("set: give KIND KEY URL (track URI URL, or artist NAME URL), or --file CSV")
    return [Override(_KINDS[args.kind], args.key, args.url.strip(), "the command line")]


def cmd_set(args: argparse.Namespace) -> int:
    overrides = _overrides(args)  # a malformed file: an error before the database is opened
    settings = checked_settings(args)
    # Like undo: a run holds the file only while it writes a batch, so wait a little for it to let go.
    store = Store.open(settings.db_path, read_only=True, need_artists=False, lock_timeout=VERIFY_LOCK_TIMEOUT)
    try:
        result = plan_overrides(store, overrides)  # every override checked, nothing written
    finally:
        store.close()
    if result.writes and not args.dry_run:
        store = Store.open(settings.db_path, read_only=False, need_artists=False, lock_timeout=VERIFY_LOCK_TIMEOUT)
        try:
            result = apply_overrides(store, overrides)
        finally:
            store.close()
    print(json.dumps(set_json(result, dry_run=args.dry_run)) if args.json else set_text(result, dry_run=args.dry_run))
    return EXIT_OK
