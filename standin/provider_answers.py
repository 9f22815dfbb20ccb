"""The right answers in a provider world, worked out from what each provider holds and what the user played.

The rule, stated here on its own so that tests can hold the tool's matcher to it: only an artist with the
history's name counts (spellings aside: case, accents, punctuation, `&`/"and"); an artist is the user's when
its albums and top 50 tracks hold more of the user's titles under that name than any namesake's, and at least
one; an album is the row's when it has the row's artist and album title, or for a row without an album (or
named like its track) it is a single named like the track; equal albums go to the confirmed artist's. Titles
are compared as the history names the record, whatever edition note the provider adds to it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from standin.provider_search import fold

if TYPE_CHECKING:
    from standin.provider_world import HistoryTrack, ProviderWorld

TOP_TRACKS = 50  # how many top tracks the evidence reads (`/artist/{id}/top?limit=50`)


@dataclass(frozen=True)
class Answers:
    deezer_album: dict[str, int | None]  # track uri -> the Deezer album it is on (None: not there, or unsure)
    deezer_artist: dict[str, int | None]  # artist name -> the Deezer artist it is (None: not there, or unsure)
    release_group: dict[str, str | None]  # track uri -> the MusicBrainz release group it is on
    # artist name -> the same-named Deezer artists when none is confirmed (what a person would pick from)
    unconfirmed_artists: dict[str, tuple[int, ...]]


def _single_row(row: HistoryTrack) -> bool:
    return not row.album or fold(row.album) == fold(row.title)


def _best(scored: list[tuple[int, int]]) -> int | None:
    """The id with the highest score when it alone has it and it is above zero."""
    ranked = sorted(scored, key=lambda pair: -pair[1])
    if ranked and ranked[0][1] > 0 and (len(ranked) == 1 or ranked[1][1] < ranked[0][1]):
        return ranked[0][0]
    return None


def _deezer_artists(world: ProviderWorld) -> tuple[dict[str, int | None], dict[str, tuple[int, ...]]]:
    by_name: dict[str, list[int]] = defaultdict(list)
    for artist in world.deezer_artists.values():
        by_name[fold(artist.name)].append(artist.id)
    chosen: dict[str, int | None] = {}
    unsure: dict[str, tuple[int, ...]] = {}
    for name in world.history_artists:
        rows = [row for row in world.history if row.artist == name]
        albums = {fold(row.album) for row in rows if row.album}
        tracks = {fold(row.title) for row in rows}
        scored = []
        for artist_id in by_name.get(fold(name), []):
            theirs = {fold(album.record) for album in world.albums_of(artist_id)}
            top = {fold(track.title) for track in world.top_tracks(artist_id)[:TOP_TRACKS]}
            scored.append((artist_id, len(albums & theirs) + len(tracks & top)))
        chosen[name] = _best(scored)
        if chosen[name] is None and scored:
            unsure[name] = tuple(artist_id for artist_id, _ in scored)
    return chosen, unsure


def _deezer_album(world: ProviderWorld, row: HistoryTrack, artist_answer: int | None) -> int | None:
    scored: list[tuple[int, int]] = []
    owner: dict[int, int] = {}
    for artist in world.deezer_artists.values():
        if fold(artist.name) != fold(row.artist):
            continue
        for album in world.albums_of(artist.id):
            named = bool(row.album) and fold(album.record) == fold(row.album)
            single = _single_row(row) and album.record_type == "single" and fold(album.record) == fold(row.title)
            if named or single:
                on_it = any(fold(track.title) == fold(row.title) for track in world.tracks_of(album.id))
                scored.append((album.id, 1 + on_it))
                owner[album.id] = artist.id
    best = _best(scored)
    if best is None and scored:
        top = max(score for _, score in scored)
        by_artist = [album_id for album_id, score in scored if score == top and owner[album_id] == artist_answer]
        best = by_artist[0] if len(by_artist) == 1 else None
    return best


def _release_group(world: ProviderWorld, row: HistoryTrack) -> str | None:
    artists = {a.id for a in world.mb_artists.values() if fold(a.name) == fold(row.artist)}
    found = []
    for group in world.release_groups.values():
        if group.artist_id not in artists:
            continue
        named = bool(row.album) and fold(group.title) == fold(row.album)
        single = _single_row(row) and group.primary_type == "Single" and fold(group.title) == fold(row.title)
        if named or single:
            found.append(group.id)
    return found[0] if len(found) == 1 else None


def expected_answers(world: ProviderWorld) -> Answers:
    artists, unsure = _deezer_artists(world)
    albums = {row.uri: _deezer_album(world, row, artists.get(row.artist)) for row in world.history}
    groups = {row.uri: _release_group(world, row) for row in world.history}
    return Answers(albums, artists, groups, unsure)
