"""The Web API's gatekeeping in the emulator: what an API request meets before it is routed.

In order: the daily quota, outcomes a test injected, the rolling-window rate limit and its Retry-After penalty
(which grows when called during it), random dropped connections and 5xx errors, the bearer token, the method.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from email.utils import formatdate

from standin.accounts import Accounts
from standin.config import EmulatorConfig, Outcome
from standin.wire import SERVER_ERRORS, Answer, error, quota_answer


class Gatekeeper:
    """The limits an API request must pass, with what they remember: the window, penalties, the quota's count."""

    def __init__(self, config: EmulatorConfig, rng: random.Random, accounts: Accounts) -> None:
        self.config = config
        self.rng = rng
        self.accounts = accounts
        self._window: deque[float] = deque()  # arrival times of API requests in the rolling window
        self._penalty_end = 0.0
        self._penalties: list[list[float]] = []
        self._answered = 0  # API requests counted against the quota
        self._injected: deque[tuple[Outcome, str | None]] = deque()
        self._inject_lock = threading.Lock()  # inject() may be called from a test thread

    def penalties(self) -> list[tuple[float, float]]:
        """(start, end) of each rate-limit penalty; `end` includes extensions from calls made during it."""
        return [(start, end) for start, end in list(self._penalties)]

    def new_day(self) -> None:
        """The daily quota starts again: API requests count from zero."""
        self._answered = 0

    def inject(self, *outcomes: Outcome, endpoint: str | None = None) -> None:
        """Queue forced outcomes for the next matching API requests (`Emulator.inject` says which)."""
        for outcome in outcomes:
            valid = outcome in ("drop", "quota") or (isinstance(outcome, int) and 400 <= outcome <= 599)
            if not valid and not (isinstance(outcome, tuple) and len(outcome) == 2 and outcome[0] == 429):
                raise ValueError(f"unknown outcome {outcome!r}")  # here, not as a 500 from the server
        with self._inject_lock:
            self._injected.extend((outcome, endpoint) for outcome in outcomes)

    def check(self, now: float, endpoint: str, token: str | None, method: str) -> Answer | None:
        """What happens before routing: quota, injected outcomes, rate limit, faults, auth.

        Returns None when the request should be routed normally.
        """
        in_penalty = now < self._penalty_end
        answer = self._refusal(now, endpoint, token, method, in_penalty)
        if answer is not None:
            answer.in_penalty = in_penalty
        return answer

    def _refusal(self, now: float, endpoint: str, token: str | None, method: str, in_penalty: bool) -> Answer | None:
        """The answer a request gets instead of being routed, or None."""
        config = self.config
        if config.quota is not None and self._answered >= config.quota:
            return quota_answer(config.quota_retry_after)
        forced = self._forced(endpoint)
        if forced == "quota":
            return quota_answer(config.quota_retry_after)
        self._answered += 1

        # Every API request occupies the rolling window, 429'd ones included.
        window = self._window
        window.append(now)
        horizon = now - config.rate_window
        while window and window[0] <= horizon:
            window.popleft()

        if forced is not None:
            return self._forced_answer(now, forced)
        if in_penalty:
            # Calling during a Retry-After lengthens it (spotify-facts: calls made then count against you).
            self._penalty_end += config.penalty_extension
            self._penalties[-1][1] = self._penalty_end
            return self._rate_limited(max(1, math.ceil(self._penalty_end - now)))
        limit = config.rate_limit
        if limit is not None and len(window) > limit:
            # Room for the next request once all but limit-1 of the entries (this one included) expired.
            wait = window[len(window) - max(limit, 1)] + config.rate_window - now
            return self._start_penalty(now, max(1, math.ceil(wait)))
        if config.drop_rate > 0 and self.rng.random() < config.drop_rate:
            return Answer(0, drop=True)
        if config.error_rate > 0 and self.rng.random() < config.error_rate:
            return error(self.rng.choice(SERVER_ERRORS))
        if not self.accounts.valid(token, now):
            return error(401)
        if method != "GET":
            return error(405)
        return None

    def _forced(self, endpoint: str) -> Outcome | None:
        if not self._injected:
            return None
        with self._inject_lock:
            for index, (outcome, wanted) in enumerate(self._injected):
                if wanted is None or wanted == endpoint:
                    del self._injected[index]
                    return outcome
        return None

    def _forced_answer(self, now: float, forced: Outcome) -> Answer:
        if forced == "drop":
            return Answer(0, drop=True)
        if isinstance(forced, tuple):
            return self._start_penalty(now, forced[1])
        if forced == 429:
            return self._start_penalty(now, 1)
        if isinstance(forced, int):
            return error(forced)
        raise ValueError(f"unknown injected outcome {forced!r}")

    def _start_penalty(self, now: float, seconds: int | None) -> Answer:
        """A 429 starting a penalty of `seconds`; None: a 429 that names no Retry-After at all."""
        self._penalty_end = max(self._penalty_end, now + (seconds or 1))
        self._penalties.append([now, self._penalty_end])
        return self._rate_limited(seconds)

    def _rate_limited(self, retry_after: int | None) -> Answer:
        answer = error(429)
        if retry_after is not None and self.config.retry_after_date:
            # Whole seconds from the Date header this answer carries: HTTP-dates have no fractions.
            now = int(time.time())
            answer.headers["Date"] = formatdate(now, usegmt=True)
            answer.headers["Retry-After"] = formatdate(now + retry_after, usegmt=True)
        elif retry_after is not None:
            answer.headers["Retry-After"] = str(retry_after)
        return answer
