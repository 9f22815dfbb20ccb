"""Web API JSON for catalog objects: the shapes Spotify answers with, rendered fast enough for a million tracks."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from json.encoder import encode_basestring as _q  # JSON string literal, C-accelerated
from typing import Any, Final

from standin.catalog import Album, Artist, Catalog, Image, Track
from standin.pictures import IMAGE_PATH, image_id

PAGE: Final = 50  # tracks embedded in a full album object
_MARKETS: Final = ("DE", "FR", "GB", "SE", "US")  # a token list: the real one has ~185 codes


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _images(images: Sequence[Image], base: str | None = None) -> list[dict[str, Any]]:
    """The images list; with a base, each CDN URL `https://host/image/<id>` becomes `<base>/image/<id>`."""
    return [{"url": _moved(i.url, base), "height": i.height, "width": i.width} for i in images]


def _moved(url: str, base: str | None) -> str:
    id_ = image_id(url) if base else None
    return f"{base}{IMAGE_PATH}{id_}" if id_ else url


def _precision(date: str) -> str:
    return {4: "year", 7: "month"}.get(len(date), "day")


def _isrc(track_id: str) -> str:
    # Stable across runs (unlike hash()), 12 characters like a real ISRC.
    return f"QZEMU{zlib.crc32(track_id.encode()) % 10**7:07d}"


class Renderer:
    """Turns catalog objects into Web API JSON bytes for one base URL and one dev_mode.

    Memory is the constraint at a million tracks (a cached track is ~2 KB), so only the small shared parts
    are cached: simplified artists and albums, which every track embeds, and full artists. Tracks and
    album pages are spliced from those with string templates on each request (a few microseconds).
    Catalog objects are assumed not to change once served; `Emulator.invalidate_cache` forgets the bytes.
    """

    def __init__(self, catalog: Catalog, base: str, dev: bool, *, images_here: bool = False) -> None:
        self.catalog = catalog
        self.api = base + "/v1"
        self.image_base = base if images_here else None
        self.dev = dev
        self.markets = "" if dev else ',"available_markets":' + json.dumps(list(_MARKETS), separators=(",", ":"))
        self.simple_albums: dict[str, bytes] = {}
        self.artists: dict[str, bytes] = {}
        self.simple_artists: dict[str, bytes] = {}

    def _common(self, kind: str, id_: str) -> dict[str, Any]:
        return {
            "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{id_}"},
            "href": f"{self.api}/{kind}s/{id_}",
            "id": id_,
        }

    def simple_artist(self, artist_id: str) -> bytes:
        cached = self.simple_artists.get(artist_id)
        if cached is None:
            artist = self.catalog.artists.get(artist_id)
            obj = self._common("artist", artist_id)
            obj |= {"name": artist.name if artist else "", "type": "artist", "uri": f"spotify:artist:{artist_id}"}
            cached = self.simple_artists[artist_id] = dumps(obj)
        return cached

    def _artist_list(self, artist_ids: Sequence[str]) -> bytes:
        return b"[" + b",".join([self.simple_artist(a) for a in artist_ids]) + b"]"

    def artist(self, artist: Artist) -> bytes:
        cached = self.artists.get(artist.id)
        if cached is None:
            obj = self._common("artist", artist.id)
            if not self.dev:
                obj["followers"] = {"href": None, "total": artist.followers}
            obj |= {"genres": artist.genres, "images": _images(artist.images, self.image_base), "name": artist.name}
            if not self.dev:
                obj["popularity"] = artist.popularity
            obj |= {"type": "artist", "uri": f"spotify:artist:{artist.id}"}
            cached = self.artists[artist.id] = dumps(obj)
        return cached

    def _album_fields(self, album: Album) -> dict[str, Any]:
        obj: dict[str, Any] = {"album_type": album.album_type, "total_tracks": len(album.track_ids)}
        if not self.dev:
            obj["available_markets"] = list(_MARKETS)
        obj |= self._common("album", album.id)
        obj |= {
            "images": _images(album.images, self.image_base),
            "name": album.name,
            "release_date": album.release_date,
            "release_date_precision": _precision(album.release_date),
            "type": "album",
            "uri": f"spotify:album:{album.id}",
        }
        return obj

    def simple_album(self, album_id: str) -> bytes:
        cached = self.simple_albums.get(album_id)
        if cached is None:
            album = self.catalog.albums.get(album_id) or Album(id=album_id, name="", artist_ids=[])
            head = dumps(self._album_fields(album))
            cached = head[:-1] + b',"artists":' + self._artist_list(album.artist_ids) + b"}"
            self.simple_albums[album_id] = cached
        return cached

    def _track_body(self, t: Track, full: bool) -> bytes:
        """The fields after `artists`, in the API's (alphabetical) order, from a template."""
        tid = t.id
        extra = full and not self.dev
        return (
            f"{self.markets},"
            f'"disc_number":{t.disc_number},"duration_ms":{t.duration_ms},'
            f'"explicit":{"true" if t.explicit else "false"},'
            + (f'"external_ids":{{"isrc":"{_isrc(tid)}"}},' if extra else "")
            + f'"external_urls":{{"spotify":{_q("https://open.spotify.com/track/" + tid)}}},'
            f'"href":{_q(f"{self.api}/tracks/{tid}")},"id":{_q(tid)},"is_local":false,"name":{_q(t.name)},'
            + (f'"popularity":{t.popularity},' if extra else "")
            + f'"preview_url":null,"track_number":{t.track_number},"type":"track","uri":{_q("spotify:track:" + tid)}}}'
        ).encode()

    def track(self, t: Track) -> bytes:
        return b"".join(
            (
                b'{"album":',
                self.simple_album(t.album_id),
                b',"artists":',
                self._artist_list(t.artist_ids),
                self._track_body(t, full=True),
            )
        )

    def simple_track(self, t: Track) -> bytes:
        return b'{"artists":' + self._artist_list(t.artist_ids) + self._track_body(t, full=False)

    def album_tracks(self, album: Album, offset: int, limit: int) -> bytes:
        """A paging object of simplified tracks, with absolute next/previous links."""
        total = len(album.track_ids)
        url = f"{self.api}/albums/{album.id}/tracks?offset={{}}&limit={limit}"
        page = {
            "href": url.format(offset),
            "limit": limit,
            "next": url.format(offset + limit) if offset + limit < total else None,
            "offset": offset,
            "previous": url.format(max(0, offset - limit)) if offset > 0 else None,
            "total": total,
        }
        tracks = self.catalog.tracks
        items = [self.simple_track(tracks[i]) for i in album.track_ids[offset : offset + limit] if i in tracks]
        return dumps(page)[:-1] + b',"items":[' + b",".join(items) + b"]}"

    def album(self, album: Album) -> bytes:
        obj = self._album_fields(album)
        year = album.release_date[:4]
        obj |= {
            "copyrights": [
                {"text": f"(C) {year} Emulator Records", "type": "C"},
                {"text": f"(P) {year} Emulator Records", "type": "P"},
            ],
            "genres": [],
        }
        if not self.dev:
            tracks = self.catalog.tracks
            obj["external_ids"] = {"upc": f"{zlib.crc32(album.id.encode()):012d}"}
            obj["label"] = "Emulator Records"
            obj["popularity"] = max((tracks[i].popularity for i in album.track_ids if i in tracks), default=0)
        return (
            dumps(obj)[:-1]
            + b',"artists":'
            + self._artist_list(album.artist_ids)
            + b',"tracks":'
            + self.album_tracks(album, 0, PAGE)
            + b"}"
        )
