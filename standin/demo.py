"""`backfill demo`: a sample history, the local emulator, the real backfill, then verify. No credentials."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from standin.deezer import DeezerConfig, DeezerEmulator
from standin.pictures import IMAGE_PATH, image_id
from standin.provider_world import ProviderWorld, ProviderWorldSpec, build_provider_world
from standin.sample import SampleSpec, World, build_world, write_history

DEMO_SEED = 7
# A table in every file the demo writes: the next demo replaces only a file that has it.
MARKER_TABLE = "backfill_demo"
DEMO_PORT = 8765  # fixed, so the database's image URLs work again when `make demo-images` serves them later
_CLIENT_ID = "demo-client-id"
_CLIENT_SECRET = "demo-client-secret"  # the emulator's, not a real secret


def _say(text: str) -> None:
    print(f"\n>>> {text}", flush=True)


def _not_replaceable(path: Path) -> str | None:
    """Why `path` must not be replaced (None: it does not exist, or an earlier demo wrote it)."""
    wal = path.with_name(path.name + ".wal")
    if not path.exists():
        return f"{wal} exists without its database" if wal.exists() else None
    if not path.is_file():
        return f"{path} exists and is not a file"
    with path.open("rb") as f:
        if f.read(12)[8:12] != b"DUCK":  # checked first: DuckDB would try to load extensions for other formats
            return f"{path} exists and is not a DuckDB file"
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return f"{path} exists and is not a demo database (or is in use)"
    try:
        found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [MARKER_TABLE]).fetchone()
    finally:
        con.close()
    return None if found and found[0] else f"{path} exists and was not made by `backfill demo`"


def _mark(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(f"CREATE TABLE {MARKER_TABLE} AS SELECT 'written by backfill demo' AS note, now() AS created_at")
    finally:
        con.close()


def _again(argv: Sequence[str]) -> str:
    """The command that started this demo, as the user typed it (near enough) to run it again."""
    words = list(argv)
    if "MAKELEVEL" in os.environ and words[:1] == ["demo"]:
        return "make demo" + (f" ARGS={shlex.quote(shlex.join(words[1:]))}" if words[1:] else "")
    prog = "python -m backfill" if sys.argv[0].endswith("__main__.py") else "backfill"
    return f"{prog} {shlex.join(words)}"


def _local_images(world: World, base: str) -> None:
    """Point the history's already-filled image URLs at the emulator too, so the whole page loads offline."""
    for table, column in ((world.tracks_table, "album_image_url"), (world.artists_table, "image_url")):
        table[column] = [f"{base}{IMAGE_PATH}{id_}" if url and (id_ := image_id(url)) else url for url in table[column]]


def _add_rows_spotify_cannot_fill(path: Path, world: ProviderWorld) -> int:
    """The provider world's tracks (ids Spotify answers 404 for) and artists (no Spotify id to be found), with
    plays enough to reach the Top lists: the run's Deezer fallback fills them, or leaves them empty when no
    candidate is confirmed. Returns how many tracks were added."""
    con = duckdb.connect(str(path))
    try:
        con.begin()
        known = {uri for (uri,) in con.execute("SELECT spotify_track_uri FROM tracks").fetchall()}
        rows = [r for r in world.history if r.uri not in known]
        con.executemany(
            "INSERT INTO tracks (spotify_track_uri, track_name, primary_artist_name, album_name) VALUES (?, ?, ?, ?)",
            [[r.uri, r.title, r.artist, r.album or None] for r in rows],
        )
        names = {name for (name,) in con.execute("SELECT artist_name FROM artists").fetchall()}
        con.executemany(
            "INSERT INTO artists (artist_name) VALUES (?)", [[n] for n in world.history_artists if n not in names]
        )
        start = dt.datetime(2025, 3, 1, 18)
        plays = [
            [start + dt.timedelta(days=i * 3 + j, hours=j % 5), r.title, r.artist, r.album or None, r.uri]
            for i, r in enumerate(rows)
            for j in range(6 + i % 7)  # 6-12 plays each: among the Top lists, not all of them
        ]
        con.execute("CREATE TEMP TABLE demo_plays (played TIMESTAMP, title TEXT, artist TEXT, album TEXT, uri TEXT)")
        con.executemany("INSERT INTO demo_plays VALUES (?, ?, ?, ?, ?)", plays)
        con.execute(
            "INSERT INTO plays SELECT played, 215000, title, artist, album, uri, played::DATE, year(played), "
            "month(played), strftime(played, '%Y-%m'), dayofweek(played), dayname(played), hour(played) FROM demo_plays"
        )
        con.commit()
    finally:
        con.close()
    return len(rows)


