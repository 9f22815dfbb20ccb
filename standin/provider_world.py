"""A deterministic world for the stand-in Deezer, MusicBrainz and Cover Art Archive, with its right answers.

`build_provider_world(spec)` turns the hand-made acts of `provider_cases` (namesakes, other spellings, near
misses, a tie, photo-less artists, albums without art, singles) plus `spec.filler` generated acts into what
each provider holds (ids, md5s, mbids, all from `spec.seed`) and the user's history of them. For every history
row the world knows the right answer per provider (`provider_answers`): which Deezer album's cover, which
Deezer artist's picture, which release group's front cover, or None where the right answer is no image.

    world = build_provider_world(ProviderWorldSpec(seed=5, filler=30))
    world.deezer_cover_url(row.uri)  # the cover a correct matcher stores for that row, or None
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import quote_plus

from standin.provider_answers import Answers, expected_answers
from standin.provider_cases import ACTS, LISTENS, Act, CoverArt, Listen, Record
from standin.provider_filler import filler_acts

DEEZER_IMAGE_HOST = "https://e-cdns-images.dzcdn.net"
DEEZER_SIZES = (56, 250, 500, 1000)
STORED_SIZE = 250  # of Deezer's sizes, the nearest 300 px
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ProviderWorldSpec:
    seed: int = 5
    filler: int = 30  # generated acts beside the hand-made ones
    namesakes: float = 0.2  # share of generated acts with a Deezer namesake listed before them


@dataclass(frozen=True)
class DeezerArtist:
    id: int
    name: str
    md5: str  # "" when Deezer has no photo (its placeholder)
    fans: int
    act: str


@dataclass(frozen=True)
class DeezerAlbum:
    id: int
    title: str  # as Deezer spells it
    artist_id: int
    md5: str  # md5_image; "" when Deezer has no cover
    record_type: str  # "album" or "single"
    release_date: str
    fans: int
    record: str  # the record's own title, as the history names it


@dataclass(frozen=True)
class DeezerTrack:
    id: int
    title: str
    album_id: int
    artist_id: int
    duration: int
    rank: int
    isrc: str
    position: int


@dataclass(frozen=True)
class MbArtist:
    id: str
    name: str
    sort_name: str
    disambiguation: str


@dataclass(frozen=True)
class ReleaseGroup:
    id: str
    title: str
    artist_id: str
    primary_type: str  # "Album" or "Single"
    first_release_date: str
    release_id: str  # the release whose images the Cover Art Archive shows for the group
    art: CoverArt
    image_id: int


@dataclass(frozen=True)
class HistoryTrack:
    """A row of the user's `tracks` table, with the act and record it really is."""

    uri: str
    title: str
    artist: str
    album: str
    act: str
    record: str


def deezer_image_url(kind: str, md5: str, size: int, host: str = DEEZER_IMAGE_HOST) -> str:
    """Deezer's image URL for an md5 (`kind` "artist" or "cover"); an empty md5 gives the placeholder's."""
    return f"{host}/images/{kind}/{md5}/{size}x{size}-000000-80-0-0.jpg"


class ProviderWorld:
    def __init__(
        self,
        spec: ProviderWorldSpec,
        deezer: tuple[list[DeezerArtist], list[DeezerAlbum], list[DeezerTrack]],
        musicbrainz: tuple[list[MbArtist], list[ReleaseGroup]],
        history: list[HistoryTrack],
    ) -> None:
        self.spec = spec
        self.deezer_artists = {a.id: a for a in deezer[0]}  # in the order plain search lists namesakes
        self.deezer_albums = {a.id: a for a in deezer[1]}
        self.deezer_tracks = {t.id: t for t in deezer[2]}
        self.mb_artists = {a.id: a for a in musicbrainz[0]}
        self.release_groups = {g.id: g for g in musicbrainz[1]}
        self.history = tuple(history)
        self._albums_of: dict[int, list[DeezerAlbum]] = defaultdict(list)
        self._tracks_of: dict[int, list[DeezerTrack]] = defaultdict(list)
        for album in deezer[1]:
            self._albums_of[album.artist_id].append(album)
        for track in deezer[2]:
            self._tracks_of[track.album_id].append(track)
        self.answers: Answers = expected_answers(self)

    def albums_of(self, artist_id: int) -> list[DeezerAlbum]:
        return list(self._albums_of.get(artist_id, ()))

    def tracks_of(self, album_id: int) -> list[DeezerTrack]:
        return list(self._tracks_of.get(album_id, ()))

    def top_tracks(self, artist_id: int) -> list[DeezerTrack]:
        tracks = [t for album in self.albums_of(artist_id) for t in self.tracks_of(album.id)]
        return sorted(tracks, key=lambda t: (-t.rank, t.id))

    @property
    def history_artists(self) -> tuple[str, ...]:
        """The `artists` table: each artist name of the history once, in order of first appearance."""
        return tuple(dict.fromkeys(row.artist for row in self.history))

    # -- the right answers -----------------------------------------------------------------------------

    def deezer_cover_url(self, uri: str, size: int = STORED_SIZE, host: str = DEEZER_IMAGE_HOST) -> str | None:
        album_id = self.answers.deezer_album[uri]
        album = self.deezer_albums[album_id] if album_id is not None else None
        return deezer_image_url("cover", album.md5, size, host) if album is not None and album.md5 else None

    def deezer_picture_url(self, name: str, size: int = STORED_SIZE, host: str = DEEZER_IMAGE_HOST) -> str | None:
        artist_id = self.answers.deezer_artist[name]
        artist = self.deezer_artists[artist_id] if artist_id is not None else None
        return deezer_image_url("artist", artist.md5, size, host) if artist is not None and artist.md5 else None

    def cover_art_urls(self, uri: str, base: str) -> frozenset[str]:
        """Every URL of the right front cover a correct matcher may store (served from `base`); empty: none."""
        mbid = self.answers.release_group[uri]
        group = self.release_groups[mbid] if mbid is not None else None
        if group is None or group.art != "front":
            return frozenset()
        release = f"{base}/release/{group.release_id}/{group.image_id}"
        return frozenset(
            {f"{base}/release-group/{mbid}/front-{n}" for n in (250, 500)} | {f"{release}-{n}.jpg" for n in (250, 500)}
        )


