"""Reading Deezer's answers: list pages, albums and artists as matching candidates, and the picture to store.

Deezer's objects carry their pictures at 56, 250, 500 and 1000 px (`cover_small` ... `cover_xl`, `picture_*`)
and an album its image id (`md5_image`); the stored one is the size nearest 300 px. A picture whose image id is
empty is Deezer's placeholder (a grey note, a silhouette): that is "no image", never a URL to store.
"""

from __future__ import annotations

import re
from typing import Any

from backfill.sources.answers import Answer
from backfill.sources.matching import (
    AlbumCandidate,
    ArtistCandidate,
    deezer_image,
    deezer_image_from_md5,
    is_deezer_placeholder,
    nearest_size,
)

Json = dict[str, Any]
_MD5 = re.compile(r"[0-9a-f]{32}")


def advanced(**fields: str) -> str:
    """Deezer's advanced query, `artist:"A" album:"B"`; a double quote inside a value would end it early."""
    return " ".join(f'{name}:"{" ".join(value.replace(chr(34), " ").split())}"' for name, value in fields.items())


def page_items(body: Json | None) -> list[Json] | None:
    """The objects of a list answer (`{"data": [...]}`); [] for "no data"; None when it is no list answer."""
    if body is None:
        return []
    data = body.get("data")
    if not isinstance(data, list):
        return None
    return [item for item in data if isinstance(item, dict)]


def _id(obj: object) -> str | None:
    value = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    return value if isinstance(value, str) and value.isdigit() else None


def _text(obj: Json, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value.strip() else None


def album_candidate(album: Json) -> AlbumCandidate | None:
    """A listed album (from /search/album) with its artist; None when it lacks what matching needs."""
    owner = album.get("artist")
    album_id, title = _id(album), _text(album, "title")
    artist_id = _id(owner)
    artist_name = _text(owner, "name") if isinstance(owner, dict) else None
    if album_id is None or title is None or artist_id is None or artist_name is None:
        return None
    kind = album.get("record_type")
    single = kind == "single" if isinstance(kind, str) else None
    return AlbumCandidate(album_id, title, artist_id, artist_name, single)


def artist_candidate(artist: Json) -> ArtistCandidate | None:
    artist_id, name = _id(artist), _text(artist, "name")
    if artist_id is None or name is None:
        return None
    fans = artist.get("nb_fan")
    return ArtistCandidate(artist_id, name, fans if isinstance(fans, int) and not isinstance(fans, bool) else None)


def titles(items: list[Json]) -> tuple[str, ...]:
    return tuple(title for item in items if (title := _text(item, "title")) is not None)


def album_of(track: Json) -> str | None:
    """The id of the album a listed track is on."""
    return _id(track.get("album"))


def picture(obj: Json, prefix: str, what: str) -> Answer:
    """The picture to store of an album (`prefix` "cover") or artist ("picture"): the size nearest 300 px;
    "no_image" for Deezer's placeholder; a failure when the object has no picture of Deezer's form."""
    md5 = obj.get("md5_image")
    if isinstance(md5, str) and not md5.strip():
        return Answer("no_image")  # an album without a cover: its URLs are the placeholder's
    if (url := deezer_image(obj, prefix)) is not None:
        return Answer("updated", url)
    fields = [obj.get(f"{prefix}_{name}") for name in ("small", "medium", "big", "xl")]
    if any(isinstance(field, str) and is_deezer_placeholder(field) for field in fields):
        return Answer("no_image")
    if isinstance(md5, str) and _MD5.fullmatch(md5):
        return Answer("updated", deezer_image_from_md5(md5, "cover", nearest_size()))
    return Answer("failed", why=f"Deezer {what}: no picture URL of Deezer's form")
