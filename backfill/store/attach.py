"""The user's file, opened only while it is read or written, so that others can open it in between.

DuckDB lets one process at a time have a file open for writing (and readers only while no one writes). A run
lasts minutes to hours, mostly waiting on the network, so the tool works in a private in-memory DuckDB (its
queues live there) and ATTACHes the user's file only to read the plan and to write a batch; DETACH checkpoints
the file and releases its lock, so the dashboard, a notebook or `backfill verify` can open it meanwhile.
A file that is busy is waited for, up to the lock timeout.

DuckDB's lock is fcntl's, taken without waiting: a reader that opens the file during a hold fails at once
("Could not set lock on file"). So the lock is watched first (F_GETLK asks without taking anything) and the file
attached only once it has been free for QUIET. A DuckDB opening the file in a process that has it open already
(the dashboard keeps each request's instance until its garbage collector closes it) first opens and closes it
unlocked, which drops that process's lock for a few ms, and then locks it again: a hold begun in that gap fails
the request. Right after a reader lets go is the best moment: the file then stays free longest. Where the lock
cannot be watched, a busy ATTACH is tried again with backoff.
"""

from __future__ import annotations

import fcntl
import os
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import duckdb

from backfill.errors import StoreError
from backfill.store.dbfile import Header, is_lock_error, lock_holder, refuse_unreadable

ALIAS = "backfill_db"  # the attach name when the file's own would clash with this connection's catalogs
_TAKEN = {"memory", "system", "temp", ""}
# DuckDB would otherwise take up to 80 % of RAM and keep what it read cached. With this cap the tool's
# memory stays nearly flat in the table's size: bigger queries spill to a temporary folder beside the
# database. The plan's query (one aggregate, one sort) was measured to fit a million tracks in 80 MB.
MEMORY_LIMIT = "80MB"
# A checkpoint rewrites every row group the writes touched, and ours touch them all (ids come in play order,
# not table order): the default 16 MB of WAL meant a checkpoint every few batches at a million tracks. Each
# write pending a checkpoint also holds memory, which is what bounds this.
CHECKPOINT_AFTER = "32MB"
# The tool needs no extension, and must contact nothing but Spotify: without this, a file DuckDB does not know
# (SQLite, say) or a query needing an extension would make DuckDB download one into ~/.duckdb/extensions.
NO_EXTENSIONS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
FIRST_RETRY = 0.05  # seconds; doubled after each busy attempt, up to MAX_RETRY
MAX_RETRY = 1.0
# The file must have been free this long before it is attached: longer than the gap of a reader's own opening
# (2-10 ms measured for the dashboard's DuckDB 1.4 on a busy machine).
QUIET = 0.02
WATCH_EVERY = 0.002  # seconds between two looks at the lock while waiting
# A file another process held less than AROUND ago is likely to be opened by it again (the dashboard opens it
# for each request): a free file then is only between two of its requests, so the tool waits for that process
# to come back and let go, up to CYCLE, and attaches right after. The file stays free longest then.
AROUND = 60.0
CYCLE = 0.5
# struct flock as the kernel lays it out: its format, its number of fields, which one is l_type. Elsewhere the
# lock is not watched.
_FLOCK = {"linux": ("hhqqi4x", 5, 0), "darwin": ("qqihh", 5, 3)}
Mode = Literal["read", "write"]
# Per file, when this process last saw another one hold it (by the watching Attachment's clock).
_last_seen: dict[Path, float] = {}


class Busy(StoreError):
    """Another process kept the file past the lock timeout. `what` is the message without its advice, for a
    caller that says something else (a run that stopped mid-way says what it kept)."""

    def __init__(self, what: str, waited: float) -> None:
        super().__init__(f"{what}; close it and try again")
        self.what = what
        self.waited = waited


def held_by_another(path: Path) -> bool | None:
    """Whether another process holds a lock on the file (F_GETLK: asks, takes nothing); None when this system or
    file cannot tell. Only called while this process has the file detached: closing the descriptor drops every
    lock this process holds on the file (POSIX), as DuckDB's own ATTACH does when it first reads the header."""
    layout = _FLOCK.get(sys.platform)
    if layout is None:
        return None
    form, count, type_at = layout
    fields = [0] * count  # the whole file (start 0, length 0), any pid
    fields[type_at] = fcntl.F_WRLCK  # "could I take a write lock?": any lock of another process says no
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(form, *fields))
    except OSError:
        return None
    finally:
        os.close(fd)
    return bool(struct.unpack(form, answer)[type_at] != fcntl.F_UNLCK)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def catalog_name(path: Path) -> str:
    """The name DuckDB gives the file when it opens it itself: its name up to the first dot.

    DuckDB 2.0 records the catalog's name in the dependencies of secondary indexes it rewrites; attached under
    any other name, DuckDB 1.0 refuses the file afterwards ("Cross catalog dependencies are not supported").
    """
    name = path.name.split(".")[0]
    return ALIAS if name.lower() in _TAKEN else name


