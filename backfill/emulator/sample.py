"""A deterministic sample world: a fake Spotify catalog and a listening history that refers to it.

The catalog (what the emulator serves) depends only on (seed, tracks, artists); the history written to DuckDB
follows the whole SampleSpec. The history holds the awkward cases a backfill meets in real files: ids Spotify
no longer knows, local files and episodes, malformed URIs, albums released twice under one name, albums longer
than one 50-track page, artist names without an id (recoverable from `tracks` or not), names sharing an id,
and rows whose image was filled before (and must never change). `World` records the right answer for all of it.

    python -m backfill.emulator.sample data/sample.duckdb --tracks 125000 --artists 3000
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import gc
import itertools
import os
import random
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from backfill.emulator.catalog import Album, Artist, Catalog, Image, Track

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TRACK_PREFIX = "spotify:track:"
IMAGE_HOST = "https://i.scdn.co/image/"
OTHER_IMAGE_HOST = "https://image-cdn-ak.spotifycdn.com/image/"
PREFERRED_WIDTH = 300
LONG_ALBUM_PAGE = 50  # tracks on the first page of GET /albums/{id}; long albums reach past it

# Maps every byte to a base-62 character, so one randbytes() call yields many ids (slightly biased: irrelevant).
_BYTE_TO_BASE62 = bytes(ord(BASE62[b % 62]) for b in range(256))
_CHUNK_ROWS = 100_000
_SEP, _NULL = "\x1f", "\x1e"  # packing columns into one string: far cheaper to hand to DuckDB than a list
_ENRICHED_FROM = 1_735_689_600  # 2025-01-01 UTC: the predecessor's enrichment ran during 2025
_ENRICHED_SPAN = 300 * 86_400


@dataclass(frozen=True)
class SampleSpec:
    seed: int = 7
    tracks: int = 3000  # rows in `tracks` (valid ids + odd URIs)
    artists: int = 600  # artists in the catalog (≈ rows in `artists`)
    plays: int | None = None  # rows in `plays`; None → 2 * tracks; 0 → no plays table at all
    prefilled: float = 0.1  # share of track rows and artist rows whose image column is already set
    unknown: float = 0.02  # share of valid-looking track ids (and artist ids) the catalog does not know
    odd: float = 0.03  # share of track rows whose URI is not a track id
    old_schema: bool = False  # `tracks` without primary_artist_id (files made before that column existed)
    recoverable: float = 0.05  # share of artist names stored with a NULL id that `tracks` can recover

    def __post_init__(self) -> None:
        if self.tracks < 1 or self.artists < 1:
            raise ValueError("a sample needs at least one track and one artist")
        if self.plays is not None and self.plays < 0:
            raise ValueError("plays cannot be negative")
        for name in ("prefilled", "unknown", "odd", "recoverable"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1")

    @property
    def play_count(self) -> int:
        return 2 * self.tracks if self.plays is None else self.plays


Columns = dict[str, list[Any]]


@dataclass
class World:
    spec: SampleSpec
    catalog: Catalog
    # For every valid track id in the history that the catalog knows: the URL a correct backfill stores.
    expected_track_url: dict[str, str | None]
    # The same for every artist id in the history (artists.spotify_artist_id, tracks.primary_artist_id).
    expected_artist_url: dict[str, str | None]
    prefilled_tracks: dict[str, str]  # spotify_track_uri -> URL already stored (must never change)
    prefilled_artists: dict[str, str]  # artist_name -> URL already stored
    tracks_table: Columns = field(repr=False)  # column name -> values, in table order
    artists_table: Columns = field(repr=False)
    unknown_track_ids: set[str] = field(default_factory=set)  # valid ids in `tracks` the catalog lacks
    unknown_artist_ids: set[str] = field(default_factory=set)  # valid ids in `artists` the catalog lacks
    odd_uris: list[str] = field(default_factory=list)  # tracks.spotify_track_uri values that are no track id
    null_uri_plays: int = 0  # plays rows with a NULL spotify_track_uri (a primary key cannot hold NULL)
    recoverable_artists: dict[str, str] = field(default_factory=dict)  # NULL-id name -> the id `tracks` gives
    ambiguous_artists: set[str] = field(default_factory=set)  # NULL-id names with two ids in `tracks`
    unrecoverable_artists: set[str] = field(default_factory=set)  # every NULL-id name not recoverable
    shared_artist_ids: dict[str, list[str]] = field(default_factory=dict)  # id -> the names stored with it
    malformed_artist_ids: dict[str, str] = field(default_factory=dict)  # name -> the bad id stored
    # (album_name, primary_artist_name) -> Spotify album ids of the known history tracks in that group.
    groups: dict[tuple[str, str], list[str]] = field(default_factory=dict, repr=False)
    editions: list[tuple[str, str]] = field(default_factory=list)  # groups that mix two or more albums
    long_albums: list[str] = field(default_factory=list)  # albums with a history track past the first page


# -- choosing an image (kept independent of backfill.images on purpose: the tests compare the two) ---------


def preferred_image(images: Sequence[Image]) -> str | None:
    """The URL nearest 300 px wide (ties to the larger); sized entries first; else the first; none → None."""
    if not images:
        return None
    sized = [(im.width, im.url) for im in images if im.width is not None]
    if not sized:
        return images[0].url
    return min(sized, key=lambda pair: (abs(pair[0] - PREFERRED_WIDTH), -pair[0]))[1]


# -- randomness --------------------------------------------------------------------------------------------


class _Draw:
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
def _no_gc() -> Iterator[None]:
    """Millions of new objects (none cyclic) make the collector rescan everything, over and over: a third
    of the build time at a million tracks. Pause it while building."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _count(total: int, share: float, minimum: int = 0, *, when: int = 0) -> int:
    """round(total * share), but at least `minimum` once total reaches `when` (small worlds keep each case)."""
    n = round(total * share)
    if share > 0 and total >= when:
        n = max(n, minimum)
    return min(n, total)


