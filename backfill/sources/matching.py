"""Deciding which provider candidate a history row means: by evidence from the history, never by rank.

Names are compared normalised (`normalise`): case, diacritics, punctuation, `&`/`and` and whitespace do not
count; a leading "The" does (so "The Blue" is not "Blue"), except that the sort-name form "Beatles, The" agrees
with "The Beatles". Album and track titles also drop a trailing edition note ("(2011 Remaster)", "[Deluxe
Edition]", " - Single"), which changes the words of a title but not the record.

An artist candidate is confirmed only when its name is the history's name and its catalogue (the provider's
album titles and top track titles for it) holds at least one of the user's albums or tracks by that name; among
several, the one with the most such titles wins, and a tie confirms none. An album candidate must have the
row's artist and album title, or, for a single (a row with no album, or an album named like its track), the
row's artist and track title. Everything here is pure: the caller fetches the evidence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

# Letters NFKD leaves whole, spelled the way an English-language catalogue usually writes them.
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ð": "d", "ł": "l", "þ": "th"})
_DROPPED = frozenset("'\u2019\u2018`\u00b4.")  # "Guns N' Roses", "Boney M.": gone without leaving a space
_SORT_NAME = re.compile(r"^(.+?)\s*,\s*the$")  # "beatles, the" -> "the beatles"
_EDITION_WORDS = (
    r"remaster(?:ed)?|deluxe|expanded|anniversary|edition|bonus tracks?|reissue"
    r"|single version|album version|remastered version"
)
_EDITION_NOTE = re.compile(rf"\s*[(\[][^()\[\]]*\b(?:{_EDITION_WORDS})\b[^()\[\]]*[)\]]\s*$", re.IGNORECASE)
_EDITION_TAIL = re.compile(rf"\s+-\s+(?:\d{{4}}\s+)?(?:{_EDITION_WORDS}|single|ep)\b[^-]*$", re.IGNORECASE)


def normalise(name: str) -> str:
    """The form two spellings of one name share: "Céline Dion" and "celine dion", "Boney M." and "Boney M"."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", name).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_LETTERS)
    text = " ".join(text.split())
    text = _SORT_NAME.sub(r"the \1", text)
    out: list[str] = []
    for ch in text:
        if ch == "&":
            out.append(" and ")
        elif ch in _DROPPED:
            continue
        elif unicodedata.category(ch)[0] in "PSZC":
            out.append(" ")
        else:
            out.append(ch)
    folded = " ".join("".join(out).split())
    # A name of punctuation only ("!!!") keeps its characters, or every such name would equal every other.
    return folded or " ".join(text.split())


def normalise_title(title: str) -> str:
    """`normalise` after dropping one trailing edition note: "News of the World (2011 Remaster)" -> ...World."""
    for pattern in (_EDITION_NOTE, _EDITION_TAIL):
        stripped = pattern.sub("", title)
        if stripped.strip():
            title = stripped
    return normalise(title)


def same_name(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)


def same_title(a: str, b: str) -> bool:
    return normalise_title(a) == normalise_title(b)


# -- candidates and verdicts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtistCandidate:
    """An artist as a provider names it; `fans` only for display, never for choosing."""

    id: str
    name: str
    fans: int | None = None


@dataclass(frozen=True)
class Catalogue:
    """What a provider lists for one artist candidate: its album titles and its top track titles."""

    albums: tuple[str, ...] = ()
    tracks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArtistHistory:
    """The user's history under one artist name: the track titles and album names played by that name."""

    name: str
    tracks: tuple[str, ...] = ()
    albums: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlbumCandidate:
    """A provider's album (or release group); `single` None when the provider does not say."""

    id: str
    title: str
    artist_id: str
    artist_name: str
    single: bool | None = None
    tracks: tuple[str, ...] = ()  # its track titles, when the provider listed them


@dataclass(frozen=True)
class PlayedTrack:
    """One history row: its artist, album (may be empty, as for many local files) and track title."""

    artist: str
    album: str
    title: str


C = TypeVar("C", ArtistCandidate, AlbumCandidate)


@dataclass(frozen=True)
class Confirmed(Generic[C]):
    candidate: C
    evidence: tuple[str, ...]  # what the history and the candidate share, e.g. ("album: The Game",)


@dataclass(frozen=True)
class Unconfirmed(Generic[C]):
    """Candidates with the right name that the history does not single out, for a person to pick from."""

    candidates: tuple[C, ...]


@dataclass(frozen=True)
class NotFound:
    """No candidate carries the right name (near misses such as "Nova Sky" for "Nova" do not count)."""


Verdict = Confirmed[C] | Unconfirmed[C] | NotFound


def _unique(items: Iterable[C]) -> list[C]:
    seen: set[str] = set()
    kept: list[C] = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            kept.append(item)
    return kept


def _decide(scored: Sequence[tuple[C, tuple[str, ...]]]) -> Verdict[C]:
    """The best-evidenced candidate when it alone has the most evidence; none confirmed or a tie: unconfirmed."""
    ranked = sorted(scored, key=lambda pair: -len(pair[1]))  # stable: provider order among equals
    best = len(ranked[0][1])
    if best > 0 and (len(ranked) == 1 or len(ranked[1][1]) < best):
        return Confirmed(ranked[0][0], ranked[0][1])
    return Unconfirmed(tuple(candidate for candidate, _ in ranked))


