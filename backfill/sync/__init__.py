"""`backfill sync`: push the images the DuckDB history has and production Postgres lacks.

Rules this package keeps:
- Only NULL Postgres values are filled: `tracks.album_image_url`, `artists.image_url` and
  `artists.spotify_artist_id`, matched on `spotify_track_uri` / `artist_name`. No row is inserted or deleted,
  no other column changes, and a value already set stays as it is, with one exception: where the history's
  refresh journal shows that backfill itself replaced a value (`run --refresh`, `set`, or an `undo` putting
  one back, or NULL), Postgres still holding one of the values replaced gets DuckDB's current one, or that
  NULL ("refreshed"), guarded by the same UPDATE's WHERE clause. A value set in Postgres by anyone else is
  never one of them, and stays; a NULL the journal does not show backfill leaving is never pushed.
- One transaction, set-based: the rows Postgres lacks are COPYed into a TEMP table, then one guarded
  `UPDATE … FROM` per table (postgres.py). Readers see the state before or after, never half of it.
- Little crosses the network: Postgres sends digests of its keys and values (digests.py), compared here with
  the history's (history.py); only the rows it lacks go up. Four round trips after connecting.
- Every check (both schemas, privileges) runs before the first write; any error rolls back: nothing changed.
- The DuckDB file is open (read-only) only while its values are read, as Postgres is connected to meanwhile
  (opening.py); it is closed before anything is written to Postgres.
- A password in a URL is never printed: every message carries `mask_url(url)` and is scrubbed.
"""

from __future__ import annotations

import time
from pathlib import Path

from backfill.errors import SyncError
from backfill.sync.digests import Send, compare, index
from backfill.sync.history import read_history
from backfill.sync.model import DEFAULT_CONNECT_TIMEOUT, TARGETS, ColumnCounts, SyncReport
from backfill.sync.opening import Opening
from backfill.sync.pgurl import mask_url, scrub
from backfill.sync.postgres import INSTALL_HINT, failure, import_psycopg, push, rollback

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "INSTALL_HINT",
    "ColumnCounts",
    "SyncError",
    "SyncReport",
    "import_psycopg",
    "sync",
]


def sync(
    db_path: Path, url: str, *, dry_run: bool = False, connect_timeout: int = DEFAULT_CONNECT_TIMEOUT
) -> SyncReport:
    """Push what DuckDB has and Postgres lacks (or, with dry_run, only count it in a read-only transaction)."""
    pg = import_psycopg()  # before anything else: without it there is nothing to do
    started = time.monotonic()
    report = SyncReport(mask_url(url), str(db_path), dry_run)
    opening = Opening(url, connect_timeout, report.postgres, dry_run)  # connects meanwhile
    try:
        history = read_history(db_path)  # its errors come first, as if Postgres had not been asked yet
    except BaseException:
        opening.abandon()
        raise
    con, digests, error = opening.result()  # Ctrl-C while waiting: abandoned, and raised
    writing = False
    try:
        try:
            if error is not None:
                raise error
            send: dict[str, list[Send]] = {}
            for target in TARGETS:
                blob = digests[target.table]
                report.digest_bytes += len(blob)
                theirs = index(target, blob)
                rows, olds = history.rows[target.table], history.replaceable[target.table]
                report.columns[target.table], send[target.table] = compare(target, rows, theirs, olds)
            report.rows_sent = sum(len(rows) for rows in send.values())
            assert con is not None
            if dry_run:
                con.execute("ROLLBACK")
                report.rows_updated = {t.table: 0 for t in TARGETS}
            else:
                writing = True
                report.rows_updated = push(con, send)
        except pg.Error as exc:
            rollback(con)
            raise SyncError(scrub(failure(exc, report.postgres, writing=writing), url)) from None
        except SyncError as exc:
            rollback(con)
            raise SyncError(scrub(str(exc), url)) from None
        except BaseException:
            rollback(con)
            raise
    finally:
        if con is not None:
            con.close()
    report.elapsed = time.monotonic() - started
    return report
