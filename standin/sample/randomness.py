"""Drawing from seeded generators: ids, image URLs and shares, always in the same order for the same seed."""

from __future__ import annotations

import contextlib
import gc
import random
from collections.abc import Iterator, Sequence

from standin.catalog import Image
from standin.sample.world import BASE62, IMAGE_HOST, OTHER_IMAGE_HOST

# Maps every byte to a base-62 character, so one randbytes() call yields many ids (slightly biased: irrelevant).
_BYTE_TO_BASE62 = bytes(ord(BASE62[b % 62]) for b in range(256))


class Draw:
    """Ids and hashes drawn from one seeded generator, in big blocks (a million ids take well under a second)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._ids = ""
        self._id_pos = 0
        self._hex = ""
        self._hex_pos = 0

    def id(self) -> str:
        if self._id_pos >= len(self._ids):
            self._ids = self.rng.randbytes(22 * 4096).translate(_BYTE_TO_BASE62).decode("ascii")
            self._id_pos = 0
        self._id_pos += 22
        return self._ids[self._id_pos - 22 : self._id_pos]

    def hex40(self) -> str:
        if self._hex_pos >= len(self._hex):
            self._hex = self.rng.randbytes(20 * 4096).hex()
            self._hex_pos = 0
        self._hex_pos += 40
        return self._hex[self._hex_pos - 40 : self._hex_pos]

    def url(self) -> str:
        # A few URLs on the other CDN host, as real responses have.
        host = OTHER_IMAGE_HOST if self.rng.random() < 0.03 else IMAGE_HOST
        return host + self.hex40()

    def images(self, widths: Sequence[int | None]) -> list[Image]:
        return [Image(self.url(), w, w) for w in widths]


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Millions of new objects (none cyclic) make the collector rescan everything, over and over: a third
    of the build time at a million tracks. Pause it while building."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def share_count(total: int, share: float, minimum: int = 0, *, when: int = 0) -> int:
    """round(total * share), but at least `minimum` once total reaches `when` (small worlds keep each case)."""
    n = round(total * share)
    if share > 0 and total >= when:
        n = max(n, minimum)
    return min(n, total)


def other_url(draw: Draw, avoid: str | None) -> str:
    """A plausible image URL that differs from the right one: proof that a prefilled value was kept."""
    while (url := draw.url()) == avoid:
        pass
    return url