def confirm_artist(
    history: ArtistHistory, candidates: Sequence[tuple[ArtistCandidate, Catalogue]]
) -> Verdict[ArtistCandidate]:
    """Which candidate is the artist the user played under `history.name`, judged by the user's own titles."""
    wanted = normalise(history.name)
    named: dict[str, tuple[ArtistCandidate, Catalogue]] = {}
    for candidate, catalogue in candidates:
        if normalise(candidate.name) == wanted:
            named.setdefault(candidate.id, (candidate, catalogue))
    if not named:
        return NotFound()
    user_albums = {normalise_title(t): t for t in history.albums if t.strip()}
    user_tracks = {normalise_title(t): t for t in history.tracks if t.strip()}
    scored: list[tuple[ArtistCandidate, tuple[str, ...]]] = []
    for candidate, catalogue in named.values():
        albums = {normalise_title(t) for t in catalogue.albums}
        tracks = {normalise_title(t) for t in catalogue.tracks}
        evidence = [f"album: {user_albums[key]}" for key in sorted(user_albums) if key in albums]
        evidence += [f"track: {user_tracks[key]}" for key in sorted(user_tracks) if key in tracks]
        scored.append((candidate, tuple(evidence)))
    return _decide(scored)


def is_single_row(row: PlayedTrack) -> bool:
    """A row the single rule applies to: no album name, or an album named like its track."""
    return not row.album.strip() or same_title(row.album, row.title)


def match_album(
    row: PlayedTrack, candidates: Sequence[AlbumCandidate], confirmed_artist_id: str | None = None
) -> Verdict[AlbumCandidate]:
    """The album whose cover belongs to `row`: same artist and album title, or same artist and title for a single.

    A candidate that also lists the row's track is better evidenced than one that does not. When several remain
    equal and the artist's own verdict confirmed `confirmed_artist_id`, that artist's album is the one.
    """
    artist = normalise(row.artist)
    album = normalise_title(row.album) if row.album.strip() else None
    title = normalise_title(row.title)
    single = is_single_row(row)
    scored: list[tuple[AlbumCandidate, tuple[str, ...]]] = []
    for candidate in _unique(candidates):
        if normalise(candidate.artist_name) != artist:
            continue
        name = normalise_title(candidate.title)
        if album is not None and name == album:
            evidence = [f"artist: {row.artist}", f"album: {row.album}"]
        elif single and candidate.single is not False and name == title:
            evidence = [f"artist: {row.artist}", f"single: {row.title}"]
        else:
            continue
        if any(normalise_title(t) == title for t in candidate.tracks):
            evidence.append(f"track: {row.title}")
        scored.append((candidate, tuple(evidence)))
    if not scored:
        return NotFound()
    verdict = _decide(scored)
    if isinstance(verdict, Unconfirmed) and confirmed_artist_id is not None:
        top = max(len(evidence) for _, evidence in scored)
        by_artist = [pair for pair in scored if pair[0].artist_id == confirmed_artist_id and len(pair[1]) == top]
        if len(by_artist) == 1:
            chosen, shared = by_artist[0]
            return Confirmed(chosen, (*shared, f"artist confirmed: {chosen.artist_id}"))
    return verdict


# -- Deezer's images ---------------------------------------------------------------------------------------

DEEZER_SIZES = (56, 250, 500, 1000)  # picture_small/medium/big/xl and cover_small/medium/big/xl
_DEEZER_FIELDS = {56: "small", 250: "medium", 500: "big", 1000: "xl"}
# /images/<kind>/<md5>/<w>x<h>-<rest>: the path on any of Deezer's CDN hosts (or a stand-in's).
_DEEZER_IMAGE = re.compile(r"^https?://[^/?#]+/images/(artist|cover|misc|user|playlist)/([^/]*)/(\d+)x(\d+)-[^/?#]*$")


def nearest_size(target: int = 300, sizes: Sequence[int] = DEEZER_SIZES) -> int:
    """The size nearest `target` px; between two equally near, the larger (a picture shrinks better)."""
    return min(sizes, key=lambda size: (abs(size - target), -size))


def deezer_md5(url: str) -> str | None:
    """The image id in a Deezer image URL ("" for the placeholder), or None for a URL of another form."""
    match = _DEEZER_IMAGE.match(url)
    return match.group(2) if match else None


def is_deezer_placeholder(url: str) -> bool:
    """Deezer's stand-in picture: an image URL whose id is empty (`/images/artist//250x250-...`)."""
    return deezer_md5(url) == ""


def deezer_image(answer: object, prefix: str, target: int = 300) -> str | None:
    """The `<prefix>_<size>` URL (prefix "picture" or "cover") nearest `target` px in a Deezer artist or album
    object, or None when it has none, a placeholder, or something that is not a Deezer image URL."""
    if not isinstance(answer, dict):
        return None
    url = answer.get(f"{prefix}_{_DEEZER_FIELDS[nearest_size(target)]}")
    if not isinstance(url, str) or not deezer_md5(url):
        return None
    return url


def deezer_image_from_md5(md5: str, kind: str = "cover", size: int = 250, host: str = "e-cdns-images.dzcdn.net") -> str:
    """The URL Deezer serves an image id at, in any square size; callers check `md5` is not empty first."""
    return f"https://{host}/images/{kind}/{md5}/{size}x{size}-000000-80-0-0.jpg"
