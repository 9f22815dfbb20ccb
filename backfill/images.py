"""Choosing which of Spotify's image sizes to store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PREFERRED_WIDTH = 300


def _size(image: Mapping[str, Any]) -> int | None:
    # Width is what "300 px" means; fall back to height for the rare entry that only has one.
    for key in ("width", "height"):
        value = image.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def choose_image(images: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The URL of the image nearest 300 px wide, ties to the larger.

    Sizes may be null: if no entry has one, the first entry wins (Spotify lists widest first).
    An empty or missing list means there is no image.
    """
    candidates = [im for im in images or () if isinstance(im, Mapping) and im.get("url")]
    if not candidates:
        return None
    sized = [(size, im) for im in candidates if (size := _size(im)) is not None]
    if not sized:
        return str(candidates[0]["url"])
    _, best = min(sized, key=lambda pair: (abs(pair[0] - PREFERRED_WIDTH), -pair[0]))
    return str(best["url"])
