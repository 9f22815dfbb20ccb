"""When the tool takes the file: only once it has been free for a moment, and right after a reader lets go of it.

A DuckDB reader's request fails at once when it meets our lock. The dashboard's DuckDB, opening the file while an
earlier instance of its process still has it, drops its lock for a few ms (an unlocked look at the header) and
then locks the file again: attaching in that gap makes its request fail. These tests play the lock's timeline on a
fake clock (which process holds the file when) and look at when the attach is made; the last ones ask the real
kernel through held_by_another.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from backfill.errors import StoreError
from backfill.store.attach import AROUND, CYCLE, QUIET, WATCH_EVERY, Attachment, held_by_another
from backfill.store.dbfile import sniff
from tests.store.test_sharing import hold

Timeline = Callable[[float], bool]  # fake time -> is the file held by another process then


def held_during(*spans: tuple[float, float]) -> Timeline:
    return lambda t: any(a <= t < b for a, b in spans)


class Clock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def link(path: Path, clock: Clock, timeline: Timeline, *, lock_timeout: float = 30) -> Attachment:
    return Attachment(
        path,
        sniff(path),
        lock_timeout=lock_timeout,
        clock=lambda: clock.now,
        sleep=clock.sleep,
        held=lambda _: timeline(clock.now),
    )


def attached_at(path: Path, clock: Clock, timeline: Timeline) -> float:
    """The fake time at which the file was attached (ATTACH itself takes no fake time)."""
    attachment = link(path, clock, timeline)
    try:
        assert attachment.attach("write")
        return clock.now
    finally:
        attachment.close()


def test_a_free_file_is_attached_once_it_has_been_free_for_a_moment(db_path: Path) -> None:
    clock = Clock()
    at = attached_at(db_path, clock, held_during())
    assert QUIET <= at < QUIET + 2 * WATCH_EVERY
    assert set(clock.sleeps) == {WATCH_EVERY}


def test_the_gap_of_a_readers_own_opening_is_not_taken(db_path: Path) -> None:
    """Held, free for 8 ms (the reader's unlocked look at the header), held again, then let go at 1.3 s."""
    clock = Clock()
    at = attached_at(db_path, clock, held_during((0, 1.0), (1.008, 1.3)))
    assert 1.3 + QUIET <= at < 1.3 + QUIET + 2 * WATCH_EVERY


def test_a_file_free_between_a_recent_readers_requests_is_taken_right_after_its_next_one(db_path: Path) -> None:
    """A reader held the file until 0.5 s; at 2 s it is free, but the reader comes back at 2.1 s for 20 ms: the
    tool attaches once it has let go again, not in the middle of the reader's cycle."""
    clock = Clock()
    assert attached_at(db_path, clock, held_during((0, 0.5))) < 0.5 + QUIET + 2 * WATCH_EVERY
    clock.now = 2.0
    at = attached_at(db_path, clock, held_during((0, 0.5), (2.1, 2.12)))
    assert 2.12 + QUIET <= at < 2.12 + QUIET + 2 * WATCH_EVERY


def test_a_recent_reader_that_does_not_come_back_is_waited_for_one_cycle_at_most(db_path: Path) -> None:
    clock = Clock()
    attached_at(db_path, clock, held_during((0, 0.5)))
    clock.now = 2.0
    at = attached_at(db_path, clock, held_during((0, 0.5)))
    assert 2.0 + CYCLE <= at < 2.0 + CYCLE + 2 * WATCH_EVERY


def test_a_reader_seen_long_ago_is_not_waited_for(db_path: Path) -> None:
    clock = Clock()
    attached_at(db_path, clock, held_during((0, 0.5)))
    clock.now = 0.5 + AROUND + 1
    start = clock.now
    assert attached_at(db_path, clock, held_during((0, 0.5))) < start + QUIET + 2 * WATCH_EVERY


def test_a_file_held_past_the_lock_timeout_is_busy_after_one_budget(db_path: Path) -> None:
    """Watched, never attached in the holder's short gaps, and refused when the budget is spent (ATTACH then
    says who holds it: here the real holder process)."""
    clock = Clock()
    holder = hold(db_path, 60)
    try:
        gaps = [(k + 0.995, k + 1.0) for k in range(29)]  # 5 ms free each second: too short to take
        attachment = link(db_path, clock, lambda t: not any(a <= t < b for a, b in gaps), lock_timeout=30)
        with pytest.raises(StoreError) as busy:
            attachment.attach("write")
        attachment.close()
    finally:
        holder.kill()
        holder.wait()
    assert f"PID {holder.pid}" in str(busy.value) and "waited 30 s" in str(busy.value)
    assert clock.now == pytest.approx(30)
    assert max(clock.sleeps) == WATCH_EVERY


def test_the_kernel_says_when_another_process_holds_the_file(db_path: Path) -> None:
    assert held_by_another(db_path) is False
    for read_only in (False, True):  # a read-only reader's shared lock keeps a writer out too
        code = (
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == '1'); "
            "print('ok', flush=True); time.sleep(60)"
        )
        holder = subprocess.Popen(
            [sys.executable, "-c", code, str(db_path), "1" if read_only else "0"], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "ok"
            assert held_by_another(db_path) is True
        finally:
            holder.stdout.close()
            holder.kill()
            holder.wait()
    assert held_by_another(db_path) is False
    assert held_by_another(db_path.with_name("missing.duckdb")) is None
