"""The emulator's catalog of a sample world: artists, then albums (singles, EPs, editions, long albums,
compilations) until the history's share of their tracks is reached."""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass

from standin.catalog import Album, Artist, Catalog, Image, Track
from standin.sample.names import (
    ADJ,
    BONUS,
    COMMON_ALBUMS,
    GENRES,
    NOUN,
    SUFFIXES,
    artist_names,
    shuffled_track_names,
)
from standin.sample.randomness import Draw, no_gc, share_count
from standin.sample.world import LONG_ALBUM_PAGE, SampleSpec


def _album_images(draw: Draw, standard: bool = False) -> list[Image]:
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


def _artist_images(draw: Draw) -> list[Image]:
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


def random_release_date(rng: random.Random, year: int) -> str:
    r = rng.random()
    if r < 0.06:
        return f"{year}"  # release_date_precision "year"
    if r < 0.08:
        return f"{year}-{rng.randint(1, 12):02d}"
    return f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


@dataclass
class Plan:
    """What the catalog builder decided beyond the catalog itself (history order of the played tracks)."""

    picks: list[str]  # track ids the history holds, in order; the history takes a prefix of it
    homonyms: list[tuple[str, str]]  # pairs of artist ids sharing one name


def build_catalog(spec: SampleSpec) -> Catalog:
    """The emulator's catalog alone (depends only on seed, tracks and artists)."""
    with no_gc():
        return CatalogBuilder(spec.seed, spec.tracks, spec.artists).build()[0]


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


class CatalogBuilder:
    """Artists, then albums until the history's share of their tracks reaches n_tracks."""

    def __init__(self, seed: int, n_tracks: int, n_artists: int) -> None:
        self.rng = random.Random(f"backfill.emulator.sample:{seed}:catalog")
        self.draw = Draw(self.rng)
        self.n_tracks = n_tracks
        self.n_artists = n_artists
        self.catalog = Catalog()
        self.picks: list[str] = []
        self.track_names = shuffled_track_names(self.rng)
        # A pool of durations: drawing from it is cheaper than gauss() per track, and ints are shared.
        self.durations = [max(45_000, int(self.rng.gauss(215_000, 55_000))) for _ in range(4096)]

    def build(self) -> tuple[Catalog, Plan]:
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
        return catalog, Plan(self.picks[: self.n_tracks], homonyms)

    def _add_artists(self) -> tuple[list[tuple[str, str]], str | None]:
        """A few accented names (for ASCII aliases in the history), a few names shared by two artists
        (so a NULL-id row for that name cannot be recovered), and "Various Artists" for compilations."""
        rng, draw, n = self.rng, self.draw, self.n_artists
        n_homonyms = share_count(n, 1 / 200, 1, when=20)
        names = artist_names(rng, n, accented=share_count(n, 0.03, 3, when=20))
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
            genres = rng.sample(GENRES, rng.choice((0, 1, 1, 2, 2, 3)))
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
            album_name = f"{rng.choice(ADJ)} {rng.choice(NOUN)}: The Collection Vol. {rng.randint(1, 40)}"
        elif rng.random() < 0.05:
            album_name = rng.choice(COMMON_ALBUMS)
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
        date = random_release_date(rng, year)
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
            again = [t.name if rng.random() < 0.6 else f"{t.name} - {rng.choice(SUFFIXES)}" for t in tracks]
            again += [f"{rng.choice(tracks).name} ({rng.choice(BONUS)})" for _ in range(rng.randint(2, 6))]
            date = random_release_date(rng, min(2025, year + rng.randint(5, 30)))
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
