"""The stand-in Deezer's objects, in the fields and forms the real API answers with.

An object nested in another (an album's artist, a track's album) or listed by a search carries fewer fields
than the same object fetched by its id, as on the real API. Pictures come at 56, 250, 500 and 1000 px on
Deezer's CDN host, built from the md5; an empty md5 gives the placeholder's URL (`/images/artist//...`).
"""

from __future__ import annotations

from typing import Any, Literal

from standin.provider_world import DeezerAlbum, DeezerArtist, DeezerTrack, ProviderWorld, deezer_image_url

Json = dict[str, Any]
Context = Literal["full", "listed", "nested"]
_SIZES = {"small": 56, "medium": 250, "big": 500, "xl": 1000}


class Shapes:
    """Renders world objects for the API at `api` (for `link`-like fields) with images on `image_host`."""

    def __init__(self, world: ProviderWorld, api: str, image_host: str) -> None:
        self.world = world
        self.api = api
        self.image_host = image_host

    def _pictures(self, prefix: str, kind: str, md5: str, own: str) -> Json:
        pictures: Json = {prefix: own}
        for name, size in _SIZES.items():
            pictures[f"{prefix}_{name}"] = deezer_image_url(kind, md5, size, self.image_host)
        return pictures

    def artist(self, artist: DeezerArtist, context: Context = "full") -> Json:
        body: Json = {"id": artist.id, "name": artist.name, "link": f"https://www.deezer.com/artist/{artist.id}"}
        if context == "full":
            body["share"] = (
                f"https://www.deezer.com/artist/{artist.id}?utm_source=deezer&utm_content=artist-{artist.id}"
            )
        body |= self._pictures("picture", "artist", artist.md5, f"{self.api}/artist/{artist.id}/image")
        if context != "nested":
            body |= {"nb_album": len(self.world.albums_of(artist.id)), "nb_fan": artist.fans, "radio": True}
        body |= {"tracklist": f"{self.api}/artist/{artist.id}/top?limit=50", "type": "artist"}
        return body

    def album(self, album: DeezerAlbum, context: Context = "full") -> Json:
        tracks = self.world.tracks_of(album.id)
        body: Json = {"id": album.id, "title": album.title}
        if context == "full":
            body["upc"] = f"{album.id:013d}"
        body["link"] = f"https://www.deezer.com/album/{album.id}"
        if context == "full":
            body["share"] = f"https://www.deezer.com/album/{album.id}?utm_source=deezer&utm_content=album-{album.id}"
        body |= self._pictures("cover", "cover", album.md5, f"{self.api}/album/{album.id}/image")
        body["md5_image"] = album.md5
        if context != "nested":
            body |= {"genre_id": 132, "nb_tracks": len(tracks), "fans": album.fans}
            body |= {"release_date": album.release_date, "record_type": album.record_type}
        else:
            body["release_date"] = album.release_date
        body |= {"tracklist": f"{self.api}/album/{album.id}/tracks", "explicit_lyrics": False}
        if context == "full":
            body |= {
                "label": "Stand-in Records",
                "duration": sum(t.duration for t in tracks),
                "available": True,
                "artist": self.artist(self.world.deezer_artists[album.artist_id], "nested"),
                "tracks": {"data": [self.track(t, "listed") for t in tracks]},
            }
        elif context == "listed":
            body["artist"] = self.artist(self.world.deezer_artists[album.artist_id], "nested")
        body["type"] = "album"
        return body

    def track(self, track: DeezerTrack, context: Context = "full") -> Json:
        album = self.world.deezer_albums[track.album_id]
        artist = self.world.deezer_artists[track.artist_id]
        body: Json = {"id": track.id, "readable": True, "title": track.title, "title_short": track.title}
        body["title_version"] = ""
        if context == "full":
            body["isrc"] = track.isrc
        body |= {"link": f"https://www.deezer.com/track/{track.id}", "duration": track.duration}
        if context == "full":
            body |= {"track_position": track.position, "disk_number": 1}
        body |= {"rank": track.rank, "explicit_lyrics": False}
        if context == "full":
            body |= {"release_date": album.release_date, "bpm": 0, "gain": -9.1}
        body["preview"] = f"https://cdnt-preview.dzcdn.net/api/1/1/{track.id:x}/{track.isrc.lower()}.mp3"
        body["md5_image"] = album.md5
        body["artist"] = self.artist(artist, "nested")
        album_body = self.album(album, "nested")
        if context != "full":
            album_body.pop("release_date", None)
            album_body.pop("explicit_lyrics", None)
            album_body.pop("link", None)
        body["album"] = album_body
        body["type"] = "track"
        return body
