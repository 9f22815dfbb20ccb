"""When to give a whole source up: it cannot be reached, it never answers, or it is not the service we think.

Item retries mend one lost request; these rules look at the source as a whole (shared by all its workers), so
that a wrong URL, a dead proxy or a server that accepts connections and never answers ends in seconds to a
couple of minutes with one line naming the host, instead of every item waiting out its own retries for hours.
A source given up shuts its gate: every request of it still waiting, or sent later, raises the same error.
"""

from __future__ import annotations

import time
from typing import Protocol
from urllib.parse import urlsplit

from backfill.sources.hints import SETTING

# Connection errors (refused, DNS, proxy, TLS) before the source's first answer: it cannot be reached. More
# than one, so that a single dropped connect during start-up is not taken for a wrong URL.
UNREACHABLE_LIMIT = 3
# Requests in a row that got no answer (timeouts, or lost connections after the source had answered) ...
MUTE_LIMIT = 3
# ... with no answer at all for give_up_after seconds (config.DEFAULT_GIVE_UP_AFTER): the source is mute.
# Answers in a row that are not this service's (HTML, a JSON list or string, a redirect elsewhere).
NOT_SERVICE_LIMIT = 5


class Fatal(Exception):
    """Every further request would fail the same way: stop the run (e.g. access refused)."""


class SourceDown(Fatal):
    """This source is given up for the rest of the run; its message names the source, the host and why."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source


class Shuttable(Protocol):
    def shut(self, exc: BaseException) -> None: ...


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


class Health:
    def __init__(self, gate: Shuttable, source: str, label: str, url: str, timeout: float, give_up_after: float):
        self._gate = gate
        self._source = source
        self._label = label
        self.host = host_of(url)
        self._timeout = timeout
        self._give_up_after = give_up_after
        self._answered = False  # any HTTP answer yet, this run
        self._last_answer = time.monotonic()  # or the start: a source that never answers is mute from then
        self._unreachable = 0
        self._silent = 0  # requests in a row with no answer
        self._wrong = 0  # answers in a row that are not this service's

    def replied(self) -> None:
        """An HTTP answer, whatever its status: the source is there."""
        self._answered = True
        self._last_answer = time.monotonic()
        self._unreachable = self._silent = 0

    def usable(self) -> None:
        """An answer of the shape this service gives."""
        self._wrong = 0

    def no_reply(self, error: str, unreachable: bool) -> None:
        """No HTTP answer came; raises SourceDown when that shows the source is unreachable or mute."""
        if unreachable and not self._answered:
            self._unreachable += 1
            if self._unreachable >= UNREACHABLE_LIMIT:
                self._give_up(f"{self._label} ({self.host}) cannot be reached: {error}")
            return
        self._silent += 1
        quiet = time.monotonic() - self._last_answer
        if self._silent >= MUTE_LIMIT and quiet >= self._give_up_after:
            why = error if unreachable else f"no answer within {self._timeout:g} s"
            self._give_up(
                f"{self._label} ({self.host}): {why}, {self._silent} requests in a row, none answered for {quiet:.0f} s"
            )

    def wrong(self, what: str, service: str) -> None:
        """An answer that is not `service`'s; raises SourceDown after NOT_SERVICE_LIMIT of them in a row."""
        self._wrong += 1
        if self._wrong >= NOT_SERVICE_LIMIT:
            self._give_up(f"{self._label} ({self.host}) is not {service}: it answered {what}")

    def _give_up(self, message: str) -> None:
        setting = SETTING.get(self._source)
        down = SourceDown(self._source, f"{message} (check {setting}, or a proxy)" if setting else message)
        self._gate.shut(down)
        raise down
