"""The file is shared while a run goes, waits for others politely, and survives SIGKILL (issue 10, items 2-4).

The runs here are real processes (python -m backfill), because DuckDB's lock is per process. The lock is
watched from outside with fcntl(F_GETLK), which tests for a lock without taking one.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from backfill.errors import StoreError
from backfill.store.attach import Attachment
from backfill.store.dbfile import sniff
from standin import Emulator
from standin.sample import World
from tests.checks import check_images, other_columns
from tests.cli.test_signals import start_backfill, wait_for_requests
from tests.conftest import table

HANG_GUARD = 60.0  # seconds: a stuck test fails instead of hanging, never a measurement
_FLOCK = "hhqqi4x"  # struct flock on Linux x86-64/arm64: type, whence, start, len, pid


def locked_by(path: Path) -> int:
    """The PID holding a DuckDB lock on path, or 0 (F_GETLK: asks, takes nothing)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(_FLOCK, fcntl.F_WRLCK, 0, 0, 0, 0))
    finally:
        os.close(fd)
    kind, _, _, _, pid = struct.unpack(_FLOCK, answer)
    return 0 if kind == fcntl.F_UNLCK else pid


def filled(path: Path) -> int:
    """Track rows with an image, read as soon as the file is free (a run may be writing a batch)."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        try:
            return table(path, "SELECT count(album_image_url) FROM tracks")[0][0]
        except duckdb.IOException:
            assert time.monotonic() < deadline, "the file was never free"
            time.sleep(0.01)


def slow(emulator: Emulator, latency: float = 0.05) -> None:
    emulator.config.dev_mode = True  # one request per item: many flushes
    emulator.config.latency = latency


HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); time.sleep(float(sys.argv[2]))"
)


def hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that opens the file for writing and keeps it for `seconds`."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
    holder.stdout.close()
    return holder


def test_another_process_opens_the_file_between_two_flushes(db_path: Path, emulator: Emulator, world: World) -> None:
    slow(emulator)
    before = filled(db_path)
    proc = start_backfill(db_path, "--source", "api", "--rate", "40")
    reads = []  # images seen by our own connections while the run was going
    deadline = time.monotonic() + HANG_GUARD
    while proc.poll() is None and not (reads and reads[-1] > before) and time.monotonic() < deadline:
        try:
            con = duckdb.connect(str(db_path), read_only=True)
        except duckdb.IOException:  # a flush is being written: try again
            time.sleep(0.01)
            continue
        reads.append(con.execute("SELECT count(album_image_url) FROM tracks").fetchone()[0])
        con.close()
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be shared"
    _out, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 0, err
    assert reads[-1] > before, reads  # opened while the run went on, and saw its first flushes
    check_images(db_path, world, complete=True)


def test_a_file_busy_at_start_is_waited_for(db_path: Path, emulator: Emulator, world: World) -> None:
    holder = hold(db_path, 1.5)
    proc = start_backfill(db_path, "--source", "api", "--rate", "500", "--lock-timeout", "30")
    _out, err = proc.communicate(timeout=HANG_GUARD)
    assert holder.wait(timeout=HANG_GUARD) == 0
    assert proc.returncode == 0, err
    check_images(db_path, world, complete=True)


def test_where_the_lock_cannot_be_watched_a_busy_file_is_retried_with_backoff_up_to_the_lock_timeout(
    db_path: Path,
) -> None:
    """On a fake clock: the waits double from 50 ms to at most 1 s, and the last one ends at the timeout."""
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    holder = hold(db_path, HANG_GUARD)
    try:
        link = Attachment(
            db_path, sniff(db_path), lock_timeout=30, clock=lambda: now[0], sleep=sleep, held=lambda _: None
        )
        with pytest.raises(StoreError) as busy:
            link.attach("write")
        link.close()
    finally:
        holder.kill()
        holder.wait()
    assert f"PID {holder.pid}" in str(busy.value) and "waited 30 s" in str(busy.value)
    assert now[0] == pytest.approx(30)
    assert 0.04 <= waits[0] <= 0.06 and max(waits) <= 1.2
    assert all(b > a for a, b in itertools.pairwise(waits[:5]))  # doubling (with jitter) at first
    free = Attachment(db_path, sniff(db_path))
    assert free.attach("write")  # free again: attached at once
    free.close()


def test_a_file_busy_past_the_lock_timeout_stops_the_run_and_loses_nothing(
    db_path: Path, emulator: Emulator, world: World
) -> None:
    slow(emulator)
    others = other_columns(db_path)
    proc = start_backfill(db_path, "--source", "api", "--rate", "40", "--lock-timeout", "0.5")
    deadline = time.monotonic() + HANG_GUARD
    while filled(db_path) == len(world.prefilled_tracks):  # until a flush is in the file
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    holder = hold(db_path, HANG_GUARD)
    try:
        out, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2, err
    summary = json.loads(out)
    assert "locked" in summary["error"] and f"PID {holder.pid}" in summary["error"]
    assert check_images(db_path, world, complete=False)["tracks"] > 0  # what was committed is right
    assert other_columns(db_path) == others
    emulator.config.latency = 0.0
    rerun = start_backfill(db_path, "--source", "api", "--rate", "500")
    out, err = rerun.communicate(timeout=HANG_GUARD)
    assert rerun.returncode == 0, err
    check_images(db_path, world, complete=True)


@pytest.mark.parametrize("when", ["fetching", "flush 1", "flush 2", "flush 4"])
def test_sigkill_anywhere_leaves_a_file_that_opens_right_and_a_rerun_completes(
    db_path: Path, emulator: Emulator, world: World, when: str
) -> None:
    slow(emulator)
    others = other_columns(db_path)
    proc = start_backfill(db_path, "--source", "api", "--rate", "40")
    deadline = time.monotonic() + HANG_GUARD
    if when == "fetching":
        wait_for_requests(emulator, proc, 60)
        proc.send_signal(signal.SIGSTOP)  # frozen where it is, so the kill below lands on a running run
    else:  # the plan's read is the first time the lock is held; each later hold is a flush
        holds, wanted, was_held = 0, 1 + int(when.split()[1]), False
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            held = locked_by(db_path) == proc.pid
            holds += held and not was_held
            was_held = held
            if held and holds >= wanted:
                proc.send_signal(signal.SIGSTOP)
                if locked_by(db_path) == proc.pid:
                    break  # frozen mid-hold: the kill lands while the file is being written
                proc.send_signal(signal.SIGCONT)  # the hold ended before the stop: take the next one
                was_held = False
            time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=HANG_GUARD)  # closes its pipes too
    assert proc.returncode == -signal.SIGKILL  # killed mid-run, not a run that had already ended

    assert other_columns(db_path) == others  # opens (the WAL is replayed), nothing else changed
    check_images(db_path, world, complete=False)  # every committed value right
    rerun = start_backfill(db_path, "--source", "api", "--rate", "500")
    _out, err = rerun.communicate(timeout=HANG_GUARD)
    assert rerun.returncode == 0, err
    check_images(db_path, world, complete=True)


def test_a_second_run_on_the_file_stops_at_once_naming_the_first(
    cli, db_path: Path, emulator: Emulator, world: World
) -> None:
    slow(emulator, latency=0.05)
    first = start_backfill(db_path, "--source", "api", "--rate", "40")
    wait_for_requests(emulator, first, 20)
    asked = len(emulator.api())
    second = cli("run", "--db", db_path, "--source", "api", "--json")
    assert second.code == 2, second.err
    assert f"PID {first.pid}" in second.err and "backfill run" in second.err, second.err
    assert second.json["stopped"] == "error"
    assert len(emulator.api()) - asked < 20  # the second sent nothing (the first goes on meanwhile)
    assert first.poll() is None  # and the first was still working, without DuckDB's lock held for it:
    assert filled(db_path) >= 0  # the file opens meanwhile
    _out, err = first.communicate(timeout=HANG_GUARD)
    assert first.returncode == 0, err
    check_images(db_path, world, complete=True)


def test_a_stale_run_lock_left_by_a_killed_run_is_taken_over(cli, db_path: Path, emulator: Emulator) -> None:
    stale = db_path.with_name(db_path.name + ".backfill-run")
    stale.write_text("999999\npython -m backfill run (killed)\n")  # no process holds its lock
    result = cli("run", "--db", db_path, *("--rate", "500", "--source", "api"))
    assert result.code == 0, result.err
    assert not stale.exists()


def test_the_lock_timeout_is_one_budget_and_the_message_gives_the_real_wait(db_path: Path) -> None:
    """On a fake clock: a write that waited the whole budget, then the run's last try 7 s later, which waits no
    more and reports the 37 s really waited (not the 30 s of one timeout, nor a second 30 s wait)."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    holder = hold(db_path, HANG_GUARD)
    try:
        link = Attachment(db_path, sniff(db_path), lock_timeout=30, clock=lambda: now[0], sleep=sleep)
        with pytest.raises(StoreError) as first:
            link.attach("write")
        now[0] += 7  # the fetching stops and what was fetched is drained
        with pytest.raises(StoreError) as last:
            link.attach("write")
        link.close()
    finally:
        holder.kill()
        holder.wait()
    assert "waited 30 s" in str(first.value)
    assert "waited 37 s" in str(last.value) and now[0] == pytest.approx(37)
