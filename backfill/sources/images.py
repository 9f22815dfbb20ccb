"""Choosing which of Spotify's image sizes to store, and what counts as an image at all."""

from __future__ import annotations

import math
import re

from backfill.kinds import HTTP_URL_PATTERN, MAX_URL_LENGTH, is_http_url

PREFERRED_WIDTH = 300


class Malformed(ValueError):
    """An answer that does not have the shape Spotify documents: a failure, never "no image"."""


# The stored-URL rule is the one every layer shares (backfill.kinds.is_http_url); a regular expression rather
# than urlsplit: it runs for every image of every answer (three a track, 50 tracks a batch).
_IMAGE_URL = re.compile(HTTP_URL_PATTERN)
is_image_url = is_http_url


def _number(value: object) -> float | None:
    """A size: ints, floats and numeric strings ("300", "300.0") alike; None for anything else."""
    if type(value) is int:  # the usual case, first: this runs for every image of every answer
        return value if value > 0 else None
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


def choose_image(images: object) -> str | None:
    """The URL of the image nearest 300 px wide, ties to the larger; None when the list is empty.

    Sizes may be null: if no usable entry has one, the first usable entry wins (Spotify lists widest first);
    width is what "300 px" means, height stands in for an entry that only has that. Entries without an
    http(s) URL are skipped. Raises Malformed when `images` is not a list, or when it lists entries of which
    none is usable: that is a broken answer, not an item without an image.
    """
    if not isinstance(images, list):
        raise Malformed(f"images is {type(images).__name__}, not a list")
    if not images:
        return None
    first: str | None = None
    best: str | None = None
    best_key: tuple[float, float] | None = None
    for image in images:  # one pass: it runs for every answer
        if not isinstance(image, dict):
            continue
        url = image.get("url")
        if (
            type(url) is not str or len(url) > MAX_URL_LENGTH or _IMAGE_URL.fullmatch(url) is None
        ):  # is_image_url, inlined
            continue
        if first is None:
            first = url
        size = _number(image.get("width"))
        if size is None:
            size = _number(image.get("height"))
        if size is not None:
            key = (abs(size - PREFERRED_WIDTH), -size)
            if best_key is None or key < best_key:
                best, best_key = url, key
    if first is None:
        raise Malformed("no image entry has an http(s) url")
    return best if best is not None else first
