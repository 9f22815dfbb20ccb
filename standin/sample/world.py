"""What a sample is: its spec, the world built from it (with the right answer for every id), its tables' shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from standin.catalog import Catalog, Image

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TRACK_PREFIX = "spotify:track:"
IMAGE_HOST = "https://i.scdn.co/image/"
OTHER_IMAGE_HOST = "https://image-cdn-ak.spotifycdn.com/image/"
PREFERRED_WIDTH = 300
LONG_ALBUM_PAGE = 50  # tracks on the first page of GET /albums/{id}; long albums reach past it
ENRICHED_FROM = 1_735_689_600  # 2025-01-01 UTC: the predecessor's enrichment ran during 2025
ENRICHED_SPAN = 300 * 86_400


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
    # What the dashboard's own scripts add to a real history: secondary indexes, audio_features,
    # genre_mappings, and primary_artist_id added by ALTER TABLE.
    dashboard_schema: bool = False
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


# -- choosing an image (kept independent of backfill.sources.images on purpose: the tests compare the two) ---------


def preferred_image(images: Sequence[Image]) -> str | None:
    """The URL nearest 300 px wide (ties to the larger); sized entries first; else the first; none → None."""
    if not images:
        return None
    sized = [(im.width, im.url) for im in images if im.width is not None]
    if not sized:
        return images[0].url
    return min(sized, key=lambda pair: (abs(pair[0] - PREFERRED_WIDTH), -pair[0]))[1]


# -- the history's tables ---------------------------------------------------------------------------------

TRACK_COLUMNS = (
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


def release_columns(date: str) -> tuple[str, int, str]:
    """`tracks`' release_date, release_year and release_decade for an album's release date."""
    year = int(date[:4])
    return date, year, f"{year // 10 * 10}s"
