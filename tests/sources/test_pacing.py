"""A source's adaptive pace, on a virtual clock: it backs off on 429s and climbs back after successes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any

import aiohttp
import pytest

from backfill.sources import http
from backfill.sources.health import SourceDown
from backfill.sources.http import ClientOptions, RateLimited
from backfill.sources.oembed import OEmbedClient
from backfill.sources.pacing import DECREASE, FLOOR_SHARE, NEAR, PROBE_STEP, Pace
from standin import Emulator
from standin.sample import World
from tests.sources.test_gate import VirtualClockLoop
from tests.sources.test_gate import run as run_virtually


class NudgingClockLoop(VirtualClockLoop):
    """Jumps a hair past each timer: aiolimiter re-arms a timer for a remainder that float rounding can
    leave at exactly the current instant, and a clock that lands on it exactly would never move on."""

    def _run_once(self) -> None:
        if not self._ready and self._scheduled:  # type: ignore[attr-defined]
            self._now = max(self._now, self._scheduled[0].when()) + 1e-6  # type: ignore[attr-defined]
        super()._run_once()


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return run_virtually(coro, NudgingClockLoop)


def test_a_429_lowers_the_rate_once_per_overshoot() -> None:
    async def scenario() -> tuple[float, float]:
        pace = Pace("oembed", 20.0, 8, adaptive=True)
        async with pace.turn() as epoch:
            pass
        pace.throttled(epoch)
        once = pace.rate
        pace.throttled(epoch)  # a second 429 to a request sent before the slow-down: no second cut
        return once, pace.rate

    once, twice = run(scenario())
    assert once == 20.0 * DECREASE
    assert twice == once


def test_successes_bring_the_rate_back_to_the_ceiling_never_above() -> None:
    async def scenario() -> list[float]:
        pace = Pace("oembed", 10.0, 8, adaptive=True)
        for _ in range(5):
            pace.throttled(pace.epoch)
        rates = [pace.rate]
        for _ in range(2000):
            async with pace.turn():
                pass
            pace.succeeded()
            rates.append(pace.rate)
        return rates

    rates = run(scenario())
    assert rates[0] < 10.0 * 0.5
    assert rates == sorted(rates), "only successes: the rate only climbs"
    assert rates[-1] == 10.0


def test_the_rate_has_a_floor() -> None:
    pace_rates = []

    async def scenario() -> None:
        pace = Pace("oembed", 10.0, 8, adaptive=True)
        for _ in range(200):
            pace.throttled(pace.epoch)
        pace_rates.append(pace.rate)

    run(scenario())
    assert pace_rates == [10.0 * FLOOR_SHARE]


def test_the_pace_holds_to_its_rate_on_the_loop_clock() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        pace = Pace("api", 5.0, 8)
        start = loop.time()
        for _ in range(50):
            async with pace.turn():
                pass
        return loop.time() - start

    # 50 requests at 5/s with no start-up burst: about 10 virtual seconds.
    assert 9.0 <= run(scenario()) <= 10.5


def test_a_fixed_pace_ignores_429s_for_its_rate() -> None:
    async def scenario() -> float:
        pace = Pace("api", 5.0, 8)
        pace.throttled(pace.epoch)
        return pace.rate

    assert run(scenario()) == 5.0


def test_a_rate_change_lets_no_burst_through() -> None:
    """Requests stay at least 1/rate apart while the rate goes down and up (a replaced limiter must not run on
    beside the new one: that let pairs of requests through a server's rolling window)."""

    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        pace = Pace("oembed", 10.0, 8, adaptive=True)
        sent: list[float] = []

        async def worker() -> None:
            while len(sent) < 120:
                async with pace.turn():
                    sent.append(loop.time())
                await asyncio.sleep(0.15)  # the answer's latency, outside the slot's pacing
                pace.succeeded()

        async def changes() -> None:
            for _ in range(6):
                await asyncio.sleep(1.03)
                pace.throttled(pace.epoch)

        await asyncio.gather(changes(), *(worker() for _ in range(8)))
        return sent

    sent = run(scenario())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 1 / 10.0 - 1e-3  # never faster than the fastest rate the pace had


def test_after_a_429_the_rate_returns_near_it_quickly_then_probes_slowly() -> None:
    async def scenario() -> list[float]:
        pace = Pace("oembed", 30.0, 8, adaptive=True)
        for _ in range(7):
            pace.throttled(pace.epoch)
        rates = [pace.rate]
        for _ in range(3000):
            pace.succeeded()
            rates.append(pace.rate)
        return rates

    rates = run(scenario())
    hit = 30.0 * DECREASE**6  # the rate the last 429 came at
    steps = [(a, b) for a, b in itertools.pairwise(rates) if b != a]
    assert steps[0][1] == pytest.approx(NEAR * hit)  # one ceiling-sized step back up, capped near the 429's rate
    above = [b - a for a, b in steps if a >= NEAR * hit - 1e-9]
    assert above and max(above) == pytest.approx(PROBE_STEP * hit)  # then small steps
    assert rates[-1] > hit  # it still looks for more


def test_429s_count_once_per_overshoot_until_a_success() -> None:
    async def scenario() -> list[int]:
        pace = Pace("api", 5.0, 8)  # a fixed pace counts them too
        seen = []
        for _ in range(3):
            async with pace.turn() as epoch:
                pass
            pace.throttled(epoch)
            pace.throttled(epoch)  # another request of the same overshoot
            seen.append(pace.overshoots)
        pace.succeeded()
        return [*seen, pace.overshoots]

    assert run(scenario()) == [1, 2, 3, 0]


async def test_without_retry_after_the_wait_grows_across_items(
    emulator: Emulator, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each item's own 429 count starts at one: the source's count must carry over, or a server whose window
    stays full would be asked again every second by item after item."""
    emulator.config.oembed.rate_limit = 1
    emulator.config.oembed.rate_window = 600.0
    emulator.config.oembed.retry_after = False
    attempts: list[int] = []

    def no_sleep(attempt: int, base: float, cap: float) -> float:
        attempts.append(attempt)
        return 0.001

    monkeypatch.setattr(http, "backoff", no_sleep)
    tracks = [t for t, url in world.expected_track_url.items() if url][:3]
    async with aiohttp.ClientSession() as session:
        oembed = OEmbedClient(session, emulator.base_url + "/oembed", ClientOptions(rate=1000.0, concurrency=1))
        assert (await oembed.image("tracks", tracks[0])).status == "updated"  # the window's one request
        for track in tracks[1:]:
            with pytest.raises(RateLimited):
                await oembed.image("tracks", track)
            attempts.append(-1)
    first, second = attempts[: attempts.index(-1)], attempts[attempts.index(-1) + 1 : -1]
    assert first[0] == 1 and second[0] > first[-1], (first, second)


def test_a_429_while_requests_wait_for_the_limiter_holds_them_until_the_gate_reopens() -> None:
    """Requests already parked behind the rate limiter when a Retry-After arrives must not go out during it."""

    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        pace = Pace("api", 1.0, 8)  # one turn a second: the other workers queue behind the limiter
        granted: list[float] = []

        async def worker() -> None:
            async with pace.turn():
                granted.append(loop.time())

        async def retry_after() -> None:
            await asyncio.sleep(0.5)  # the first request got a 429: hold everyone for 10 s
            pace.gate.close_for(10)

        await asyncio.gather(*(worker() for _ in range(5)), retry_after())
        return granted

    first, *later = run(scenario())
    assert first < 0.5
    assert len(later) == 4 and min(later) >= 10.5, later


def test_requests_waiting_for_the_limiter_when_the_source_is_given_up_are_not_sent() -> None:
    """A source given up (unreachable, mute, not the service) shuts its gate without a Retry-After: requests
    already parked behind the rate limiter raise its error instead of going out."""
    down = SourceDown("oembed", "oEmbed (127.0.0.1:9) cannot be reached")

    async def scenario() -> tuple[int, list[BaseException]]:
        pace = Pace("oembed", 1.0, 8)  # one turn a second: the other workers queue behind the limiter
        sent, raised = 0, []

        async def worker() -> None:
            nonlocal sent
            try:
                async with pace.turn():
                    sent += 1
            except SourceDown as exc:
                raised.append(exc)

        async def give_up() -> None:
            await asyncio.sleep(0.5)  # the first request showed the source is down
            pace.gate.shut(down)

        await asyncio.gather(*(worker() for _ in range(5)), give_up())
        return sent, raised

    sent, raised = run(scenario())
    assert sent == 1
    assert len(raised) == 4 and all(exc is down for exc in raised)
