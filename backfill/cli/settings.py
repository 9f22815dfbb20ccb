"""The commands behind `backfill …`, one module each, imported only when called: `sync` starts without the
fetching side (aiohttp, tqdm, the pipeline), which only `run` needs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from backfill.config import DEFAULT_DB, Settings, load_settings
from backfill.errors import UsageError


def checked_settings(args: argparse.Namespace) -> Settings:
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
