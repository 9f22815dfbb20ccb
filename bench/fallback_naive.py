"""Scenario 12's comparison: a naive top-result matcher, as maloja fills images (bench-only, never the tool's).

For every row still without an image after a Spotify-only run, it takes the first search result unchecked:
Deezer's `/search?q=ARTIST TITLE` (its first track's album cover, `cover_medium`) for a track row and
`/search/artist?q=NAME` (the first artist's `picture_medium`) for an artist; a track row Deezer finds nothing
for goes to MusicBrainz (the first release group of `artist:"A" AND releasegroup:"B"`) and the first image
the Cover Art Archive lists for it. Whatever URL comes back is stored, placeholders included. It keeps to each
provider's limit by its own fixed pace (and waits and asks again on an over-limit answer), so that its
figures are about matching, not pacing. Searches are remembered for the run, as maloja caches them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import duckdb

AGENT = "backfill-bench-naive/1.0 ( https://example.invalid/backfill-bench )"  # MusicBrainz wants a contact
DEEZER_GAP = 0.11  # s between Deezer requests: under 50 per 5 s
MUSICBRAINZ_GAP = 1.1  # s between MusicBrainz requests: under 1 per s
COVERART_GAP = 0.0
RETRIES = 5


class Naive:
    def __init__(self, deezer: str, musicbrainz: str, coverart: str) -> None:
        self.base = {"deezer": deezer, "musicbrainz": musicbrainz, "coverart": coverart}
        self.gap = {"deezer": DEEZER_GAP, "musicbrainz": MUSICBRAINZ_GAP, "coverart": COVERART_GAP}
        self.last = {"deezer": 0.0, "musicbrainz": 0.0, "coverart": 0.0}
        self.cache: dict[tuple[str, str], Any] = {}

    def _get(self, service: str, path: str, params: dict[str, str] | None = None) -> Any:
        """The JSON answer, or None for a 404 (or anything but JSON); waits and asks again when over a limit."""
        url = self.base[service] + path + ("?" + urllib.parse.urlencode(params) if params else "")
        if (service, url) in self.cache:
            return self.cache[service, url]
        body: Any = None
        for attempt in range(RETRIES):
            wait = self.last[service] + self.gap[service] - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.last[service] = time.monotonic()
            request = urllib.request.Request(url, headers={"User-Agent": AGENT, "Accept": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    body = json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 503 and attempt + 1 < RETRIES:
                    time.sleep(1.0)
                    continue
                body = None
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("code") == 4:
                time.sleep(5.0)  # Deezer's quota answer: wait out its window
                body = None
                continue
            break
        self.cache[service, url] = body
        return body

    def track(self, artist: str, album: str, title: str) -> str | None:
        found = self._get("deezer", "/search", {"q": f"{artist} {title}"})
        data = found.get("data") if isinstance(found, dict) else None
        if data:
            return str(data[0]["album"]["cover_medium"])
        query = f'artist:"{artist}" AND releasegroup:"{album or title}"'
        groups = self._get("musicbrainz", "/ws/2/release-group", {"query": query, "fmt": "json"})
        listed = groups.get("release-groups") if isinstance(groups, dict) else None
        if not listed:
            return None
        art = self._get("coverart", f"/release-group/{listed[0]['id']}")
        images = art.get("images") if isinstance(art, dict) else None
        return str(images[0]["thumbnails"]["250"]) if images else None

    def artist(self, name: str) -> str | None:
        found = self._get("deezer", "/search/artist", {"q": name})
        data = found.get("data") if isinstance(found, dict) else None
        return str(data[0]["picture_medium"]) if data else None


def fill(db: Path, naive: Naive) -> dict[str, int]:
    """Fill every row left without an image, the naive way; how many rows it was asked and how many it filled."""
    con = duckdb.connect(str(db))
    try:
        tracks = con.execute(
            "SELECT spotify_track_uri, any_value(primary_artist_name), any_value(coalesce(album_name, '')), "
            "any_value(track_name) FROM tracks WHERE album_image_url IS NULL AND spotify_track_uri IS NOT NULL "
            "AND coalesce(primary_artist_name, '') <> '' GROUP BY 1"
        ).fetchall()
        artists = con.execute(
            "SELECT artist_name FROM artists WHERE image_url IS NULL AND artist_name <> ''"
        ).fetchall()
        counts = {"tracks asked": len(tracks), "artists asked": len(artists), "tracks filled": 0, "artists filled": 0}
        for uri, artist, album, title in tracks:
            url = naive.track(artist, album, title)
            if url:
                con.execute("UPDATE tracks SET album_image_url = ? WHERE spotify_track_uri = ?", [url, uri])
                counts["tracks filled"] += 1
        for (name,) in artists:
            url = naive.artist(name)
            if url:
                con.execute("UPDATE artists SET image_url = ? WHERE artist_name = ?", [url, name])
                counts["artists filled"] += 1
    finally:
        con.close()
    return counts
