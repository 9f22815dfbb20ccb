"""Spotify's oEmbed endpoint over the catalog: `GET /oembed?url=https://open.spotify.com/track/<id>`.

Its own rolling-window rate limit (429 with or without Retry-After, configurable), faults and drops, and
thumbnails on another CDN host than the Web API's images, as the real one serves them.
"""

from __future__ import annotations

import math
import random
import re
from collections import deque
from dataclasses import dataclass
from html import escape
from typing import Any

from standin.catalog import Catalog, Image
from standin.render import dumps

THUMBNAIL_HOST = "https://image-cdn-fa.spotifycdn.com/image/"
_PAGE_URL = re.compile(r"https://open\.spotify\.com/(track|artist|album)/([0-9A-Za-z]{22})(?:\?.*)?")
_FAULTS = (500, 502, 503, 504)
# Broken 200 answers (`OEmbedConfig.fault`): each must make the item fail, never store a wrong value.
FAULTS: dict[str, bytes] = {
    "html": b"<!doctype html><html><body>Spotify</body></html>",
    "truncated": b'{"html": "<iframe", "thumbnail_url": "https://image-cdn-fa.spotifycdn.com/ima',
    "empty-object": b"{}",
    "thumbnail-null": b'{"type": "rich", "version": "1.0", "thumbnail_url": null}',
    "thumbnail-int": b'{"type": "rich", "version": "1.0", "thumbnail_url": 12345}',
    "thumbnail-list": b'{"type": "rich", "version": "1.0", "thumbnail_url": ["https://i.scdn.co/image/ab67"]}',
    "thumbnail-garbage": b'{"type": "rich", "version": "1.0", "thumbnail_url": "not a url at all"}',
    "not-an-object": b'["https://image-cdn-fa.spotifycdn.com/image/ab67616d00001e02aa"]',
    "json-list": b'[{"type": "rich", "version": "1.0"}]',
    "json-string": b'"https://image-cdn-fa.spotifycdn.com/image/ab67616d00001e02aa"',
}
# Faults the server acts out: accept the request and never answer; redirect to another host (a captive portal).
SPECIAL = ("mute", "redirect-elsewhere")
PORTAL = "http://portal.example.invalid/login"
MODES = (*FAULTS, *SPECIAL)


@dataclass
class OEmbedConfig:
    rate_limit: int | None = None  # max requests per rolling window; None = unlimited
    rate_window: float = 30.0  # seconds
    retry_after: bool = True  # whether its 429s carry a Retry-After header
    error_rate: float = 0.0  # share answered with a random 5xx (an HTML body, as seen in the wild)
    drop_rate: float = 0.0  # share whose connection is closed with no response
    latency: float = 0.0  # seconds added before each answer
    fault: str | None = None  # a broken answer: one of MODES below


@dataclass
class OEmbedAnswer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] | None = None
    drop: bool = False


def thumbnail(images: list[Image], width: int, host: str = THUMBNAIL_HOST) -> Image | None:
    """The catalog image oEmbed shows (nearest `width`), on the oEmbed CDN host: same image id, other host."""
    if not images:
        return None
    sized = [im for im in images if im.width is not None]
    best = min(sized, key=lambda im: (abs((im.width or 0) - width), -(im.width or 0))) if sized else images[0]
    return Image(host + best.url.rsplit("/", 1)[-1], best.width, best.height)


class OEmbedService:
    def __init__(self, catalog: Catalog, config: OEmbedConfig, rng: random.Random) -> None:
        self.catalog = catalog
        self.config = config
        self.rng = rng
        self._window: deque[float] = deque()
        self._penalty_end = 0.0
        self.penalties: list[tuple[float, float]] = []  # (start, end) of each Retry-After it announced

    def answer(
        self, url: str | None, now: float, image_host: str = THUMBNAIL_HOST
    ) -> tuple[OEmbedAnswer, tuple[str, ...]]:
        """The answer to one request, and the id it asked about (for the records); thumbnails on `image_host`."""
        config = self.config
        window = self._window
        window.append(now)
        while window and window[0] <= now - config.rate_window:
            window.popleft()
        over = config.rate_limit is not None and len(window) > config.rate_limit
        if over or now < self._penalty_end:
            # Room again once all but limit-1 of the window's entries (this one included) have expired.
            limit = max(config.rate_limit or 1, 1)
            wait = window[len(window) - limit] + config.rate_window - now if over else self._penalty_end - now
            self._penalty_end = max(self._penalty_end, now + max(0.0, wait))
            headers = None
            if config.retry_after:
                seconds = max(1, math.ceil(wait))
                headers = {"Retry-After": str(seconds)}
                self.penalties.append((now, now + seconds))
            return OEmbedAnswer(429, b'{"error":"Too Many Requests"}', headers=headers), ()
        if config.drop_rate and self.rng.random() < config.drop_rate:
            return OEmbedAnswer(0, b"", drop=True), ()
        if config.error_rate and self.rng.random() < config.error_rate:
            status = self.rng.choice(_FAULTS)
            return OEmbedAnswer(status, b"<html><body>Server error</body></html>", "text/html"), ()
        match = _PAGE_URL.fullmatch(url or "")
        if match is None:
            return OEmbedAnswer(400, b'{"error":"invalid url"}'), ()
        kind, item_id = match.groups()
        body = self._body(kind, item_id, image_host)
        if body is None:
            return OEmbedAnswer(404, b'{"error":"not found"}'), (item_id,)
        if config.fault == "redirect-elsewhere":
            return OEmbedAnswer(302, b"", "text/html", {"Location": f"{PORTAL}?continue={url}"}), (item_id,)
        if config.fault in FAULTS:
            return OEmbedAnswer(200, FAULTS[config.fault]), (item_id,)
        return OEmbedAnswer(200, dumps(body)), (item_id,)

    def _body(self, kind: str, item_id: str, host: str) -> dict[str, Any] | None:
        catalog = self.catalog
        title: str
        if kind == "track":
            track = catalog.tracks.get(item_id)
            album = catalog.albums.get(track.album_id) if track else None
            if track is None:
                return None
            title, thumb = track.name, thumbnail(album.images if album else [], 300, host)
        elif kind == "album":
            album = catalog.albums.get(item_id)
            if album is None:
                return None
            title, thumb = album.name, thumbnail(album.images, 300, host)
        else:
            artist = catalog.artists.get(item_id)
            if artist is None:
                return None
            title, thumb = artist.name, thumbnail(artist.images, 320, host)
        embed = f"https://open.spotify.com/embed/{kind}/{item_id}?utm_source=oembed"
        height = 152 if kind == "track" else 352
        body: dict[str, Any] = {
            "html": f'<iframe style="border-radius: 12px" width="100%" height="{height}" title="Spotify Embed: '
            f'{escape(title)}" frameborder="0" allowfullscreen allow="autoplay; clipboard-write; '
            f'encrypted-media; fullscreen; picture-in-picture" loading="lazy" src="{embed}"></iframe>',
            "iframe_url": embed,
            "width": 456,
            "height": height,
            "version": "1.0",
            "provider_name": "Spotify",
            "provider_url": "https://spotify.com",
            "type": "rich",
            "title": title,
        }
        if thumb is not None:  # no art: the thumbnail fields are absent, as for the real service
            body |= {"thumbnail_url": thumb.url, "thumbnail_width": thumb.width, "thumbnail_height": thumb.height}
        return body