class Attachment:
    """An in-memory DuckDB connection with the user's file attached (and USEd) on demand."""

    def __init__(
        self,
        path: Path,
        header: Header,
        *,
        lock_timeout: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        held: Callable[[Path], bool | None] = held_by_another,
    ) -> None:
        self.path = path
        self._alias = '"' + catalog_name(path).replace('"', '""') + '"'
        self._header = header
        self.lock_timeout = lock_timeout
        self._clock = clock
        self._sleep = sleep
        self._held = held
        self.con = duckdb.connect(":memory:", config=NO_EXTENSIONS)
        self.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_AFTER}'")
        # Where a file database would put it by default: beside it. DuckDB removes the folder afterwards.
        self.con.execute(f"SET temp_directory = {_quoted(str(path) + '.tmp')}")
        self.mode: Mode | None = None
        # When an attach first found the file busy, until one succeeds: the lock timeout is a budget for the
        # whole wait, so a later attempt (the run's last try to write what it fetched) waits only what is left,
        # and the message gives the real time waited.
        self.busy_since: float | None = None

    def attach(self, mode: Mode) -> bool:
        """Make sure the file is attached for `mode` (write covers read); True when it was attached just now."""
        if self.mode == mode or self.mode == "write":
            return False
        self.detach()
        options = "TYPE DUCKDB" if mode == "write" else "TYPE DUCKDB, READ_ONLY"
        delay = FIRST_RETRY
        while True:
            self._wait_until_quiet()
            try:
                self.con.execute(f"ATTACH {_quoted(str(self.path))} AS {self._alias} ({options})")
                break
            except duckdb.Error as exc:
                if not is_lock_error(exc):
                    raise refuse_unreadable(self.path, self._header, exc) from None
                now = self._clock()
                if self.busy_since is None:
                    self.busy_since = now
                left = self.busy_since + self.lock_timeout - now
                if left <= 0:
                    waited = now - self.busy_since
                    raise Busy(
                        f"database {self.path} is locked by another process{lock_holder(str(exc))}"
                        + (f" (waited {round(waited, 1):g} s)" if waited > 0 else ""),
                        waited,
                    ) from None
                self._sleep(min(left, delay * random.uniform(0.8, 1.2)))
                delay = min(delay * 2, MAX_RETRY)
        self.busy_since = None
        self.con.execute(f"USE {self._alias}")
        self.mode = mode
        return True

    def _wait_until_quiet(self) -> None:
        """Until the file has been free for QUIET; if another process held it less than AROUND ago, right after
        that process lets go of it again (or CYCLE without it coming back). Or until the lock timeout's budget
        is spent: then ATTACH finds it busy and says who holds it. At once when the lock cannot be watched."""
        start = self._clock()
        seen = _last_seen.get(self.path)
        expected = seen is not None and 0 <= start - seen < AROUND  # a reader that comes and goes
        free_since: float | None = None
        let_go = False  # another process held the file during this wait, and has let go of it since
        while True:
            now = self._clock()
            held = self._held(self.path)
            if held is None:
                return
            if held:
                free_since, let_go = None, True
                _last_seen[self.path] = now
                if self.busy_since is None:
                    self.busy_since = now
                left = self.busy_since + self.lock_timeout - now
                if left <= 0:
                    return
                self._sleep(min(WATCH_EVERY, left))
                continue
            free_since = now if free_since is None else free_since
            if now - free_since >= QUIET and (let_go or not expected or now - start >= CYCLE):
                return
            self._sleep(WATCH_EVERY)

    def detach(self) -> None:
        """Checkpoint and close the file, releasing its lock (another process can open it at once)."""
        if self.mode is None:
            return
        self.mode = None
        self.con.execute("USE memory")
        self.con.execute(f"DETACH {self._alias}")

    def close(self) -> None:
        try:
            self.detach()
        finally:
            self.con.close()
