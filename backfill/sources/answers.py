"""Reading answers: only a well-formed answer may say "no image" or "not found"; anything else is a failure.

A failure leaves the column NULL and is not remembered, so the next run asks again. A wrong "no image" or
"not found" would be remembered and never asked again; a wrong URL would fill the column for good.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from backfill.sources.images import Malformed, choose_image, is_image_url

Verdict = Literal["updated", "no_image", "not_found", "unconfirmed", "failed"]


@dataclass(frozen=True, slots=True)
class Answer:
    status: Verdict
    url: str | None = None
    why: str = ""  # for failures: what was wrong
    http_status: int = 0  # for failures: the last HTTP status behind it (0: no usable answer came)
    provider_id: str | None = None  # a fallback's answer: the provider's id of the artist or album it matched
    confirmed_by: str = ""  # a fallback's answer: what in the history confirmed the match
    candidates: tuple[str, ...] = ()  # "unconfirmed": the candidates found, none (or more than one) confirmed

    @classmethod
    def failure(cls, exc: Exception) -> Answer:
        """A request that failed after its retries, as an answer the engine may take to the next source."""
        return cls("failed", why=str(exc), http_status=getattr(exc, "status", 0))

    @classmethod
    def of_images(cls, images: object, what: str) -> Answer:
        try:
            url = choose_image(images)
        except Malformed as exc:
            return cls("failed", why=f"{what}: {exc}")
        return cls("updated", url) if url else cls("no_image")


NOT_FOUND = Answer("not_found")


def _id_of(obj: dict[str, Any]) -> str | None:
    """The id an object answers for; a relinked track also answers for the id it was linked from."""
    linked = obj.get("linked_from")
    if isinstance(linked, dict) and isinstance(linked.get("id"), str):
        return str(linked["id"])
    value = obj.get("id")
    return value if isinstance(value, str) else None


def _answers_for(obj: object, asked: str) -> str | None:
    """Why `obj` is not an answer about `asked`, or None when it is."""
    if not isinstance(obj, dict):
        return f"a {type(obj).__name__} instead of an object"
    if asked not in (obj.get("id"), _id_of(obj)):
        return "an answer about another id" if _id_of(obj) else "an answer without an id"
    return None


def track_answer(body: object, track_id: str) -> Answer:
    """A full track object from /tracks/{id} (None: 404) → its album's image."""
    return _single(body, track_id, "track", _album_images)


def artist_answer(body: object, artist_id: str) -> Answer:
    """An artist object from /artists/{id} (None: 404) → its photo."""
    return _single(body, artist_id, "artist", _artist_images)


def _single(body: object, asked: str, what: str, read: Callable[[dict[str, Any], str], Answer]) -> Answer:
    if body is None:
        return NOT_FOUND
    if (wrong := _answers_for(body, asked)) is not None:
        return Answer("failed", why=f"{what} {asked}: {wrong}")
    assert isinstance(body, dict)
    return read(body, asked)


def _album_images(track: dict[str, Any], track_id: str) -> Answer:
    album = track.get("album")
    if not isinstance(album, dict):
        return Answer("failed", why=f"track {track_id}: album is {type(album).__name__}, not an object")
    return Answer.of_images(album.get("images"), f"track {track_id}")


def _artist_images(artist: dict[str, Any], artist_id: str) -> Answer:
    return Answer.of_images(artist.get("images"), f"artist {artist_id}")


def batch_entries(body: object, kind: Literal["tracks", "artists"], ids: Sequence[str]) -> dict[str, Answer]:
    """A batch answer, matched to the ids asked by each entry's own id, never by position.

    A null entry means "no such id"; nulls are trusted only when every other entry is a proper answer to
    an asked id and the counts add up. Ids with no proper answer fail (and are asked again next run).
    """
    entries = body.get(kind) if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return {i: Answer("failed", why=f"/{kind}: no list of {kind} in the answer") for i in ids}
    read = _album_images if kind == "tracks" else _artist_images  # each entry's id is checked here, below
    asked = set(ids)
    found: dict[str, Answer] = {}
    nulls = junk = 0
    for entry in entries:
        if entry is None:
            nulls += 1
            continue
        entry_id = _id_of(entry) if isinstance(entry, dict) else None
        if entry_id in asked and entry_id not in found:
            found[entry_id] = read(entry, entry_id)
        else:
            junk += 1
    missing = [i for i in ids if i not in found]
    trusted = junk == 0 and len(entries) == len(ids) and nulls == len(missing)
    unmatched = NOT_FOUND if trusted else Answer("failed", why=f"/{kind}: no answer for this id in the batch")
    return {i: found.get(i, unmatched) for i in ids}


def album_listing(album: object) -> tuple[set[str], Answer, int | None] | None:
    """An album object's first page of track ids, its image answer, and where the next page starts (None: no
    more pages); None if it is not a usable album."""
    if not isinstance(album, dict):
        return None
    page = album.get("tracks")
    answer = Answer.of_images(album.get("images"), "album")
    if not isinstance(page, dict) or answer.status == "failed":
        return None
    ids, next_offset = page_ids(page)
    return ids, answer, next_offset


def page_ids(page: object) -> tuple[set[str], int | None]:
    """The track ids of one page of an album's tracks, and the offset of the next page (None: last page)."""
    items = page.get("items") if isinstance(page, dict) else None
    if not isinstance(page, dict) or not isinstance(items, list):
        return set(), None
    ids = {t["id"] for t in items if isinstance(t, dict) and isinstance(t.get("id"), str)}
    offset = page.get("offset")
    start = offset if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0 else 0
    return ids, (start + len(items) if page.get("next") and items else None)


def oembed_answer(body: object, what: str) -> Answer:
    """An oEmbed answer: `thumbnail_url` is the image; an answer without the key means no image.

    A present but null (or otherwise non-string) thumbnail is a broken answer, not a missing image: it would be
    remembered and never asked again.
    """
    if body is None:
        return NOT_FOUND
    if not isinstance(body, dict) or not any(k in body for k in ("type", "html", "version", "iframe_url")):
        return Answer("failed", why=f"oEmbed {what}: not an oEmbed answer")
    if "thumbnail_url" not in body:
        return Answer("no_image")
    thumbnail = body["thumbnail_url"]
    if not isinstance(thumbnail, str):
        return Answer("failed", why=f"oEmbed {what}: thumbnail_url is {type(thumbnail).__name__}, not a string")
    if not is_image_url(thumbnail):
        return Answer("failed", why=f"oEmbed {what}: thumbnail_url is not an http(s) URL")
    return Answer("updated", str(thumbnail))