# -- names -------------------------------------------------------------------------------------------------


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


_ADJ = _words(
    "Amber Ashen Blue Broken Burning Cold Crimson Distant Electric Empty Endless Faded Falling Fading Gentle "
    "Glass Golden Heavy Hidden Hollow Honest Last Late Lonely Lost Loud Lucky Midnight Neon Northern Paper "
    "Pale Quiet Restless Runaway Sacred Secret Silent Silver Slow Small Southern Static Strange Sweet Tender "
    "Velvet Wild Wooden Young"
)
_NOUN = _words(
    "Anchor Atlas Avenue Bells Birds Bridge Canyon Cathedral Circles Coast Comet Corner Diamonds Dream Echo "
    "Embers Engine Feathers Fever Fire Flowers Garden Ghost Harbor Heart Highway Horizon Island Lanterns Letters "
    "Light Machine Mirror Moon Motel Mountain Ocean Orchard Parade Radio River Rooms Satellite Shadows Signal "
    "Sky Smoke Stars Station Storm Summer Sun Thunder Tides Tower Valley Waves Window Winter Wolves"
)
_VERB = _words("Chasing Dancing Falling Holding Leaving Running Waiting Burning Calling Drifting Finding Losing")
_FIRST = _words(
    "Ada Aiden Alma Bruno Cara Clara Dario Dev Elena Elliot Felix Freya Greta Hana Hugo Ines Iris Jonas Juno "
    "Kai Kira Lena Leo Luca Mara Milo Nadia Nico Nora Olga Omar Paolo Pia Quinn Rafa Rosa Ruby Sami Sara Tara "
    "Theo Uma Vera Wes Yara Yuri Zara"
)
_LAST = _words(
    "Abbott Adler Banks Bellamy Brandt Castro Cole Dawes Ellis Farrow Fischer Grant Haddad Hale Ivers Kane "
    "Keller Kowalski Lang Lindqvist Marsh Mercer Moreau Novak Okafor Orr Pike Quill Reyes Rowe Sato Shaw Stone "
    "Sterling Vance Wade Weller Young"
)
# Letters that NFKD decomposes, so an ASCII spelling of the name exists ("Beyoncé" / "Beyonce").
_ACCENTED_FIRST = _words("Zoë Renée José Chloé Inês Mónica Björn André Noémie Léa Raúl Ángel Iñaki Çelik")
_ACCENTED_LAST = _words("Dvořák Núñez Håkansson Müller Gonçalves Pérez Åberg Jiménez Brontë Dupré Rós")
_GENRES = _words(
    "indie rock;dream pop;shoegaze;synthpop;hip hop;trap;jazz;neo soul;r&b;folk;indie folk;techno;house;"
    "ambient;post-punk;metal;pop;k-pop;latin pop;reggaeton;classical;soundtrack;country;blues",
    ";",
)
_SUFFIXES = ("Remastered 2011", "Remastered 2016", "2019 Remaster", "Live", "Mono Version", "Single Version")
_BONUS = ("Demo", "Acoustic", "Live", "Alternate Take", "Instrumental", "Early Version")
_COMMON_ALBUMS = ("Greatest Hits", "Live", "Christmas", "Unplugged", "The Collection", "Demos")


def _fold(name: str) -> str:
    """The ASCII spelling of a name, as an older export or a typed-in row would hold it."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if c.isascii())


def _artist_names(rng: random.Random, n: int, accented: int) -> list[str]:
    """n distinct names; the first `accented` carry letters with an ASCII spelling."""
    names: list[str] = []
    seen: set[str] = set()
    patterns = (
        lambda: f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        lambda: f"The {rng.choice(_ADJ)} {rng.choice(_NOUN)}",
        lambda: f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}",
        lambda: f"{rng.choice(_NOUN)} {rng.choice(_NOUN)}",
        lambda: f"{rng.choice(_FIRST)} & the {rng.choice(_NOUN)}",
        lambda: f"DJ {rng.choice(_NOUN)}",
    )
    for i in range(n):
        for attempt in itertools.count():
            if i < accented:
                name = f"{rng.choice(_ACCENTED_FIRST)} {rng.choice(_ACCENTED_LAST)}"
            else:
                name = rng.choice(patterns)()
            if attempt > 20:  # the vocabulary ran out: number the name, as bands do
                name = f"{name} {attempt}"
            if name not in seen and name != "Various Artists" and (i >= accented or _fold(name) != name):
                break
        seen.add(name)
        names.append(name)
    return names


def _track_names(rng: random.Random) -> list[str]:
    names = [f"{a} {b}" for a in _ADJ for b in _NOUN]
    names += [f"{v} {b}" for v in _VERB for b in _NOUN]
    names += [*_NOUN, "Intro", "Outro", "Interlude", "Reprise", "Untitled"]
    rng.shuffle(names)
    return names


# -- the catalog -------------------------------------------------------------------------------------------


def _album_images(draw: _Draw, standard: bool = False) -> list[Image]:
    r = 0.0 if standard else draw.rng.random()
    if r < 0.80:
        return draw.images((640, 300, 64))
    if r < 0.84:
        return draw.images((600, 280, 60))  # odd sizes: 280 is nearest
    if r < 0.86:
        return draw.images((1000,))  # one large image only
    if r < 0.88:
        return draw.images((640, 400, 200))  # a tie at distance 100: the larger wins
    if r < 0.91:
        return draw.images((None, None, None))  # no sizes: the first entry
    if r < 0.92:
        return draw.images((None, 640, 64))  # sized entries win over unsized ones: 64 here
    if r < 0.93:
        return draw.images((64, 300, 640))  # not widest first
    return []  # no art at all


def _artist_images(draw: _Draw) -> list[Image]:
    r = draw.rng.random()
    if r < 0.76:
        return draw.images((640, 320, 160))
    if r < 0.79:
        return draw.images((750, 500, 250))
    if r < 0.81:
        return draw.images((1000,))
    if r < 0.84:
        return draw.images((None, None, None))
    if r < 0.86:
        return draw.images((640, 300, 64))
    if r < 0.87:
        return draw.images((400, 200))
    return []  # small artists often have no photo


def _release_date(rng: random.Random, year: int) -> str:
    r = rng.random()
    if r < 0.06:
        return f"{year}"  # release_date_precision "year"
    if r < 0.08:
        return f"{year}-{rng.randint(1, 12):02d}"
    return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


@dataclass
class _Plan:
    """What the catalog builder decided beyond the catalog itself (history order of the played tracks)."""

    picks: list[str]  # track ids the history holds, in order; the history takes a prefix of it
    homonyms: list[tuple[str, str]]  # pairs of artist ids sharing one name


def build_catalog(spec: SampleSpec) -> Catalog:
    """The emulator's catalog alone (depends only on seed, tracks and artists)."""
    with _no_gc():
        return _CatalogBuilder(spec.seed, spec.tracks, spec.artists).build()[0]


