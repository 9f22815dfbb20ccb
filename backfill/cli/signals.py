"""SIGTERM outside the run's own signal handling (imports, set-up, planning) ends like Ctrl-C: one line, and
exit 143 instead of 130. Python turns SIGINT into KeyboardInterrupt; this does the same for SIGTERM."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from backfill.errors import EXIT_SIGINT, EXIT_SIGTERM

# What signal.signal returns and takes: a function, SIG_DFL or SIG_IGN, or None (a handler not set from Python).
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


_seen: list[int] = []


class Terminated(KeyboardInterrupt):
    pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _seen.append(signum)
    raise Terminated


def install() -> SignalHandler:
    """Turn SIGTERM into Terminated from now on; the previous handler (to restore)."""
    _seen.clear()
    return signal.signal(signal.SIGTERM, _on_sigterm)


def ignore_from_now() -> None:
    """The process only winds down from here: a signal now would just turn an exit code into a death by signal."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def report() -> int:
    """After a KeyboardInterrupt (or DuckDB's interrupt that it caused): say which, and the exit code."""
    terminated = signal.SIGTERM in _seen
    print("backfill: terminated" if terminated else "backfill: interrupted", file=sys.stderr)
    return EXIT_SIGTERM if terminated else EXIT_SIGINT
