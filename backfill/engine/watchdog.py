"""Stop a run that is filling nothing, before it spends the day's quota, and say why.

A wrong API URL, a catalogue that is not the history's, or access refused on every call all look like
"not found" or "failed" for every item. Until the first real image (or a well-formed "no image") arrives,
"not found" answers are held back: if nothing ever works, they are not remembered as misses.
"""

from __future__ import annotations

from collections import Counter
from http import HTTPStatus

from backfill.sources.hints import likely_cause
from backfill.sources.http import Fatal
from backfill.store.store import Outcome

EARLY_STOP_ANSWERS = 200  # answers with not one image among them: the source is not the one we think
# A run that ends with fewer "not found" answers than this and nothing else is too small to judge: a history
# of a few deleted tracks is real, and its misses are remembered as usual.
TOO_FEW_TO_JUDGE = 20


class NothingWorks(Fatal):
    """The first EARLY_STOP_ANSWERS answers were all "not found" or failures."""


def describe_status(status: int) -> str:
    if status == 0:
        return "no usable answer"
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


class Watchdog:
    def __init__(self, threshold: int = EARLY_STOP_ANSWERS) -> None:
        self.threshold = threshold
        self.healthy = False
        self.held: list[Outcome] = []
        self.answers = 0
        self.statuses: Counter[int] = Counter()  # HTTP status of every not-found or failed answer
        self.sources: Counter[tuple[int, str]] = Counter()  # (status, source): the hint names that source's settings

    def see(self, outcome: Outcome, http_status: int, source: str = "api") -> list[Outcome]:
        """The outcomes to pass on to the writer now (held "not found" ones come out with the first success)."""
        if outcome.status in ("not_found", "failed"):
            self.statuses[http_status] += 1
            self.sources[(http_status, source)] += 1
        if self.healthy:
            return [outcome]
        if outcome.status in ("updated", "no_image"):
            self.healthy = True
            released, self.held = [*self.held, outcome], []
            return released
        self.answers += 1
        if outcome.status == "not_found":
            self.held.append(outcome)
            passed = []
        else:
            passed = [outcome]
        if self.answers >= self.threshold:
            raise NothingWorks(self.diagnosis())
        return passed

    def settle(self) -> list[Outcome]:
        """At the end of a run: the held misses to remember after all (only when too few to judge)."""
        if self.healthy or len(self.held) >= TOO_FEW_TO_JUDGE:
            return []
        released, self.held = self.held, []
        return released

    def diagnosis(self) -> str:
        """What the failures so far have in common, and the likely cause."""
        if not self.statuses:
            return ""
        status, count = self.statuses.most_common(1)[0]
        total = sum(self.statuses.values())
        what = f"{'all' if count == total else 'most'} of {total:,} answers were {describe_status(status)}"
        if self.healthy:
            return f"{what} ({count:,})"
        source = max(("api", "oembed"), key=lambda name: self.sources[(status, name)])
        cause = likely_cause(source, status)
        return f"nothing filled: {what}; {cause}"
