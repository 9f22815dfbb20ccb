"""Stop a run that is filling nothing, before it spends the day's quota, and say why.

A wrong API URL, a catalogue that is not the history's, or access refused on every call all look like
"not found" or "failed" for every item. Until the first real image (or a well-formed "no image") arrives,
"not found" answers are held back: if nothing ever works, they are not remembered as misses.
"""

from __future__ import annotations

from collections import Counter
from http import HTTPStatus

from backfill.sources.http import Fatal
from backfill.store import Outcome

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

    def see(self, outcome: Outcome, http_status: int) -> list[Outcome]:
        """The outcomes to pass on to the writer now (held "not found" ones come out with the first success)."""
        if outcome.status in ("not_found", "failed"):
            self.statuses[http_status] += 1
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
        cause = {
            404: "is SPOTIFY_API_URL right (it ends in /v1), and is this the catalogue your history came from?",
            400: "is the API URL right, and are these Spotify ids?",
            401: "the access token is refused: check SPOTIFY_TOKEN_URL and SPOTIFY_API_URL",
            403: "access is refused: check the app in Spotify's developer dashboard",
            0: "the server's answers are unreadable or missing: check the URL, a proxy, or try later",
        }.get(status, "the service is failing: try again later")
        return f"nothing filled: {what}; {cause}"
