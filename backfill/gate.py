"""One Retry-After for all workers: a 429 closes the gate, and nobody sends until it reopens."""

from __future__ import annotations

import asyncio


class RetryAfterGate:
    """Shared by every request of a run.

    Spotify counts calls made during a Retry-After against the caller and lengthens the penalty, so a 429
    seen by one worker must hold back all of them, not only the one that got it.
    """

    def __init__(self) -> None:
        self._until = 0.0

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def remaining(self) -> float:
        return max(0.0, self._until - self._now())

    def close_for(self, seconds: float) -> None:
        """Hold every request back for `seconds` from now (never shortens a wait already running)."""
        self._until = max(self._until, self._now() + seconds)

    async def wait(self) -> None:
        # Loop: the gate may be closed again (longer) while we sleep.
        while (remaining := self.remaining) > 0:  # noqa: ASYNC110 - a deadline, not an event
            await asyncio.sleep(remaining)
