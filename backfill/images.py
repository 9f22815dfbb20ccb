"""Choosing which of Spotify's image sizes to store, and what counts as an image at all."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

PREFERRED_WIDTH = 300


class Malformed(ValueError):
    """An answer that does not have the shape Spotify documents: a failure, never "no image"."""


def is_image_url(value: object) -> bool:
    """An absolute http(s) URL with a host: anything else would be stored as garbage the dashboard can't show."""
    if not isinstance(value, str) or not value or len(value) > 2048 or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _number(value: object) -> float | None:
    """A size: ints, floats and numeric strings ("300", "300.0") alike; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _size(image: Mapping[str, Any]) -> float | None:
    # Width is what "300 px" means; fall back to height for the rare entry that only has one.
    for key in ("width", "height"):
        if (value := _number(image.get(key))) is not None:
            return value
    return None


def choose_image(images: object) -> str | None:
    """The URL of the image nearest 300 px wide, ties to the larger; None when the list is empty.

    Sizes may be null: if no usable entry has one, the first usable entry wins (Spotify lists widest first).
    Entries without an http(s) URL are skipped. Raises Malformed when `images` is not a list, or when it
    lists entries of which none is usable: that is a broken answer, not an item without an image.
    """
    if not isinstance(images, list):
        raise Malformed(f"images is {type(images).__name__}, not a list")
    if not images:
        return None
    candidates = [im for im in images if isinstance(im, Mapping) and is_image_url(im.get("url"))]
    if not candidates:
        raise Malformed("no image entry has an http(s) url")
    sized = [(size, im) for im in candidates if (size := _size(im)) is not None]
    if not sized:
        return str(candidates[0]["url"])
    _, best = min(sized, key=lambda pair: (abs(pair[0] - PREFERRED_WIDTH), -pair[0]))
    return str(best["url"])
