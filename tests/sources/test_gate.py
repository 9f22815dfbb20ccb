"""The shared Retry-After gate, on a virtual clock: no test here really sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from backfill.sources.pacing import RetryAfterGate


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer whenever nothing else is ready."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0

    def time(self) -> float:
        return self._now

    def _run_once(self) -> None:
        ready = self._ready  # type: ignore[attr-defined]
        scheduled = self._scheduled  # type: ignore[attr-defined]
        if not ready and scheduled:
            self._now = max(self._now, scheduled[0].when())
        super()._run_once()  # type: ignore[misc]


def run(coro: Coroutine[Any, Any, Any], loop_class: type[VirtualClockLoop] | None = None) -> Any:
    loop = (loop_class or VirtualClockLoop)()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def test_open_gate_does_not_wait() -> None:
    async def scenario() -> float:
        gate = RetryAfterGate()
        await gate.wait()
        return asyncio.get_running_loop().time()

    assert run(scenario()) == 0.0


def test_every_waiter_is_held_until_the_retry_after_has_passed() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        gate = RetryAfterGate()
        released: list[float] = []

        async def worker(start: float) -> None:
            await asyncio.sleep(start)
            await gate.wait()
            released.append(loop.time())

        gate.close_for(30)
        await asyncio.gather(*(worker(s) for s in (0, 5, 29.5, 31)))
        return released

    assert run(scenario()) == [30.0, 30.0, 30.0, 31.0]


def test_a_later_longer_retry_after_extends_the_wait_for_all() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        gate = RetryAfterGate()
        released: list[float] = []

        async def worker() -> None:
            await gate.wait()
            released.append(loop.time())

        async def second_429() -> None:
            await asyncio.sleep(4)
            gate.close_for(20)  # another worker's 429 arrives while everyone waits

        gate.close_for(10)
        await asyncio.gather(worker(), worker(), second_429())
        return released

    assert run(scenario()) == [24.0, 24.0]


def test_a_shorter_retry_after_never_shortens_the_wait() -> None:
    async def scenario() -> float:
        gate = RetryAfterGate()
        gate.close_for(60)
        gate.close_for(1)
        await gate.wait()
        return asyncio.get_running_loop().time()

    assert run(scenario()) == 60.0
