"""How one source sends: its own Retry-After gate, its own rate limiter and its own concurrency.

Each source (the Web API, oEmbed) has a `Pace`: a 429 from one never holds back the other. Every request
goes: wait for the gate → take a concurrency slot → wait for the rate limiter → check the gate again (a 429
may have arrived meanwhile) → send. Sleeps happen outside the slot, so a waiting request never blocks one
that could go.

An adaptive pace (oEmbed, whose limit is undocumented) lowers its rate on each 429 and climbs back after a
stretch of successes: additive increase, multiplicative decrease, as TCP finds a link's capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiolimiter import AsyncLimiter

# Multiplicative decrease: mild, because the server's window already punishes overshoot with 429s, and a
# halving would average ~75 % of the allowed rate.
DECREASE = 0.85
# Additive increase: this share of the ceiling, after this many seconds' worth of successes at the current rate,
# but only up to NEAR times the rate a 429 last came at; above that, the rate probes in steps of PROBE_STEP of it.
# With a ceiling well above the server's limit, ceiling-sized steps overshoot again within seconds (bench 9).
INCREASE_STEP = 0.04
INCREASE_AFTER_SECONDS = 2.0
NEAR = 0.95
PROBE_STEP = 0.01
FLOOR_SHARE = 0.02  # never below this share of the ceiling


class RetryAfterGate:
    """Shared by every request of one source.

    Spotify counts calls made during a Retry-After against the caller and lengthens the penalty, so a 429
    seen by one worker must hold back all of them, not only the one that got it.
    """

    def __init__(self) -> None:
        self._until = 0.0
        self.on_close: Callable[[float], None] | None = None  # told of each new wait (progress display)
        self.shut_by: BaseException | None = None  # the source is given up: every request raises this
        self._shut = asyncio.Event()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def remaining(self) -> float:
        return max(0.0, self._until - self._now())

    def close_for(self, seconds: float) -> None:
        """Hold every request back for `seconds` from now (never shortens a wait already running)."""
        until = self._now() + seconds
        if until > self._until:
            self._until = until
            if self.on_close is not None:
                self.on_close(seconds)

    def shut(self, exc: BaseException) -> None:
        """Give the source up for the rest of the run: requests waiting here, and later ones, raise `exc`."""
        if self.shut_by is None:
            self.shut_by = exc
        self._shut.set()

    async def wait(self) -> None:
        # Loop: the gate may be closed again (longer) while we sleep.
        while (remaining := self.remaining) > 0 and self.shut_by is None:
            with contextlib.suppress(TimeoutError):  # woken early when the source is given up
                await asyncio.wait_for(self._shut.wait(), remaining)
        if self.shut_by is not None:
            raise self.shut_by


class Pace:
    def __init__(self, name: str, rate: float, concurrency: int, *, adaptive: bool = False) -> None:
        self.name = name
        self.gate = RetryAfterGate()
        self.ceiling = rate
        self.rate = rate
        self.adaptive = adaptive
        self.epoch = 0  # bumped by each overshoot: 429s to requests sent before it do not count again
        # 429s in a row across all requests, one per overshoot: how long to wait when no Retry-After says.
        self.overshoots = 0
        self._slots = asyncio.Semaphore(concurrency)
        self._limiter = self._make_limiter(rate)
        # One request at a time waits for the limiter, and a new rate's limiter takes over from the next
        # request: a replaced limiter whose waiters ran on beside the new one let bursts through.
        self._pacing = asyncio.Lock()
        self._next_limiter: AsyncLimiter | None = None
        self._successes = 0
        self._throttled_at: float | None = None  # the rate the latest 429 came at
        self.lowest = rate  # for the summary: how far the rate had to come down

    @staticmethod
    def _make_limiter(rate: float) -> AsyncLimiter:
        # max_rate=1 over 1/rate seconds: an even pace with no start-up burst (aiolimiter's documented recipe).
        return AsyncLimiter(1, 1.0 / rate)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[int]:
        """Wait for this source's turn to send; yields the epoch the request is sent in, inside a slot."""
        while True:
            await self.gate.wait()
            async with self._slots:
                async with self._pacing:
                    await self._limiter.acquire()
                    if self._next_limiter is not None:
                        # The new rate starts here: its (empty) limiter lets this request go and paces the next.
                        self._limiter, self._next_limiter = self._next_limiter, None
                        await self._limiter.acquire()
                if self.gate.remaining > 0 or self.gate.shut_by is not None:
                    continue  # a 429 arrived, or the source was given up, while we waited: back to the gate
                yield self.epoch
                return

    def succeeded(self) -> None:
        self.overshoots = 0
        if not self.adaptive or self.rate >= self.ceiling:
            return
        self._successes += 1
        if self._successes >= self.rate * INCREASE_AFTER_SECONDS:
            known = self._throttled_at
            if known is None:
                rate = self.rate + self.ceiling * INCREASE_STEP
            elif self.rate < known * NEAR:
                rate = min(known * NEAR, self.rate + self.ceiling * INCREASE_STEP)
            else:
                rate = self.rate + known * PROBE_STEP
            self._set_rate(min(self.ceiling, rate))

    def throttled(self, epoch: int) -> None:
        """A 429: slow down once per overshoot, not once per request that was already in flight."""
        if epoch != self.epoch:
            return
        self.epoch += 1
        self.overshoots += 1
        if not self.adaptive:
            return
        self._throttled_at = self.rate
        self._set_rate(max(self.ceiling * FLOOR_SHARE, self.rate * DECREASE))
        self.lowest = min(self.lowest, self.rate)

    def _set_rate(self, rate: float) -> None:
        self._successes = 0
        if rate != self.rate:
            self.rate = rate
            self._next_limiter = self._make_limiter(rate)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential with jitter (half to full), so retrying workers do not return in step."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)
