"""Progress: a line every ~10 s in logs, bars with one estimate on a terminal, Retry-After waits shown."""

from __future__ import annotations

import io
import os
import re
import sys

import pytest

from backfill.cli.progress import Bars


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(raw: str) -> list[str]:
    """What a terminal shows of tqdm's output: the last text drawn on each line."""
    rows: dict[int, str] = {}
    row = 0
    for part in re.split(r"(\n|\x1b\[A|\r)", raw):
        if part == "\n":
            row += 1
        elif part == "\x1b[A":
            row -= 1
        elif part and part != "\r":
            rows[row] = part
    return [rows[r] for r in sorted(rows)]


def test_a_log_gets_a_line_every_ten_seconds() -> None:
    clock, log = Clock(), io.StringIO()
    bars = Bars({"tracks": 5234, "artists": 1892}, log, clock=clock)
    clock.now += 9
    bars.advance("tracks", 400)
    assert log.getvalue() == ""
    clock.now += 1
    bars.advance("tracks", 100)
    bars.advance("artists", 120)
    lines = log.getvalue().splitlines()
    assert lines == ["Processed 500/5,234 tracks, 0/1,892 artists, 50.0 items/s, ~2 min left"]
    clock.now += 5
    bars.advance("artists", 120)
    assert len(log.getvalue().splitlines()) == 1
    clock.now += 5
    bars.refresh()  # the event loop's tick: a line even when no result arrives
    assert log.getvalue().splitlines()[-1] == "Processed 500/5,234 tracks, 240/1,892 artists, 37.0 items/s, ~3 min left"
    bars.close()


def test_a_slow_pace_is_in_items_per_minute() -> None:
    clock, log = Clock(), io.StringIO()
    bars = Bars({"artists": 100}, log, clock=clock)
    clock.now += 60
    bars.advance("artists", 30)
    assert log.getvalue().splitlines() == ["Processed 30/100 artists, 30 items/min, ~2 min left"]


def test_a_retry_after_wait_is_shown_and_counts_down() -> None:
    clock, log = Clock(), io.StringIO()
    bars = Bars({"tracks": 100}, log, clock=clock)
    clock.now += 4
    bars.advance("tracks", 10)
    bars.waiting(22, "Retry-After")
    bars.waiting(21.5, "Retry-After")  # another worker's answer to the same wait
    assert log.getvalue().splitlines() == ["Waiting 22 s (Retry-After)"]
    assert "waiting 22 s (Retry-After)" in bars.status()
    clock.now += 10
    assert "waiting 12 s (Retry-After)" in bars.status()
    assert "14 s elapsed" in bars.status()
    clock.now += 13
    assert "waiting" not in bars.status()


def test_terminal_bars_show_one_estimate_and_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    clock, term = Clock(), Terminal()
    bars = Bars({"tracks": 1309, "artists": 360}, term, clock=clock)
    clock.now += 10
    bars.advance("tracks", 600)
    bars.advance("artists", 100)
    bars.refresh()
    tracks, artists, status = screen(term.getvalue())
    assert tracks.startswith("tracks    600/1,309") and artists.startswith("artists   100/360  ")
    assert status == "  10 s elapsed, 70.0 items/s, ~10 s left"
    assert "s/it" not in term.getvalue() and "s/ id" not in term.getvalue()
    assert all(len(line) <= 60 for line in (tracks, artists, status))
    bars.waiting(22, "Retry-After")
    assert screen(term.getvalue())[2] == "  10 s elapsed, waiting 22 s (Retry-After), 70.0 items/s"  # fits 60
    bars.close()
    assert screen(term.getvalue())[2] == "  10 s elapsed, waiting 22 s (Retry-After), 70.0 items/s"


@pytest.mark.skipif(sys.platform == "win32", reason="a Unix terminal")
def test_ctrl_c_is_not_echoed_over_the_bars_while_they_show() -> None:
    import termios

    main_fd, tty_fd = os.openpty()
    with open(main_fd, "rb", buffering=0), open(tty_fd, "w") as terminal:
        attrs = termios.tcgetattr(tty_fd)
        attrs[3] |= termios.ECHOCTL  # as terminals usually are: Ctrl-C echoes "^C"
        termios.tcsetattr(tty_fd, termios.TCSANOW, attrs)
        bars = Bars({"tracks": 10}, terminal)
        assert not termios.tcgetattr(tty_fd)[3] & termios.ECHOCTL
        bars.close()
        assert termios.tcgetattr(tty_fd)[3] & termios.ECHOCTL  # the terminal as it was


def test_a_long_wait_is_in_hours_and_minutes() -> None:
    clock, log = Clock(), io.StringIO()
    bars = Bars({"tracks": 100}, log, clock=clock)
    bars.waiting(79892, "daily quota")
    assert log.getvalue().splitlines() == ["Waiting 22 h 11 min (daily quota)"]
    assert "waiting 22 h 11 min (daily quota)" in bars.status()
    clock.now += 3600
    assert "waiting 21 h 11 min (daily quota)" in bars.status()
