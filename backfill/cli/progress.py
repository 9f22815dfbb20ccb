"""Progress while a run goes: bars on a terminal, a line every ~10 s in a log."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm

from backfill.report.text import duration, text_width

LOG_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal
MIN_ESTIMATE_AFTER = 3.0  # seconds of pace before estimating the time left
REDRAW_EVERY = 0.2  # seconds: at most five redraws a second, however fast results come
_BAR_FORMAT = "{desc} {percentage:3.0f}% |{bar}|"


class Bars:
    """Progress on stderr, for a Progress protocol of pipeline.py.

    On a terminal: one bar per kind, then a status line with the elapsed time, the pace, one estimate of the
    time left (from the pace over both kinds) and any Retry-After wait. Elsewhere (a log, CI): a line every
    `every` seconds, "Processed 500/5,234 tracks, 120/1,892 artists, ~4 min left". `clock` is injectable;
    `refresh()` redraws (a running event loop calls it every second, so the clock moves during waits).
    """

    def __init__(
        self,
        totals: dict[str, int],
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        every: float = LOG_EVERY,
    ) -> None:
        self._stream = stream or sys.stderr
        self._clock = clock
        self._every = every
        self._totals = {kind: total for kind, total in totals.items() if total}
        self._done = dict.fromkeys(self._totals, 0)
        self._started = clock()
        self._next_line = self._started + every
        self._drawn = -math.inf
        self._closing = False
        self._count_width = max((len(f"{t:,}") for t in self._totals.values()), default=1)
        self._wait_until, self._wait_reason = 0.0, ""
        self._bars: dict[str, tqdm[Any]] = {}
        self._status: tqdm[Any] | None = None
        self._echo = _EchoControl()
        self._ticker: asyncio.TimerHandle | None = None
        if self._totals and self._stream.isatty():
            width = text_width()
            for i, kind in enumerate(self._totals):
                self._bars[kind] = tqdm(
                    total=self._totals[kind], file=self._stream, position=i, ncols=width, bar_format=_BAR_FORMAT
                )
            self._status = tqdm(total=1, file=self._stream, position=len(self._bars), ncols=width, bar_format="{desc}")
            self._echo.hide_control_characters(self._stream)  # no "^C" over the bars on Ctrl-C
            self.refresh()
        self._tick()

    def advance(self, kind: str, n: int) -> None:
        if kind not in self._done:
            return
        self._done[kind] += n
        if kind in self._bars:
            self._bars[kind].update(n)
        self.refresh(force=False)

    def waiting(self, seconds: float, reason: str) -> None:
        """Every request is held back for `seconds` (e.g. a Retry-After): say so until it is over."""
        now = self._clock()
        already = now < self._wait_until  # several workers may report the same wait: one log line
        self._wait_until = max(self._wait_until, now + seconds)
        self._wait_reason = reason
        if self._status is None and not already:
            self._print(f"Waiting {duration(seconds)} ({reason})")
        self.refresh()

    def status(self) -> str:
        """The status line as it reads now: elapsed, any wait under way, pace and time left."""
        return ", ".join(self._parts())

    def _status_line(self, width: int) -> str:
        """The status, indented, with the least important parts left out when the terminal is narrow."""
        parts = self._parts()
        while len(parts) > 1 and len("  " + ", ".join(parts)) > width:
            parts.pop()
        return "  " + ", ".join(parts)

    def _parts(self) -> list[str]:
        return [f"{duration(self._clock() - self._started)} elapsed", *self._news()]

    def _news(self) -> list[str]:
        now = self._clock()
        elapsed = now - self._started
        parts = []
        if now < self._wait_until:
            parts.append(f"waiting {duration(math.ceil(self._wait_until - now))} ({self._wait_reason})")
        done, total = sum(self._done.values()), sum(self._totals.values())
        if done and elapsed > 0:
            parts.append(_pace(done / elapsed))
            if done < total and elapsed >= MIN_ESTIMATE_AFTER and not self._closing:
                parts.append(f"~{_rough(elapsed / done * (total - done))} left")
        return parts

    def refresh(self, *, force: bool = True) -> None:
        """Redraw the bars (unless drawn under REDRAW_EVERY ago and not forced), or print the log line when due."""
        now = self._clock()
        if self._status is None:
            if self._totals and now >= self._next_line:
                self._next_line = now + self._every
                counts = ", ".join(f"{self._done[k]:,}/{self._totals[k]:,} {k}" for k in self._totals)
                self._print(", ".join([f"Processed {counts}", *self._news()]))
        elif force or now - self._drawn >= REDRAW_EVERY:
            self._drawn = now
            w = self._count_width
            for kind, bar in self._bars.items():
                bar.set_description_str(f"{kind:<7} {self._done[kind]:>{w},}/{self._totals[kind]:<{w},}", refresh=False)
                bar.refresh()
            self._status.set_description_str(self._status_line(text_width()))

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._closing = True
        self.refresh()
        for bar in [*self._bars.values(), *([self._status] if self._status else [])]:
            bar.close()
        self._bars, self._status = {}, None
        self._echo.restore()

    def _tick(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (a test): refresh() is called by hand
        self._ticker = loop.call_later(1.0, self._on_tick)

    def _on_tick(self) -> None:
        self.refresh()
        self._tick()

    def _print(self, line: str) -> None:
        print(line, file=self._stream, flush=True)


def _pace(per_second: float) -> str:
    return f"{per_second:.1f} items/s" if per_second >= 1 else f"{per_second * 60:.0f} items/min"


def _rough(seconds: float) -> str:
    """An estimate, no more precise than it is: 40 s, 4 min, 1 h 05 min."""
    if seconds < 60:
        return f"{max(10, round(seconds / 10) * 10)} s"
    return duration(round(seconds / 60) * 60).removesuffix(" 00 s")


class _EchoControl:
    """Turns off the terminal's echo of control characters (the "^C" Ctrl-C leaves in the bars) until restore()."""

    def __init__(self) -> None:
        self._saved: tuple[int, list[Any]] | None = None

    def hide_control_characters(self, terminal: TextIO) -> None:
        try:
            import termios

            fd = terminal.fileno()
            if not os.isatty(fd):
                return
            saved = termios.tcgetattr(fd)
            quiet = list(saved)
            quiet[3] &= ~termios.ECHOCTL
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
            self._saved = (fd, saved)
        except (ImportError, OSError, ValueError, AttributeError):
            pass  # no terminal, or not a Unix one: nothing to hide

    def restore(self) -> None:
        if self._saved is not None:
            import termios

            fd, saved = self._saved
            self._saved = None
            with contextlib.suppress(OSError):
                termios.tcsetattr(fd, termios.TCSANOW, saved)
