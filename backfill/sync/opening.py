"""Connecting to Postgres and reading its digests in a thread, while the main thread reads the DuckDB file.

The two are independent until the comparison, and over a real link connecting alone is several round trips
(TCP, then SCRAM's three): done side by side, the DuckDB read costs no time at all. The thread is a daemon and
never blocks the exit: if the main thread gives up (a DuckDB error, Ctrl-C), the connection is closed by
whichever side finishes last, and Postgres rolls back what little the thread began (nothing is written yet).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from backfill.sync.postgres import begin, connect

if TYPE_CHECKING:
    import psycopg


class Opening:
    def __init__(self, url: str, timeout: int, where: str, dry_run: bool) -> None:
        self._args = (url, timeout, where, dry_run)
        self._lock = threading.Lock()
        self._con: psycopg.Connection[Any] | None = None
        self._digests: dict[str, bytes] = {}
        self._error: BaseException | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._open, name="backfill-sync-connect", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        url, timeout, where, dry_run = self._args
        con = None
        try:
            con = connect(url, timeout)
            digests = begin(con, where, dry_run)
        except BaseException as exc:  # handed to the main thread, raised there
            with self._lock:
                self._error = exc
                self._con = con  # begin failed: the caller rolls back and closes
            return
        with self._lock:
            if self._abandoned:
                con.close()
            else:
                self._con, self._digests = con, digests

    def result(self) -> tuple[psycopg.Connection[Any] | None, dict[str, bytes], BaseException | None]:
        """Waits for the thread: the connection (if it was made), the digests, and what went wrong if anything."""
        self._thread.join()
        return self._con, self._digests, self._error

    def abandon(self) -> None:
        """The main thread gives up: close the connection now, or as soon as the thread has made it."""
        with self._lock:
            self._abandoned = True
            con, self._con = self._con, None
        if con is not None:
            con.close()
