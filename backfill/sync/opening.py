"""Connecting to Postgres and reading its digests in a thread, while the main thread reads the DuckDB file.

The two are independent until the comparison, and over a real link connecting alone is several round trips
(TCP, then SCRAM's three): side by side, the DuckDB read costs no time. The thread is a daemon and never holds
up the exit. If the main thread gives up (a DuckDB error, Ctrl-C), `abandon` cancels a query the thread is
waiting on (e.g. for a table someone has locked) and the connection is closed by whichever side finishes
last. Nothing is written before the main thread has the connection back.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from backfill.sync.postgres import begin, connect

if TYPE_CHECKING:
    import psycopg


class Opening:
    def __init__(self, url: str, timeout: int, where: str, dry_run: bool) -> None:
        self._args = (url, timeout, where, dry_run)
        self._lock = threading.Lock()
        self._con: psycopg.Connection[Any] | None = None  # once connected
        self._digests: dict[str, bytes] = {}
        self._error: BaseException | None = None
        self._done = self._abandoned = False
        self._thread = threading.Thread(target=self._open, name="backfill-sync-connect", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        url, timeout, where, dry_run = self._args
        try:
            con = connect(url, timeout)
            with self._lock:
                self._con = con
                if self._abandoned:
                    raise InterruptedError  # given up while connecting: closed below
            digests = begin(con, where, dry_run)
        except BaseException as exc:  # handed to the main thread, raised there
            self._finish(error=exc)
            return
        self._finish(digests=digests)

    def _finish(self, *, digests: dict[str, bytes] | None = None, error: BaseException | None = None) -> None:
        with self._lock:
            self._done = True
            self._digests, self._error = digests or {}, error
            if not self._abandoned:
                return
            con, self._con = self._con, None
        if con is not None:
            con.close()

    def result(self) -> tuple[psycopg.Connection[Any] | None, dict[str, bytes], BaseException | None]:
        """Waits for the thread: the connection (if it was made), the digests, and what went wrong if anything.
        If the wait itself is interrupted (Ctrl-C), the thread's work is abandoned."""
        try:
            self._thread.join()
        except BaseException:
            self.abandon()
            raise
        return self._con, self._digests, self._error

    def abandon(self) -> None:
        """The main thread gives up: close the connection, or cancel what the thread waits on (it then closes)."""
        with self._lock:
            self._abandoned = True
            con, done = self._con, self._done
            if done:
                self._con = None
        if con is None:
            return
        if done:
            con.close()
            return
        with contextlib.suppress(Exception):  # best effort: the process may be on its way out
            getattr(con, "cancel_safe", con.cancel)()