def _forced_kinds(n_tracks: int) -> list[str]:
    """The first albums: the cases every world should hold, once it is big enough to hold them."""
    kinds: list[str] = []
    if n_tracks >= 60:
        kinds += ["edition", "album", "edition"]
    if n_tracks >= 200:
        kinds += ["long", "album", "long", "compilation"]
    return kinds


def _album_kind(rng: random.Random, n_tracks: int) -> str:
    r = rng.random()
    if r < 0.27:
        return "single"
    if r < 0.39:
        return "ep"
    if r < 0.42 and n_tracks >= 60:
        return "edition"
    if r < 0.43 and n_tracks >= 200:
        return "compilation"
    if r < 0.434 and n_tracks >= 300:
        return "long"
    return "album"


def _pick(rng: random.Random, n: int) -> list[int]:
    """Which positions of an n-track album the listener played: usually several, not all."""
    if n == 1:
        return [0]
    r = rng.random()
    k = n if r < 0.08 else 1 if r < 0.16 else rng.randint(max(1, n // 2), n)
    return sorted(rng.sample(range(n), k))


class _CatalogBuilder:
    """Artists, then albums until the history's share of their tracks reaches n_tracks."""

    def __init__(self, seed: int, n_tracks: int, n_artists: int) -> None:
        self.rng = random.Random(f"backfill.emulator.sample:{seed}:catalog")
        self.draw = _Draw(self.rng)
        self.n_tracks = n_tracks
        self.n_artists = n_artists
        self.catalog = Catalog()
        self.picks: list[str] = []
        self.track_names = _track_names(self.rng)
        # A pool of durations: drawing from it is cheaper than gauss() per track, and ints are shared.
        self.durations = [max(45_000, int(self.rng.gauss(215_000, 55_000))) for _ in range(4096)]

    def build(self) -> tuple[Catalog, _Plan]:
        rng, catalog = self.rng, self.catalog
        homonyms, various = self._add_artists()
        self.performers = [a for a in catalog.artists if a != various]
        # Album artists: every artist once (homonyms first so both get played), then a skewed choice.
        first = [a for pair in homonyms for a in pair]
        order = [a for a in self.performers if a not in set(first)]
        rng.shuffle(order)
        order = first + order
        skewed = self.performers[:]
        rng.shuffle(skewed)
        cum_weights = list(itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(len(skewed))))
        special = _forced_kinds(self.n_tracks)
        for number in itertools.count():
            if len(self.picks) >= self.n_tracks:
                break
            if number < len(order):
                artist = order[number]
            else:
                artist = skewed[bisect.bisect_left(cum_weights, rng.random() * cum_weights[-1])]
            kind = special[number] if number < len(special) else _album_kind(rng, self.n_tracks)
            if kind == "compilation" and various is None:
                kind = "album"
            self._add_album(artist, kind, various)
        return catalog, _Plan(self.picks[: self.n_tracks], homonyms)

    def _add_artists(self) -> tuple[list[tuple[str, str]], str | None]:
        """A few accented names (for ASCII aliases in the history), a few names shared by two artists
        (so a NULL-id row for that name cannot be recovered), and "Various Artists" for compilations."""
        rng, draw, n = self.rng, self.draw, self.n_artists
        n_homonyms = _count(n, 1 / 200, 1, when=20)
        names = _artist_names(rng, n, accented=_count(n, 0.03, 3, when=20))
        various = n >= 50
        if various:
            names[-1] = "Various Artists"
        # Homonyms take plain (not accented) slots, so aliases and homonyms never mix.
        slots = list(range(n - 2 - 2 * n_homonyms, n - 2, 2)) if n_homonyms else []
        for slot in slots:
            names[slot + 1] = names[slot]
        ids = []
        for name in names:
            popularity = min(100, max(0, int(rng.gauss(40, 20))))
            genres = rng.sample(_GENRES, rng.choice((0, 1, 1, 2, 2, 3)))
            followers = int(10 ** rng.uniform(1, 7.5))
            artist = Artist(draw.id(), name, _artist_images(draw), genres, followers, popularity)
            ids.append(self.catalog.add_artist(artist).id)
        return [(ids[s], ids[s + 1]) for s in slots], ids[-1] if various else None

    def _add_album(self, artist: str, kind: str, various: str | None) -> None:
        rng, draw, catalog = self.rng, self.draw, self.catalog
        names, performers = self.track_names, self.performers
        year = min(2025, int(2026 - 10 ** rng.uniform(0, 1.8)))
        if kind == "single":
            n = 1
        elif kind == "ep":
            n = rng.randint(3, 6)
        elif kind == "long":
            n = rng.randint(60, 130)
        elif kind == "compilation":
            n = rng.randint(15, 25)
        else:
            n = rng.randint(8, 16) if rng.random() < 0.9 else rng.randint(17, 24)
        track_names = [names[int(rng.random() * len(names))] for _ in range(n)]

        # Album name: a single's is its track's; some common ones ("Greatest Hits"); some self-titled.
        if kind == "single":
            album_name = track_names[0]
        elif kind == "compilation":
            album_name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}: The Collection Vol. {rng.randint(1, 40)}"
        elif rng.random() < 0.05:
            album_name = rng.choice(_COMMON_ALBUMS)
        elif rng.random() < 0.04:
            album_name = catalog.artists[artist].name
        else:
            album_name = names[int(rng.random() * len(names))]
        if kind == "compilation":
            assert various is not None
            album_artists = [various]
        elif rng.random() < 0.05:
            album_artists = [artist, performers[int(rng.random() * len(performers))]]
        else:
            album_artists = [artist]
        album_type = {"single": "single", "ep": "single", "compilation": "compilation"}.get(kind, "album")
        date = _release_date(rng, year)
        # Editions need art on both sides, so a mixed-up group shows in the URLs.
        album = Album(
            draw.id(), album_name, album_artists, _album_images(draw, kind == "edition"), [], date, album_type
        )
        tracks = self._tracks(album, track_names, kind)
        catalog.add_album(album, tracks)
        chosen = _pick(rng, n)
        if kind == "long":
            # Some played tracks sit past the first page (past the second too on the longest albums).
            chosen = sorted({*rng.sample(range(n), rng.randint(3, 10)), rng.randrange(LONG_ALBUM_PAGE, n)})
        self.picks.extend(tracks[i].id for i in chosen)

        if kind == "edition":
            # The same album again (remaster/deluxe): same name and artist, new ids, same-looking track names.
            again = [t.name if rng.random() < 0.6 else f"{t.name} - {rng.choice(_SUFFIXES)}" for t in tracks]
            again += [f"{rng.choice(tracks).name} ({rng.choice(_BONUS)})" for _ in range(rng.randint(2, 6))]
            date = _release_date(rng, min(2025, year + rng.randint(5, 30)))
            edition = Album(draw.id(), album_name, album_artists, _album_images(draw, True), [], date, "album")
            edition_tracks = self._tracks(edition, again, kind)
            catalog.add_album(edition, edition_tracks)
            self.picks.extend(edition_tracks[i].id for i in _pick(rng, len(again)))

    def _tracks(self, album: Album, names: list[str], kind: str) -> list[Track]:
        rng, draw, catalog = self.rng, self.draw, self.catalog
        rand, performers, durations = rng.random, self.performers, self.durations
        popularity = min(95, max(0, int(rng.gauss(35, 18))))
        plain = list(album.artist_ids)  # one list for all the album's plain tracks (memory at 1M tracks)
        out: list[Track] = []
        for name in names:
            artists = plain
            if kind == "compilation":
                artists = [performers[int(rand() * len(performers))]]
            elif kind != "single" and rand() < 0.1:
                feat = performers[int(rand() * len(performers))]
                if feat not in plain:
                    artists = [*plain, feat]
                    name = f"{name} (feat. {catalog.artists[feat].name})"
            track_pop = min(100, max(0, popularity + int(rand() * 17) - 8))
            duration = durations[int(rand() * 4096)]
            out.append(Track(draw.id(), name, album.id, artists, duration, rand() < 0.15, track_pop))
        return out


