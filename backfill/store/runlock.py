"""One run per database file at a time, without holding DuckDB's lock (the dashboard must still open the file).

A run takes an advisory lock (flock) on a small file beside the database, `<name>.backfill-run`, holding its
PID and command line. The kernel releases the lock when the process ends in any way, SIGKILL included: a file
left behind is stale and the next run simply locks it again. A second run finds the lock taken and stops at
once, naming the first. `--dry-run` takes no lock: it writes nothing and spends no request.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from backfill.errors import StoreError

SUFFIX = ".backfill-run"


class RunBusy(StoreError):
    """Another run is working on the same file."""


def lock_path(db: Path) -> Path:
    db = db.expanduser().resolve()  # one lock for every name of the file (relative, symlinked)
    return db.with_name(db.name + SUFFIX)


@contextlib.contextmanager
def run_lock(db: Path) -> Iterator[None]:
    """Hold the run lock of `db` (RunBusy when another run holds it). A file that cannot be made (no such folder,
    a read-only one) takes no lock: the set-up checks that follow refuse that database with their own message."""
    path = lock_path(db)
    try:
        fd = _locked(path, db)
    except OSError:
        yield
        return
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n{' '.join([sys.executable, *sys.argv])}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # before the lock goes: a run that opened it meanwhile sees it gone and locks anew
        os.close(fd)


def _locked(path: Path, db: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunBusy(
                f"another backfill run is working on {db}{holder}: wait for it to end (a second run at once would "
                "spend requests on what the first fills)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the run that held it ended and removed it: lock the file that is there now


def _holder(fd: int) -> str:
    """' (PID 1234: python -m backfill run …)' from the lock file; the holder writes it just after locking."""
    text = ""
    for _ in range(20):
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        if text.endswith("\n"):
            break
        time.sleep(0.01)
    pid, _, command = text.strip().partition("\n")
    if not pid.isdigit():
        return ""
    if len(command) > 120:
        command = command[:117] + "..."
    return f" (PID {pid}: {command})" if command else f" (PID {pid})"
