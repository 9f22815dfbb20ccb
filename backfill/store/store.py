"""The listening-history database: what is missing, and filling it in.

Rules the store keeps (with the modules beside it, below):
- Only NULL image columns are filled, and every UPDATE says so in its WHERE clause, so a value written by
  someone else meanwhile is never overwritten. No row of the user's tables is inserted or deleted.
- Writes are set-based: one statement per batch of rows (lists passed as parameters and unnested).
- The user's schema is never created or altered; our own table, `backfill_log`, appears with the first write of
  a run (backfill.store.refresh adds two more).
- The file is attached only while it is read or written (backfill.store.attach): the plan is read, then the file is
  released; each batch attaches it for writing, and the writer releases it when it has nothing more to write.
  After the plan nothing is read under the lock: the schema is not checked again (the run's own lock keeps
  other runs out), and the counts after the run are the plan's plus what this run committed.
- All methods are blocking: callers in the event loop run them on one dedicated thread.

The SQL lives beside it: what is missing and the queues in backfill.store.pending, the writes in backfill.store.writes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Self

import duckdb

from backfill.errors import StoreError
from backfill.kinds import LogKind
from backfill.records import KindPlan, MissFilter, Outcome, Plan, Status
from backfill.store.attach import Attachment, Mode
from backfill.store.constraints import check_constraints
from backfill.store.dbfile import refuse_if_unkeepable, refuse_if_unwritable, sniff
from backfill.store.fallback import Ask, Fallback, lookup_pages
from backfill.store.pending import ARTIST_QUEUE, TRACK_QUEUE, artist_rows, pages
from backfill.store.schema import LOG_TABLE, Schema, check_schema, one, repair_own_tables
from backfill.store.selection import Fill, Selection
from backfill.store.waits import Wait, note_wait, read_wait

__all__ = ["KindPlan", "MissFilter", "Outcome", "Plan", "Status", "Store", "StoreError"]


class Store:
    """The user's file, worked on through a selection (a run's Fill, or a Refresh): which rows the plan queues,
    and what `apply` writes."""

    def __init__(self, link: Attachment, need_artists: bool, selection: Selection | None = None) -> None:
        self.selection: Selection = selection or Fill()
        self._link = link
        self.path = link.path
        self._need_artists = need_artists
        self.schema = Schema(False, False, False, False, False)  # set by each attach
        self._pending = {"tracks": 0, "artists": 0}  # queue lengths, set by plan()
        self._for_run = False  # a run will write: its plan refuses constraints that would reject the writes
        self._planned = False  # after plan(), attaching for a write checks nothing (no read under the lock)
        self._counts: dict[str, tuple[int, int]] = {}  # per table (rows, rows with an image): at plan + committed

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool,
        need_artists: bool = True,
        for_run: bool = False,
        lock_timeout: float = 0.0,
        selection: Selection | None = None,
    ) -> Self:
        """Check the file and attach it (for writing unless read_only); `for_run`: a run will write it, so
        refuse what it cannot keep readable. A busy file is tried again for up to lock_timeout seconds."""
        path = Path(path)
        header = sniff(path)
        if for_run or not read_only:
            refuse_if_unkeepable(path, header)
            refuse_if_unwritable(path)
        link = Attachment(path, header, lock_timeout=lock_timeout)
        store = cls(link, need_artists, selection)
        store._for_run = for_run or not read_only
        try:
            store._attach("read" if read_only else "write")
        except BaseException:
            link.close()
            raise
        return store

    def _attach(self, mode: Mode) -> None:
        """Attach the file if it is not; each time, check its schema again (another process may change it)."""
        if not self._link.attach(mode) or self._planned:
            return
        self.schema = check_schema(self._link.con, self._need_artists)
        if self._link.mode == "write" and self.schema.log_repair:
            repair_own_tables(self._link.con)
            self.schema = replace(self.schema, log_repair=False)

    def release(self) -> None:
        """Detach the file: its lock is free for others until the next read or write."""
        self._link.detach()

    @property
    def attached(self) -> bool:
        return self._link.mode is not None

    def close(self) -> None:
        self._link.close()

    def interrupt(self) -> None:
        """Stop the query running on the connection (from another thread); it raises where it runs."""
        self._link.con.interrupt()

    # -- what is missing (the SQL: backfill.store.pending) ---------------------------------------------

    def artist_rows(self) -> str:
        """SQL: one row per artist name this store would fill, with the id to fetch (backfill.store.pending)."""
        return artist_rows(self.schema, self.selection.has_image, self.selection.recovers_ids)

    def plan(self, kinds: Sequence[str] = ("tracks", "artists")) -> Plan:
        """Count what is missing, and queue the ids to fetch (most-played first) for the streams below: TEMP
        tables of this connection, read in short pages (backfill.store.pending.queue_plan says why)."""
        self._attach("read")
        self._pending = {"tracks": 0, "artists": 0}
        self.selection.begin(self.schema)
        if self._for_run:
            check_constraints(self._link.con, self.schema)
        plan = self.selection.queue(self._link.con, self.schema, kinds)
        self._pending = {"tracks": plan.tracks.pending, "artists": plan.artists.pending}
        self._counts = self.image_counts()
        self._planned = True
        return plan

    def stream_tracks(self) -> Generator[list[tuple[str, int | None]], None, None]:
        """Pages of (id, album group key or None) from plan()'s queue: album groups contiguous, most-played
        groups first."""
        return pages(self._link.con, TRACK_QUEUE, "id, grp", self._pending["tracks"])

    def stream_artists(self) -> Generator[list[tuple[str, list[str] | None]], None, None]:
        """Pages of (id, names recovered for that id) from plan()'s queue, most-played first."""
        return pages(self._link.con, ARTIST_QUEUE, "id, names", self._pending["artists"])

    def stream_lookups(self, kind: LogKind) -> Generator[list[Ask], None, None]:
        """A fallback store's queue (backfill.store.fallback): pages of the rows to ask about, most-played
        first, each with its lookup and the providers to ask (in priority order)."""
        if not isinstance(self.selection, Fallback):
            raise TypeError("stream_lookups needs a store opened with the Fallback selection")
        pending = self._pending["tracks" if kind == "track" else "artists"]
        return lookup_pages(self._link.con, kind, self.selection.providers, pending)

    # -- filling in (the SQL: backfill.store.writes) -------------------------------------------------

    def apply(self, outcomes: Sequence[Outcome]) -> dict[str, int]:
        """Write a batch of outcomes in one transaction, a handful of set-based statements in all.

        Returns the image rows the transaction filled, per kind, and under "recovered" the artist rows given
        their id: what was committed, not what was fetched (a row filled meanwhile by someone else is not
        counted, and a failed commit raises instead).
        """
        filled = self.selection.apply(self, outcomes)
        if not self.selection.has_image:  # rows that had none have one now; a refresh changes no count
            for table, (rows, with_image) in self._counts.items():
                self._counts[table] = (rows, with_image + filled[table])
        return filled

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The file attached for writing, in one transaction: committed at the end, rolled back on any error."""
        self._attach("write")
        con = self._link.con
        schema = self.schema
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            # A failed COMMIT has already ended the transaction: ROLLBACK's own complaint ("no transaction is
            # active") must not hide the real error (a full disk, an unwritable .wal).
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            self.schema = schema  # a table of ours created in this transaction is gone with it
            raise

    # -- a source's long wait (backfill.store.waits) ----------------------------------------------------

    def source_wait(self, source: str) -> Wait | None:
        self._attach("read")
        return read_wait(self._link.con, self.schema, source)

    def note_wait(self, source: str, wait: Wait) -> None:
        with self.transaction() as con:
            note_wait(con, self.schema, source, wait)
        self.schema = replace(self.schema, has_waits=True)

    # -- reporting ---------------------------------------------------------------------------------

    def image_counts(self) -> dict[str, tuple[int, int]]:
        """Per table: (rows, rows with an image)."""
        self._attach("read")
        counts = {"tracks": one(self._link.con, "SELECT count(*), count(album_image_url) FROM tracks")}
        if self.schema.has_artists:
            counts["artists"] = one(self._link.con, "SELECT count(*), count(image_url) FROM artists")
        return counts

    def counts_now(self) -> dict[str, tuple[int, int]]:
        """image_counts() after a run, without opening the file: the plan's counts plus what the run committed
        (a value someone else wrote meanwhile is not seen)."""
        return dict(self._counts)

    def reader(self) -> duckdb.DuckDBPyConnection:
        """The connection, with the file attached for reading: for read-only reports (backfill.store.toplists)."""
        self._attach("read")
        return self._link.con

    def remembered_counts(self) -> dict[tuple[str, str], int]:
        self._attach("read")
        if not self.schema.has_log:
            return {}
        rows = self._link.con.execute(f"SELECT kind, outcome, count(*) FROM {LOG_TABLE} GROUP BY ALL").fetchall()
        return {(kind, outcome): n for kind, outcome, n in rows}

    def samples(self) -> dict[str, tuple[str, str] | None]:
        self._attach("read")
        track = self._link.con.execute(
            "SELECT track_name, album_image_url FROM tracks WHERE album_image_url IS NOT NULL "
            "ORDER BY spotify_track_uri LIMIT 1"
        ).fetchone()
        artist = None
        if self.schema.has_artists:
            artist = self._link.con.execute(
                "SELECT artist_name, image_url FROM artists WHERE image_url IS NOT NULL ORDER BY artist_name LIMIT 1"
            ).fetchone()
        return {"track": track, "artist": artist}
