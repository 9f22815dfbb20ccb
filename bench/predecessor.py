"""The predecessor's backfill (spotify-wrapped-revisited), as its guide describes it, for scenario 2.

spotipy with its defaults (requests_timeout=5, retries=3, status_retries=3, backoff_factor=0.3; urllib3's Retry
sleeps through a 429's Retry-After), sequential: `sp.tracks` in batches of 50 track URIs (so one bad id fails
its whole batch), then `sp.artist` one id at a time with a one-second pause (the guide's "1 artist/s"). The
image is the one with `height == 300`, else the first. Results are written row by row, by URI and by artist
name, NULL when there is no image, the way it did. Prints one JSON object with what happened.

    python -m bench.predecessor --db FILE --api-url URL --token-url URL --client-id ID --client-secret SECRET
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import duckdb
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials

BATCH = 50


def pick_image(images: Sequence[dict[str, Any]] | None) -> str | None:
    """The guide's choice: the image whose height is 300, else the first one (640 px for artists)."""
    if not images:
        return None
    for image in images:
        if image.get("height") == 300:
            return str(image["url"])
    return str(images[0]["url"])


def _why(exc: Exception) -> str:
    if isinstance(exc, spotipy.SpotifyException):
        message = str(exc.msg)
        if message.startswith("http"):  # an answer from the server: "<url>:\n <message>"
            return f"HTTP {exc.http_status}"
        if "Max Retries" in message:  # urllib3 gave up retrying (429 or 5xx)
            return f"HTTP {exc.http_status}, retries exhausted"
        return "bad id, refused by spotipy before sending"  # "Unsupported URL / URI." and the like
    return type(exc).__name__


def _client(args: argparse.Namespace) -> spotipy.Spotify:
    # The in-memory token cache keeps spotipy from writing a .cache file; otherwise its defaults throughout.
    auth = SpotifyClientCredentials(args.client_id, args.client_secret, cache_handler=MemoryCacheHandler())
    auth.OAUTH_TOKEN_URL = args.token_url  # a class attribute in spotipy 2.26; an instance one shadows it
    sp = spotipy.Spotify(auth_manager=auth)
    sp.prefix = args.api_url.rstrip("/") + "/"
    return sp


def backfill_tracks(sp: spotipy.Spotify, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    uris = [
        row[0] for row in con.execute("SELECT spotify_track_uri FROM tracks WHERE album_image_url IS NULL").fetchall()
    ]
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    for start in range(0, len(uris), BATCH):
        batch = uris[start : start + BATCH]
        counts["calls"] += 1
        try:
            result = sp.tracks(batch)
        except Exception as exc:  # the script caught everything, printed it and went on
            counts["failed_batches"] += 1
            counts["failed"] += len(batch)
            errors[_why(exc)] += 1
            continue
        for uri, track in zip(batch, result["tracks"], strict=False):
            url = pick_image((track.get("album") or {}).get("images")) if track else None
            con.execute("UPDATE tracks SET album_image_url = ? WHERE spotify_track_uri = ?", [url, uri])
            counts["updated" if url else ("no_image" if track else "not_found")] += 1
    return {"rows": len(uris), **counts, "errors": dict(errors), "seconds": round(time.perf_counter() - started, 3)}


def backfill_artists(sp: spotipy.Spotify, con: duckdb.DuckDBPyConnection, pause: float) -> dict[str, Any]:
    rows = con.execute(
        "SELECT artist_name, spotify_artist_id FROM artists WHERE image_url IS NULL AND spotify_artist_id IS NOT NULL"
    ).fetchall()
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    for name, artist_id in rows:
        counts["calls"] += 1
        try:
            artist = sp.artist(artist_id)
        except Exception as exc:
            counts["failed"] += 1
            errors[_why(exc)] += 1
        else:
            url = pick_image(artist.get("images"))
            con.execute("UPDATE artists SET image_url = ? WHERE artist_name = ?", [url, name])
            counts["updated" if url else "no_image"] += 1
        time.sleep(pause)
    return {"rows": len(rows), **counts, "errors": dict(errors), "seconds": round(time.perf_counter() - started, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.predecessor", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--artist-pause", type=float, default=1.0, help="seconds slept after each artist call")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sp = _client(args)
    con = duckdb.connect(args.db)
    try:
        tracks = backfill_tracks(sp, con)
        artists = backfill_artists(sp, con, args.artist_pause)
    finally:
        con.close()
    print(
        json.dumps({"tracks": tracks, "artists": artists, "elapsed_seconds": round(time.perf_counter() - started, 3)})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