class _Builder:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.next_id = {"artist": 1_000 + self.rng.randrange(9_000), "album": 100_000, "track": 3_000_000}
        self.deezer: tuple[list[DeezerArtist], list[DeezerAlbum], list[DeezerTrack]] = ([], [], [])
        self.musicbrainz: tuple[list[MbArtist], list[ReleaseGroup]] = ([], [])
        self.deezer_ids: dict[str, int] = {}
        self.mb_names: set[str] = set()

    def new_id(self, kind: str) -> int:
        self.next_id[kind] += self.rng.randint(1, 997)
        return self.next_id[kind]

    def md5(self, kind: str, item: int) -> str:
        return hashlib.md5(f"{self.seed}/{kind}/{item}".encode()).hexdigest()

    def mbid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def act(self, act: Act) -> None:
        if act.deezer_name is not None:
            artist_id = self.new_id("artist")
            md5 = self.md5("artist", artist_id) if act.photo else ""
            self.deezer[0].append(DeezerArtist(artist_id, act.deezer_name, md5, act.fans, act.key))
            self.deezer_ids[act.key] = artist_id
            for record in act.records:
                self._deezer_album(artist_id, record, act.fans)
        if act.mb_name is not None:
            self._mb_artist(act)

    def _deezer_album(self, artist_id: int, record: Record, fans: int) -> None:
        if not record.on_deezer:
            return
        album_id = self.new_id("album")
        md5 = self.md5("cover", album_id) if record.cover else ""
        kind = "single" if record.single else "album"
        date = f"{self.rng.randint(1970, 2025)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"
        title = record.deezer_title or record.title
        self.deezer[1].append(DeezerAlbum(album_id, title, artist_id, md5, kind, date, fans // 50, record.title))
        for position, name in enumerate(record.tracks, 1):
            track_id = self.new_id("track")
            isrc = f"QZDZ1{self.seed % 100:02d}{track_id % 100_000:05d}"
            rank = self.rng.randint(1_000, 999_999)
            duration = self.rng.randint(120, 420)
            self.deezer[2].append(DeezerTrack(track_id, name, album_id, artist_id, duration, rank, isrc, position))

    def _mb_artist(self, act: Act) -> None:
        assert act.mb_name is not None
        name = act.mb_name
        sort_name = f"{name[4:]}, The" if name.startswith("The ") else name
        # Namesakes at MusicBrainz are told apart by a disambiguation comment.
        country = self.rng.choice(("British", "Dutch", "Brazilian", "Swedish", "Canadian", "Japanese"))
        disambiguation = f"{country} band" if name in self.mb_names else ""
        self.mb_names.add(name)
        artist = MbArtist(self.mbid(), name, sort_name, disambiguation)
        self.musicbrainz[0].append(artist)
        for record in act.records:
            if record.caa == "absent":
                continue
            kind = "Single" if record.single else "Album"
            date = str(self.rng.randint(1970, 2025))
            group = ReleaseGroup(
                self.mbid(), record.title, artist.id, kind, date, self.mbid(), record.caa, self.rng.randrange(10**10)
            )
            self.musicbrainz[1].append(group)

    def history(self, listens: list[Listen], acts: dict[str, Act]) -> list[HistoryTrack]:
        rows: list[HistoryTrack] = []
        for listen in listens:
            assert any(r.title == listen.record for r in acts[listen.act].records), listen
            album = "" if listen.blank_album else listen.record
            for title in listen.tracks:
                if listen.local:
                    parts = (listen.artist, album, title)
                    uri = "spotify:local:" + ":".join(quote_plus(p) for p in parts) + f":{self.rng.randint(90, 400)}"
                else:
                    uri = "spotify:track:" + "".join(self.rng.choice(_BASE62) for _ in range(22))
                rows.append(HistoryTrack(uri, title, listen.artist, album, listen.act, listen.record))
        return rows


def build_provider_world(spec: ProviderWorldSpec | None = None) -> ProviderWorld:
    spec = spec or ProviderWorldSpec()
    builder = _Builder(spec.seed)
    generated, generated_listens = filler_acts(random.Random(spec.seed + 1), spec.filler, spec.namesakes, ACTS)
    acts = (*ACTS, *generated)
    for act in acts:
        builder.act(act)
    rows = builder.history([*LISTENS, *generated_listens], {act.key: act for act in acts})
    return ProviderWorld(spec, builder.deezer, builder.musicbrainz, rows)