def run_demo(args: argparse.Namespace, argv: Sequence[str] = ("demo",)) -> int:
    """`backfill demo`; argv (the command line, without the program) is repeated in the closing line."""
    path = Path(args.db)
    html = path.with_suffix(".html")
    refusal = _not_replaceable(path)
    if refusal:
        print(f"backfill: error: {refusal}; the demo replaces only its own files: choose another --db", file=sys.stderr)
        return 2
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)  # an earlier demo's file (checked above): start afresh each time
    spec = SampleSpec(seed=DEMO_SEED, tracks=args.tracks, artists=args.artists, plays=args.plays)

    mode = "Extended Quota: batch endpoints allowed" if args.batch else "Development Mode: batch endpoints 403"
    _say(f"Starting the local Spotify emulator ({mode})")
    # --local-images: the emulator hands out image URLs on its own address (and serves the pictures there),
    # so the demo's page shows real pictures offline. A real run stores Spotify's CDN URLs, of course.
    emulator_cmd = [
        sys.executable, "-m", "standin", "--port", str(args.port), "--local-images",
        "--seed", str(DEMO_SEED), "--tracks", str(spec.tracks), "--artists", str(spec.artists),
        "--client-id", _CLIENT_ID, "--client-secret", _CLIENT_SECRET,
        "--latency", "0.03", "--latency-jitter", "0.5", "--error-rate", "0.01",
    ]  # fmt: skip
    if not args.batch:
        emulator_cmd.append("--dev-mode")
    emulator = subprocess.Popen(emulator_cmd, stdout=subprocess.PIPE, text=True)
    # Deezer's stand-in, for what Spotify cannot fill: its world's right answers are known, as Spotify's are.
    deezer = DeezerEmulator(build_provider_world(ProviderWorldSpec(filler=0)), DeezerConfig(local_images=True))
    try:
        assert emulator.stdout is not None
        line = emulator.stdout.readline().strip()
        if not line.startswith("emulator listening on "):
            hint = f"; is port {args.port} in use? pass --port" if args.port else ""
            print(f"backfill: error: the emulator did not start ({line or 'no output'}{hint})", file=sys.stderr)
            return 2
        base = line.removeprefix("emulator listening on ")
        world = build_world(spec)
        _local_images(world, base)
        tracks, artists = len(world.tracks_table["spotify_track_uri"]), len(world.artists_table["artist_name"])
        _say(f"Writing a sample listening history to {path} ({tracks:,} tracks, {artists:,} artists)")
        write_history(world, path)
        _mark(path)
        fallback = []
        if not args.no_fallback:
            deezer.start_in_thread(port=args.port + 1 if args.port else 0)  # beside Spotify's, for demo-images
            added = _add_rows_spotify_cannot_fill(path, deezer.world)
            _say(
                f"Adding {added} tracks that Spotify does not know, and their artists; "
                f"a Deezer stand-in at {deezer.base_url}"
            )
            fallback = ["--fallback", "deezer"]
        # No credentials: the default source is then oEmbed, which needs no developer app and no quota. Set
        # empty, not removed: the environment wins over a .env, which would otherwise bring the user's own.
        env = {
            **os.environ,
            "SPOTIFY_CLIENT_ID": "",
            "SPOTIFY_CLIENT_SECRET": "",
            "SPOTIFY_API_URL": f"{base}/v1",
            "SPOTIFY_TOKEN_URL": f"{base}/api/token",
            "SPOTIFY_OEMBED_URL": f"{base}/oembed",
            "DEEZER_API_URL": deezer.base_url or "http://127.0.0.1:9",  # never the real Deezer
            "BACKFILL_FALLBACK": "",  # the user's own .env says nothing here either
            "BACKFILL_DB": str(path),
            "NO_PROXY": "127.0.0.1,localhost",  # the emulator is local, whatever proxy is set
            "no_proxy": "127.0.0.1,localhost",
        }
        backfill = [sys.executable, "-m", "backfill"]
        then = (
            "; then Deezer is asked only for what Spotify could not fill, and its picture is kept only when "
            "the history confirms the match"
        )
        _say(
            f"backfill run --oembed-rate {args.rate:g} {' '.join(fallback)}  (against {base}, with no credentials: "
            "Spotify's images come from oEmbed, which needs no developer app and spends no Web API quota"
            f"{then if fallback else ''})"
        )
        run = [*backfill, "run", "--rate", str(args.rate), "--oembed-rate", str(args.rate), *fallback]
        code = subprocess.run(run, env=env, check=False).returncode
        # --embed-images: the page carries its pictures, fetched while the emulator still serves them, so it
        # shows them after the demo; the database keeps the emulator's URLs, as a real run keeps Spotify's.
        _say(f"backfill verify --html {html} --embed-images")
        subprocess.run([*backfill, "verify", "--html", str(html), "--embed-images"], env=env, check=False)
        if args.port == DEMO_PORT and "MAKELEVEL" in os.environ:
            again = "`make demo-images` serves them again"
        elif args.port:
            again = f"`python -m standin --port {args.port} --local-images` serves them again"
            if fallback:
                again += f" (and `python -m standin.deezer --port {args.port + 1} --local-images --filler 0` Deezer's)"
        else:
            again = "pass --port to the demo to be able to serve them again"
        hosts = f"{base} and {deezer.base_url}" if fallback else base
        _say(
            f"Done (run exited {code}). The page: {html.resolve()}\n"
            "    Open it in a browser: its pictures are inside it, so it needs no server.\n"
            f"    The database's image URLs name the stand-ins at {hosts}, which stop now; {again} "
            "(e.g. for your dashboard).\n"
            f"    Run `{_again(argv)}` again to start over; `make test` runs the tests."
        )
        return code
    finally:
        deezer.stop_thread()
        emulator.terminate()
        emulator.wait(timeout=10)
