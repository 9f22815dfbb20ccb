"""The stand-in Deezer's search: what `/search/artist`, `/search/album` and `/search/track` find, in its order.

Plain text finds every artist whose name holds the query's words: exact names first (namesakes in the world's
order, which puts a little-known one first), then longer names by fans. The advanced `q=artist:"X"` finds the
same artists but ranks the longer names ("Dennis Korn" for "Korn") first and exact ones last, fewest fans
first: the ranking that broke other tools' lookups. Albums and tracks match each field given (`artist:`,
`album:`, `track:`) and the plain words against artist, album and title together; exact fields rank first.
"""

from __future__ import annotations

from standin.provider_search import deezer_query, exact, finds
from standin.provider_world import DeezerAlbum, DeezerArtist, DeezerTrack, ProviderWorld


def search_artists(world: ProviderWorld, q: str) -> list[DeezerArtist]:
    fields, plain = deezer_query(q)
    advanced = "artist" in fields
    wanted = fields["artist"] if advanced else plain
    hits = [artist for artist in world.deezer_artists.values() if finds(artist.name, wanted)]
    exacts = [artist for artist in hits if exact(artist.name, wanted)]
    longer = sorted((artist for artist in hits if artist not in exacts), key=lambda artist: -artist.fans)
    if advanced:
        return longer + sorted(exacts, key=lambda artist: artist.fans)
    return exacts + longer


def _matches(fields: dict[str, str], plain: str, texts: dict[str, str]) -> tuple[bool, int]:
    """Whether an item with these texts (artist, album, track) is found, and how many fields match exactly."""
    for name, value in fields.items():
        if name in texts and not finds(texts[name], value):
            return False, 0
    if plain and not finds(" ".join(texts.values()), plain):
        return False, 0
    return True, sum(1 for name, value in fields.items() if name in texts and exact(texts[name], value))


def search_albums(world: ProviderWorld, q: str) -> list[DeezerAlbum]:
    fields, plain = deezer_query(q)
    scored: list[tuple[int, DeezerAlbum]] = []
    for album in world.deezer_albums.values():
        artist = world.deezer_artists[album.artist_id]
        found, exactness = _matches(fields, plain, {"artist": artist.name, "album": album.title})
        if found and "track" in fields:
            found = any(finds(track.title, fields["track"]) for track in world.tracks_of(album.id))
        if found:
            scored.append((exactness, album))
    scored.sort(key=lambda pair: (-pair[0], -pair[1].fans, pair[1].id))
    return [album for _, album in scored]


def search_tracks(world: ProviderWorld, q: str) -> list[DeezerTrack]:
    fields, plain = deezer_query(q)
    scored: list[tuple[int, DeezerTrack]] = []
    for track in world.deezer_tracks.values():
        album = world.deezer_albums[track.album_id]
        artist = world.deezer_artists[track.artist_id]
        texts = {"artist": artist.name, "album": album.title, "track": track.title}
        found, exactness = _matches(fields, plain, texts)
        if found:
            scored.append((exactness, track))
    scored.sort(key=lambda pair: (-pair[0], -pair[1].rank, pair[1].id))
    return [track for _, track in scored]