# -- the history -------------------------------------------------------------------------------------------

_TRACK_COLUMNS = (
    "spotify_track_uri",
    "track_name",
    "primary_artist_name",
    "album_name",
    "album_image_url",
    "release_date",
    "release_year",
    "release_decade",
    "popularity",
    "duration_ms",
    "explicit",
    "enriched_at",
    "primary_artist_id",
)
_ARTIST_COLUMNS = (
    "artist_name",
    "genres",
    "popularity",
    "followers",
    "spotify_artist_id",
    "image_url",
    "enriched_at",
)
_SHOWS = ("The Daily Hum", "Night Owls Radio", "Deep Cuts Podcast", "Tape Deck Stories")
_LOCAL_ARTISTS = ("Unknown Artist", "Garage Tapes", "DJ Bootleg", "Uncle Ray")


def build_world(spec: SampleSpec) -> World:
    """The catalog plus a history of spec.tracks track rows and about spec.artists artist rows."""
    with _no_gc():
        return _build_world(spec)


def _build_world(spec: SampleSpec) -> World:
    catalog, plan = _CatalogBuilder(spec.seed, spec.tracks, spec.artists).build()
    rng = random.Random(f"backfill.emulator.sample:{spec.seed}:history")
    draw = _Draw(rng)

    n_odd = _count(spec.tracks, spec.odd, 6, when=100)
    n_unknown = _count(spec.tracks - n_odd, spec.unknown, 3, when=100)
    n_known = max(0, spec.tracks - n_odd - n_unknown)
    known = plan.picks[:n_known]
    n_unknown = spec.tracks - n_odd - len(known)  # tiny worlds: whatever the picks do not cover

    tracks: Columns = {c: [] for c in _TRACK_COLUMNS}
    _known_rows(catalog, known, rng, tracks)
    unknown_artists = _unknown_artists(catalog, draw, _count(spec.artists, spec.unknown, 1, when=20))
    unknown_ids = _unknown_rows(catalog, draw, n_unknown, len(known), unknown_artists, tracks)
    odd_uris = _odd_rows(catalog, draw, n_odd, known, tracks)

    world = World(
        spec=spec,
        catalog=catalog,
        expected_track_url={},
        expected_artist_url={},
        prefilled_tracks={},
        prefilled_artists={},
        tracks_table=tracks,
        artists_table={},
        unknown_track_ids=unknown_ids,
        unknown_artist_ids={a for a, _ in unknown_artists},
        odd_uris=odd_uris,
    )
    _expected_tracks(world, known)
    _prefill_tracks(world, rng, draw)
    _artist_rows(world, plan, draw, unknown_artists)
    _structure(world, known)
    if spec.play_count:
        world.null_uri_plays = _count(spec.play_count, 0.002, 1, when=50)
    if spec.old_schema:
        del tracks["primary_artist_id"]
    return world


