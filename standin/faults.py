"""Broken answers on purpose (`--fault-mode NAME`): every odd thing a server has been seen to send.

Each mode rewrites the answer to an API request (the first `fault_count` of them, or all). Tests use them
to check that the tool never stores a wrong value, never remembers a failure as a miss, and never hangs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

Body = Any  # parsed JSON of a 200 answer
Rewrite = Callable[[Body, random.Random], Body]


def _objects_with_images(body: Body) -> list[dict[str, Any]]:
    """Every object in the answer that has an `images` key (tracks' albums, artists, albums)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "images" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return found


def _each_image(body: Body, change: Callable[[dict[str, Any]], None]) -> Body:
    for node in _objects_with_images(body):
        for image in node["images"] if isinstance(node["images"], list) else []:
            if isinstance(image, dict):
                change(image)
    return body


def _albums(body: Body, change: Callable[[dict[str, Any]], None]) -> Body:
    for track in body.get("tracks") or [body] if isinstance(body, dict) else []:
        if isinstance(track, dict) and "album" in track:
            change(track)
    return body


def _set_images(body: Body, value: Any) -> Body:
    for node in _objects_with_images(body):
        node["images"] = value
    return body


def _shuffle(body: Body, rng: random.Random) -> Body:
    for key in ("tracks", "artists"):
        if isinstance(body, dict) and isinstance(body.get(key), list) and len(body[key]) > 1:
            rng.shuffle(body[key])
            if body[key] and body[key][0] is None:  # keep it a reordering that still looks plausible
                body[key].append(body[key].pop(0))
    return body


def _foreign_ids(body: Body, rng: random.Random) -> Body:
    def swap(node: dict[str, Any]) -> None:
        if isinstance(node.get("id"), str):
            node["id"] = "".join(rng.sample("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 22))

    for key in ("tracks", "artists"):
        if isinstance(body, dict) and isinstance(body.get(key), list):
            for entry in body[key]:
                if isinstance(entry, dict):
                    swap(entry)
            return body
    if isinstance(body, dict) and "type" in body:
        swap(body)
    return body


def _drop_entry(body: Body, rng: random.Random) -> Body:
    """One entry of a batch left out, no null in its place: the answer is one entry short."""
    for key in ("tracks", "artists"):
        entries = body.get(key) if isinstance(body, dict) else None
        if isinstance(entries, list):
            present = [i for i, entry in enumerate(entries) if entry is not None]
            if present:
                del entries[rng.choice(present)]
    return body


# Mode → rewrite of a 200 JSON body. The byte-level modes are in RAW below.
JSON_MODES: dict[str, Rewrite] = {
    "empty-object": lambda body, rng: {},
    "null-body": lambda body, rng: None,
    "string-entries": lambda body, rng: (
        {k: ["x"] * len(v) for k, v in body.items()} if isinstance(body, dict) else body
    ),
    "shuffled": _shuffle,
    "foreign-ids": _foreign_ids,
    "dropped-entry": _drop_entry,
    "url-int": lambda body, rng: _each_image(body, lambda im: im.update(url=12345)),
    "url-list": lambda body, rng: _each_image(body, lambda im: im.update(url=["https://i.scdn.co/image/x"])),
    "url-garbage": lambda body, rng: _each_image(body, lambda im: im.update(url="not a url at all")),
    "no-url": lambda body, rng: _each_image(body, lambda im: im.pop("url", None)),
    "size-strings": lambda body, rng: _each_image(body, lambda im: im.update(width=str(im.get("width")))),
    "size-floats": lambda body, rng: _each_image(
        body, lambda im: im.update(width=float(im["width"]) if isinstance(im.get("width"), int) else None)
    ),
    "no-album": lambda body, rng: _albums(body, lambda t: t.pop("album")),
    "album-null": lambda body, rng: _albums(body, lambda t: t.update(album=None)),
    "album-string": lambda body, rng: _albums(body, lambda t: t.update(album="Greatest Hits")),
    "images-null": lambda body, rng: _set_images(body, None),
    "images-string": lambda body, rng: _set_images(body, "https://i.scdn.co/image/x"),
    "images-dict": lambda body, rng: _set_images(body, {"url": "https://i.scdn.co/image/x"}),
}
# Mode → (status, raw body, content type) replacing the answer outright.
RAW: dict[str, tuple[int, bytes, str]] = {
    "html": (200, b"<!doctype html><html><body>Service temporarily unavailable</body></html>", "text/html"),
    "empty-body": (200, b"", "application/json"),
    "truncated": (200, b'{"tracks": [{"album": {"images": [{"url": "https://i.sc', "application/json"),
    "latin1": (200, '{"error": "caf\xe9"}'.encode("latin-1"), "application/json"),
    "huge": (200, b'{"pad": "' + b"x" * (50 * 1024 * 1024) + b'"}', "application/json"),
    "error-500": (500, b"<html>500 Internal Server Error</html>", "text/html"),
}
# A valid answer padded with whitespace (still valid JSON) far past any real answer (under 1 MB), sent with a
# Content-Length or chunked with none: only a client that counts what it reads can refuse the second.
PADDED = ("padded", "padded-chunked")
PADDING = 12 * 1024 * 1024
# Modes the server handles itself: no answer at all, and redirects in a loop.
SPECIAL = ("hang", "redirect-loop")
MODES = (*JSON_MODES, *RAW, *PADDED, *SPECIAL)


def rewrite(mode: str, body: bytes, rng: random.Random) -> tuple[int, bytes, str]:
    """The faulty version of a 200 answer's body: (status, body, content type)."""
    if mode in RAW:
        return RAW[mode]
    if mode in PADDED:
        return 200, body + b" " * PADDING, "application/json"
    changed = JSON_MODES[mode](json.loads(body), rng)
    return 200, json.dumps(changed).encode(), "application/json"
