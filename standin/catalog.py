"""The emulator's world: what "Spotify" knows about, independent of how it is served.

Shared by the emulator (which renders it as Web API JSON), the sample-history generator (which writes a
listening history that refers to it) and the tests (which know the right answer for every id).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    width: int | None
    height: int | None


@dataclass(slots=True)
class Artist:
    id: str
    name: str
    images: list[Image] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    followers: int = 0
    popularity: int = 0


@dataclass(slots=True)
class Album:
    id: str
    name: str
    artist_ids: list[str]
    images: list[Image] = field(default_factory=list)
    track_ids: list[str] = field(default_factory=list)  # in album order
    release_date: str = "2020-01-01"
    album_type: str = "album"


@dataclass(slots=True)
class Track:
    id: str
    name: str
    album_id: str
    artist_ids: list[str]
    duration_ms: int = 200_000
    explicit: bool = False
    popularity: int = 0
    track_number: int = 1
    disc_number: int = 1


@dataclass(slots=True)
class Catalog:
    tracks: dict[str, Track] = field(default_factory=dict)
    albums: dict[str, Album] = field(default_factory=dict)
    artists: dict[str, Artist] = field(default_factory=dict)

    def add_artist(self, artist: Artist) -> Artist:
        self.artists[artist.id] = artist
        return artist

    def add_album(self, album: Album, tracks: list[Track]) -> Album:
        """Add an album with its tracks; the album's track list follows the order given."""
        self.albums[album.id] = album
        for number, track in enumerate(tracks, start=1):
            track.album_id = album.id
            track.track_number = number
            self.tracks[track.id] = track
            album.track_ids.append(track.id)
        return album