def _known_rows(catalog: Catalog, known: list[str], rng: random.Random, out: Columns) -> None:
    """Rows for catalog tracks, column by column (comprehensions: a million rows in a couple of seconds)."""
    rows = [catalog.tracks[t] for t in known]
    albums = catalog.albums
    artists = catalog.artists
    release: dict[str, tuple[str, int, str]] = {}
    for t in rows:
        if t.album_id not in release:
            release[t.album_id] = _release_columns(albums[t.album_id].release_date)
    rel = [release[t.album_id] for t in rows]
    out["spotify_track_uri"] += [TRACK_PREFIX + t.id for t in rows]
    out["track_name"] += [t.name for t in rows]
    out["primary_artist_name"] += [artists[t.artist_ids[0]].name for t in rows]
    out["album_name"] += [albums[t.album_id].name for t in rows]
    out["album_image_url"] += [None] * len(rows)
    out["release_date"] += [r[0] for r in rel]
    out["release_year"] += [r[1] for r in rel]
    out["release_decade"] += [r[2] for r in rel]
    out["popularity"] += [t.popularity for t in rows]
    out["duration_ms"] += [t.duration_ms for t in rows]
    out["explicit"] += [t.explicit for t in rows]
    rand = rng.random
    pool = [_ENRICHED_FROM + int(rand() * _ENRICHED_SPAN) for _ in range(8192)]  # shared ints: less memory
    out["enriched_at"] += [pool[int(rand() * 8192)] for _ in rows]
    out["primary_artist_id"] += [t.artist_ids[0] for t in rows]


def _release_columns(date: str) -> tuple[str, int, str]:
    year = int(date[:4])
    return date, year, f"{year // 10 * 10}s"


def _fresh_name(rng: random.Random, taken: set[str]) -> str:
    for attempt in itertools.count():
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        if attempt > 20:
            name = f"{name} {attempt}"
        if name not in taken:
            taken.add(name)
            return name
    raise AssertionError("unreachable")


def _unknown_artists(catalog: Catalog, draw: _Draw, n: int) -> list[tuple[str, str]]:
    """(id, name) of artists gone from Spotify: well-formed ids the catalog does not know."""
    taken = {a.name for a in catalog.artists.values()}
    out: list[tuple[str, str]] = []
    while len(out) < n:
        artist_id = draw.id()
        if artist_id not in catalog.artists:
            out.append((artist_id, _fresh_name(draw.rng, taken)))
    return out


def _unknown_rows(
    catalog: Catalog,
    draw: _Draw,
    n: int,
    n_known: int,
    unknown_artists: list[tuple[str, str]],
    out: Columns,
) -> set[str]:
    """Tracks enriched once but gone from Spotify since: some inside a known album group, some on their own."""
    rng = draw.rng
    ids: set[str] = set()
    performers = [a for a in catalog.artists.values() if a.name != "Various Artists"]
    names = _track_names(random.Random(rng.getrandbits(64)))
    while len(ids) < n:
        track_id = draw.id()
        if track_id in catalog.tracks or track_id in ids:
            continue
        ids.add(track_id)
        r = rng.random()
        if n_known and r < 0.35:
            # A removed track of an album that is still there: same group, different answer (none).
            j = int(rng.random() * n_known)
            artist_name, artist_id = out["primary_artist_name"][j], out["primary_artist_id"][j]
            album_name, date = out["album_name"][j], out["release_date"][j]
        else:
            if unknown_artists and r < 0.75:
                artist_id, artist_name = unknown_artists[int(rng.random() * len(unknown_artists))]
            else:
                artist = performers[int(rng.random() * len(performers))]
                artist_id, artist_name = artist.id, artist.name
            album_name = names[int(rng.random() * len(names))]
            date = _release_date(rng, rng.randint(1990, 2024))
        release_date, year, decade = _release_columns(date)
        row = {
            "spotify_track_uri": TRACK_PREFIX + track_id,
            "track_name": names[int(rng.random() * len(names))],
            "primary_artist_name": artist_name,
            "album_name": album_name,
            "album_image_url": None,
            "release_date": release_date,
            "release_year": year,
            "release_decade": decade,
            "popularity": 0,
            "duration_ms": max(45_000, int(rng.gauss(215_000, 55_000))),
            "explicit": rng.random() < 0.15,
            "enriched_at": _ENRICHED_FROM + int(rng.random() * _ENRICHED_SPAN),
            "primary_artist_id": artist_id,
        }
        for column, value in row.items():
            out[column].append(value)
    return ids


_ODD_KINDS = ("local", "episode", "empty", "short", "long", "bad_char")


def _odd_rows(catalog: Catalog, draw: _Draw, n: int, known: list[str], out: Columns) -> list[str]:
    """Rows whose URI is no track id: local files, episodes, '', and malformed ids (some one slip from real)."""
    rng = draw.rng
    bases = known or list(catalog.tracks)
    uris: list[str] = []
    seen: set[str] = set()
    for number in itertools.count():
        if len(uris) >= n:
            break
        kind = _ODD_KINDS[number % len(_ODD_KINDS)]
        base = catalog.tracks[bases[int(rng.random() * len(bases))]]
        title, artist, album = base.name, catalog.artists[base.artist_ids[0]].name, catalog.albums[base.album_id].name
        if kind == "local":
            artist, album = rng.choice(_LOCAL_ARTISTS), rng.choice((None, "Mixtape", "Live Bootleg"))
            title = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} (demo)"
            parts = (artist, album or "", title, str(rng.randint(90, 400)))
            uri = "spotify:local:" + ":".join(p.replace(" ", "+") for p in parts)
        elif kind == "episode":
            artist = album = rng.choice(_SHOWS)
            title = f"Episode {rng.randint(1, 300)}: {rng.choice(_ADJ)} {rng.choice(_NOUN)}"
            uri = "spotify:episode:" + draw.id()  # its tail is a well-formed id: it must still not be sent
        elif kind == "empty":
            if "" in seen:
                continue
            uri, title, artist, album = "", "Unknown Track", "Unknown Artist", None
        elif kind == "short":
            uri = TRACK_PREFIX + base.id[:21]
        elif kind == "long":
            uri = TRACK_PREFIX + base.id + rng.choice(BASE62)
        else:
            at = rng.randrange(22)
            uri = TRACK_PREFIX + base.id[:at] + rng.choice("-_!.") + base.id[at + 1 :]
        if uri in seen:
            continue
        seen.add(uri)
        uris.append(uri)
        row = dict.fromkeys(_TRACK_COLUMNS)
        row.update(spotify_track_uri=uri, track_name=title, primary_artist_name=artist, album_name=album)
        for column, value in row.items():
            out[column].append(value)
    return uris


def _album_urls(catalog: Catalog, album_ids: set[str]) -> dict[str, str | None]:
    return {a: preferred_image(catalog.albums[a].images) for a in album_ids}


def _expected_tracks(world: World, known: list[str]) -> None:
    tracks = world.catalog.tracks
    album_ids = [tracks[t].album_id for t in known]
    url = _album_urls(world.catalog, set(album_ids))
    world.expected_track_url = {t: url[a] for t, a in zip(known, album_ids, strict=True)}


def _other_url(draw: _Draw, avoid: str | None) -> str:
    """A plausible image URL that differs from the right one: proof that a prefilled value was kept."""
    while (url := draw.url()) == avoid:
        pass
    return url


def _prefill_tracks(world: World, rng: random.Random, draw: _Draw) -> None:
    table = world.tracks_table
    n_valid = len(table["spotify_track_uri"]) - len(world.odd_uris)  # valid rows come first
    for i in sorted(rng.sample(range(n_valid), _count(n_valid, world.spec.prefilled, 1, when=20))):
        uri = table["spotify_track_uri"][i]
        url = _other_url(draw, world.expected_track_url.get(uri[len(TRACK_PREFIX) :]))
        table["album_image_url"][i] = url
        world.prefilled_tracks[uri] = url


def _bad_id(artist_id: str, form: int) -> str:
    """Ids that are not 22 base-62 characters; a batch call holding one may fail as a whole."""
    return (
        artist_id[:21],
        artist_id + "Q",
        artist_id[:5] + "-" + artist_id[6:],
        "spotify:artist:" + artist_id,
    )[form % 4]


def _artist_rows(world: World, plan: _Plan, draw: _Draw, unknown_artists: list[tuple[str, str]]) -> None:
    """The `artists` table (keyed by name) and what a correct backfill can do with each row."""
    spec, catalog, rng = world.spec, world.catalog, draw.rng
    # name -> [genres, popularity, followers, spotify_artist_id, image_url, enriched_at]
    rows: dict[str, list[Any]] = {}

    def enriched() -> int:
        return _ENRICHED_FROM + int(rng.random() * _ENRICHED_SPAN)

    homonym_ids = {a for pair in plan.homonyms for a in pair}
    # A name two artists share is stored without an id (half the pairs) or with the first one's.
    no_id = {catalog.artists[a].name for a, _ in plan.homonyms[: (len(plan.homonyms) + 1) // 2]}
    for artist in catalog.artists.values():
        if artist.name not in rows:
            artist_id = None if artist.name in no_id else artist.id
            genres = ",".join(artist.genres) or None
            rows[artist.name] = [genres, artist.popularity, artist.followers, artist_id, None, enriched()]
    for artist_id, name in unknown_artists:
        rows[name] = [None, 0, int(10 ** rng.uniform(1, 4)), artist_id, None, enriched()]

    # Names that are primary artists in `tracks` with exactly one id: candidates for a NULL-id row.
    table = world.tracks_table
    track_ids: dict[str, set[str]] = {}
    for name, artist_id in zip(table["primary_artist_name"], table["primary_artist_id"], strict=True):
        if artist_id is not None:
            track_ids.setdefault(name, set()).add(artist_id)
    plain = [
        name
        for name, row in rows.items()
        if row[3] in catalog.artists and row[3] not in homonym_ids and name != "Various Artists"
    ]
    rng.shuffle(plain)
    played = [n for n in plain if track_ids.get(n) == {rows[n][3]}]
    n_rows = len(rows)
    recoverable = played[: _count(n_rows, spec.recoverable, 2, when=20)]
    for name in recoverable:
        rows[name][3] = None
    rest = [n for n in plain if n not in set(recoverable)]

    # ASCII spellings stored as their own rows with the same id ("Beyoncé" / "Beyonce").
    accented = [n for n in rest if _fold(n) != n and _fold(n) not in rows]
    aliases: list[tuple[str, str]] = []
    for name in accented[: _count(n_rows, 0.01, 2, when=20)]:
        alias = _fold(name)
        if alias in rows:
            continue
        row = rows[name]
        rows[alias] = [row[0], max(0, row[1] - 5), row[2] // 3, row[3], None, enriched()]
        aliases.append((name, alias))
        world.shared_artist_ids[row[3]] = [name, alias]
    used = {n for pair in aliases for n in pair}
    rest = [n for n in rest if n not in used]

    for form, name in enumerate(rest[: _count(n_rows, 0.01, 3, when=20)]):
        rows[name][3] = _bad_id(rows[name][3], form)
        world.malformed_artist_ids[name] = rows[name][3]
    rest = [n for n in rest if n not in world.malformed_artist_ids]

    # NULL-id names that no track row can resolve: absent from `tracks`, or present there with no id.
    taken = set(rows) | set(table["primary_artist_name"])
    for _ in range(_count(n_rows, 0.01, 2, when=20)):
        rows[_fresh_name(rng, taken)] = [None, None, None, None, None, None]
    local = sorted(set(_LOCAL_ARTISTS) & set(table["primary_artist_name"]))
    if local:
        rows[local[0]] = [None, None, None, None, None, None]

    # Rows filled before: only plain rows (and one of an alias pair, when there are several pairs).
    candidates = rest + ([aliases[-1][1]] if len(aliases) > 1 else [])
    expected = world.expected_artist_url
    ids = {row[3] for row in rows.values()} | set(filter(None, table["primary_artist_id"]))
    for artist_id in ids:
        if artist_id in catalog.artists:
            expected[artist_id] = preferred_image(catalog.artists[artist_id].images)
    for name in sorted(rng.sample(candidates, min(len(candidates), _count(n_rows, spec.prefilled, 1, when=20)))):
        url = _other_url(draw, expected.get(rows[name][3]))
        rows[name][4] = url
        world.prefilled_artists[name] = url

    # What the file lets a backfill recover: only through tracks.primary_artist_id (absent from old files).
    for name, row in rows.items():
        if row[3] is not None:
            continue
        found = set() if spec.old_schema else track_ids.get(name, set())
        if len(found) == 1:
            world.recoverable_artists[name] = next(iter(found))
        else:
            world.unrecoverable_artists.add(name)
            if len(found) > 1:
                world.ambiguous_artists.add(name)

    world.artists_table = {
        "artist_name": list(rows),
        **{column: [row[i] for row in rows.values()] for i, column in enumerate(_ARTIST_COLUMNS[1:])},
    }


def _structure(world: World, known: list[str]) -> None:
    """Album groups as a backfill sees them, and which of them mix editions or span pages."""
    catalog = world.catalog
    groups: dict[tuple[str, str], dict[str, None]] = {}
    past_first_page: set[str] = set()
    for track_id in known:
        track = catalog.tracks[track_id]
        album = catalog.albums[track.album_id]
        key = (album.name, catalog.artists[track.artist_ids[0]].name)
        groups.setdefault(key, {})[album.id] = None
        if track.track_number > LONG_ALBUM_PAGE:
            past_first_page.add(album.id)
    world.groups = {key: list(albums) for key, albums in groups.items()}
    world.editions = [key for key, albums in world.groups.items() if len(albums) > 1]
    world.long_albums = sorted(past_first_page)


# -- writing the DuckDB file -------------------------------------------------------------------------------

# The primary key is added once the rows are in: a million rows load ~25% faster than into an indexed table.
_TRACKS_DDL = """CREATE TABLE tracks (
    spotify_track_uri TEXT NOT NULL,
    track_name TEXT NOT NULL,
    primary_artist_name TEXT NOT NULL,
    album_name TEXT,
    album_image_url TEXT,
    release_date TEXT,
    release_year INT,
    release_decade TEXT,
    popularity INT,
    duration_ms INT,
    explicit BOOLEAN,
    enriched_at TIMESTAMP{extra}
)"""
_ARTISTS_DDL = """CREATE TABLE artists (
    artist_name TEXT PRIMARY KEY,
    genres TEXT,
    popularity INT,
    followers INT,
    spotify_artist_id TEXT,
    image_url TEXT,
    enriched_at TIMESTAMP
)"""
_PLAYS_DDL = """CREATE TABLE plays (
    played_at TIMESTAMP,
    ms_played BIGINT,
    track_name TEXT,
    artist_name TEXT,
    album_name TEXT,
    spotify_track_uri TEXT,
    date DATE,
    year INT,
    month INT,
    year_month VARCHAR,
    dow INT,
    dow_name VARCHAR,
    hour INT
)"""
# How each packed column turns back into its type; epoch seconds become TIMESTAMP without any time zone.
_CASTS = {
    "release_year": "{}::INT",
    "popularity": "{}::INT",
    "followers": "{}::INT",
    "duration_ms": "{}::INT",
    "explicit": "{}::BOOLEAN",
    "enriched_at": "make_timestamp({}::BIGINT * 1000000)",
}


def _pack(values: list[Any]) -> str:
    return _SEP.join(_NULL if v is None else str(v) for v in values)


def _bulk_insert(con: duckdb.DuckDBPyConnection, table: str, columns: Columns) -> None:
    """Set-based load: each chunk's columns travel as one string apiece and are split apart in SQL."""
    names = list(columns)
    # Unnest in a subquery and convert outside it: twice as fast as functions wrapped around unnest().
    split = ", ".join(f"unnest(string_split(${i}, chr({ord(_SEP)}))) AS c{i}" for i in range(1, len(names) + 1))
    convert = ", ".join(
        _CASTS.get(name, "{}").format(f"nullif(c{i}, chr({ord(_NULL)}))") for i, name in enumerate(names, start=1)
    )
    sql = f"INSERT INTO {table} ({', '.join(names)}) SELECT {convert} FROM (SELECT {split})"
    total = len(columns[names[0]])
    for start in range(0, total, _CHUNK_ROWS):
        con.execute(sql, [_pack(columns[n][start : start + _CHUNK_ROWS]) for n in names])


def _uniform(salt: int) -> str:
    """A deterministic uniform [0, 1) draw per play row (DuckDB's random() cannot be seeded per thread)."""
    return f"(hash(i, $seed, {salt}) / 18446744073709551616.0)"


# Hours of the day, weighted: evenings busy, small hours quiet.
_HOURS = [
    h for h, w in enumerate((3, 2, 1, 1, 1, 1, 2, 4, 6, 6, 5, 5, 6, 6, 5, 5, 6, 7, 8, 9, 9, 8, 6, 4)) for _ in range(w)
]
_PLAYS_SQL = f"""
INSERT INTO plays
WITH ranked AS (
    -- Popularity order of the tracks: a hash of the URI, so it does not follow table order.
    SELECT row_number() OVER (ORDER BY hash(spotify_track_uri, $seed), spotify_track_uri) - 1 AS rank,
           spotify_track_uri, track_name, primary_artist_name, album_name, duration_ms
    FROM tracks
), draws AS (
    -- Each track once (its row exists because it was played), then Zipf-like: rank ~ e^(u·ln n).
    SELECT i,
           CASE WHEN i < $once THEN i
                ELSE least(floor(exp({_uniform(1)} * ln($tracks + 1)))::BIGINT - 1, $tracks - 1) END AS rank,
           TIMESTAMP '2024-01-01' + to_seconds((
               floor({_uniform(2)} * 731)::BIGINT * 86400
               + $hours[1 + floor({_uniform(3)} * len($hours))::BIGINT] * 3600
               + floor({_uniform(4)} * 3600)::BIGINT)) AS played_at,
           {_uniform(5)} AS u_full, {_uniform(6)} AS u_part
    FROM range($n) t(i)
), joined AS (
    SELECT d.played_at, coalesce(r.duration_ms, 180000) AS duration,
           d.u_full, d.u_part, r.track_name, r.primary_artist_name, r.album_name, r.spotify_track_uri
    FROM draws d JOIN ranked r USING (rank)
)
SELECT played_at,
       -- The predecessor kept plays of 30 s or more: mostly whole tracks, some stopped part way.
       CASE WHEN u_full < 0.7 OR duration <= 30000 THEN greatest(duration - floor(u_part * 4000)::BIGINT, 30000)
            ELSE 30000 + floor(u_part * (duration - 30000))::BIGINT END,
       track_name, primary_artist_name, album_name, spotify_track_uri,
       played_at::DATE, year(played_at), month(played_at), strftime(played_at, '%Y-%m'),
       dayofweek(played_at), dayname(played_at), hour(played_at)
FROM joined
"""
_NULL_PLAYS_SQL = f"""
INSERT INTO plays
SELECT played_at, 30000 + floor({_uniform(8)} * 1800000)::BIGINT, 'Unknown Track', 'Unknown Artist', NULL, NULL,
       played_at::DATE, year(played_at), month(played_at), strftime(played_at, '%Y-%m'),
       dayofweek(played_at), dayname(played_at), hour(played_at)
FROM (SELECT i, TIMESTAMP '2024-01-01' + to_seconds(floor({_uniform(7)} * 731 * 86400)::BIGINT) AS played_at
      FROM range($n) t(i))
"""


def write_history(world: World, path: str | os.PathLike[str]) -> None:
    """Write the world's history as a NEW DuckDB file: plays (unless spec.plays == 0), tracks, artists."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; the sample never replaces a file")
    con = duckdb.connect(str(path))
    try:
        _write(con, world)
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)  # ours, half-written: never leave a partial history behind
        raise
    con.close()


def _write(con: duckdb.DuckDBPyConnection, world: World) -> None:
    spec = world.spec
    extra = "" if spec.old_schema else ",\n    primary_artist_id VARCHAR"
    con.execute(_TRACKS_DDL.format(extra=extra))
    con.execute(_ARTISTS_DDL)
    _bulk_insert(con, "tracks", world.tracks_table)
    con.execute("ALTER TABLE tracks ADD PRIMARY KEY (spotify_track_uri)")
    _bulk_insert(con, "artists", world.artists_table)
    if not spec.play_count:
        return
    con.execute(_PLAYS_DDL)
    n_tracks = len(world.tracks_table["spotify_track_uri"])
    n = max(0, spec.play_count - world.null_uri_plays)
    params = {"seed": spec.seed, "tracks": n_tracks, "once": n_tracks if n >= n_tracks else 0}
    con.execute(_PLAYS_SQL, {**params, "n": n, "hours": _HOURS})
    con.execute(_NULL_PLAYS_SQL, {"seed": spec.seed, "n": spec.play_count - n})


# -- command line ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backfill.emulator.sample",
        description=__doc__.splitlines()[0] + " `python -m backfill.emulator` serves the matching catalog.",
    )
    defaults = SampleSpec()
    add = parser.add_argument
    add("path", help="the DuckDB file to create")
    add("--seed", type=int, default=defaults.seed, help=f"which world (default {defaults.seed}, the emulator's too)")
    add("--tracks", type=int, default=defaults.tracks, help=f"rows in tracks (default {defaults.tracks})")
    add("--artists", type=int, default=defaults.artists, help=f"artists in the catalog (default {defaults.artists})")
    add("--plays", type=int, default=None, help="rows in plays (default 2 * tracks; 0: no plays table)")
    add(
        "--prefilled",
        type=float,
        default=defaults.prefilled,
        help=f"share of rows that already have an image (default {defaults.prefilled:g})",
    )
    add(
        "--unknown",
        type=float,
        default=defaults.unknown,
        help=f"share of ids Spotify does not know (default {defaults.unknown:g})",
    )
    add(
        "--odd",
        type=float,
        default=defaults.odd,
        help=f"share of track URIs that are not track ids: local files, episodes, empty (default {defaults.odd:g})",
    )
    add("--old-schema", action="store_true", help="tracks without primary_artist_id")
    add("--force", action="store_true", help="replace PATH if it exists")
    args = parser.parse_args(argv)
    try:
        spec = SampleSpec(
            seed=args.seed,
            tracks=args.tracks,
            artists=args.artists,
            plays=args.plays,
            prefilled=args.prefilled,
            unknown=args.unknown,
            odd=args.odd,
            old_schema=args.old_schema,
        )
    except ValueError as exc:
        parser.error(str(exc))
    path = Path(args.path)
    if path.exists():
        if not args.force:
            print(f"{parser.prog}: error: {path} exists (pass --force to replace it)", file=sys.stderr)
            return 2
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
    world = build_world(spec)
    write_history(world, path)
    pending = sum(u is None for u in world.tracks_table["album_image_url"])
    print(
        f"wrote {path}: {spec.tracks:,} tracks ({pending:,} without art), "
        f"{len(world.artists_table['artist_name']):,} artists, {spec.play_count:,} plays; "
        f"catalog: {len(world.catalog.tracks):,} tracks, {len(world.catalog.albums):,} albums"
    )
    same = [
        f"--{name} {getattr(spec, name)}"
        for name in ("seed", "tracks", "artists")
        if getattr(spec, name) != getattr(defaults, name)
    ]
    print(f"serve its catalog with: {' '.join(['python -m backfill.emulator', *same])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
