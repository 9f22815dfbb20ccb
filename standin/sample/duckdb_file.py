"""Writing a sample world's history as a new DuckDB file: `tracks`, `artists` and a generated `plays`.

The file is written in storage version v1.0.0, what DuckDB 1.0 to 1.5 write by default: DuckDB 2.0's own
default (v2.0.0+) cannot be opened by the dashboard's DuckDB 1.4. With `SampleSpec.dashboard_schema`, the file
also has what the dashboard's own scripts add to a real history: five secondary indexes, `audio_features`,
`genre_mappings`, and `tracks.primary_artist_id` added by ALTER TABLE after the rows were in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from standin.sample.world import Columns, World

STORAGE_VERSION = "v1.0.0"  # readable by every DuckDB from 1.0 on
_CHUNK_ROWS = 100_000
_SEP, _NULL = "\x1f", "\x1e"  # packing columns into one string: far cheaper to hand to DuckDB than a list

# The primary key is added once the rows are in: a million rows load ~25% faster than into an indexed table.
_TRACKS_DDL = """CREATE TABLE tracks (
    spotify_track_uri TEXT NOT NULL,
    track_name TEXT NOT NULL,
    primary_artist_name TEXT NOT NULL,
    album_name TEXT,
    album_image_url TEXT,
    release_date TEXT,
    release_year INT,
    release_decade TEXT,
    popularity INT,
    duration_ms INT,
    explicit BOOLEAN,
    enriched_at TIMESTAMP{extra}
)"""
_ARTISTS_DDL = """CREATE TABLE artists (
    artist_name TEXT PRIMARY KEY,
    genres TEXT,
    popularity INT,
    followers INT,
    spotify_artist_id TEXT,
    image_url TEXT,
    enriched_at TIMESTAMP
)"""
_PLAYS_DDL = """CREATE TABLE plays (
    played_at TIMESTAMP,
    ms_played BIGINT,
    track_name TEXT,
    artist_name TEXT,
    album_name TEXT,
    spotify_track_uri TEXT,
    date DATE,
    year INT,
    month INT,
    year_month VARCHAR,
    dow INT,
    dow_name VARCHAR,
    hour INT
)"""
_DASHBOARD_INDEXES = (
    "CREATE INDEX idx_plays_year_month ON plays(year_month)",
    "CREATE INDEX idx_plays_date ON plays(date)",
    "CREATE INDEX idx_tracks_release_year ON tracks(release_year)",
    "CREATE INDEX idx_tracks_release_decade ON tracks(release_decade)",
    "CREATE INDEX idx_artists_genres ON artists(genres)",
)
_AUDIO_FEATURES_DDL = """CREATE TABLE audio_features (
    spotify_track_uri TEXT PRIMARY KEY,
    danceability FLOAT, energy FLOAT, valence FLOAT, tempo FLOAT, acousticness FLOAT, instrumentalness FLOAT,
    speechiness FLOAT, loudness FLOAT, key INTEGER, mode INTEGER, time_signature INTEGER
)"""
_GENRE_MAPPINGS_DDL = """CREATE TABLE genre_mappings (
    subgenre TEXT PRIMARY KEY,
    broad_genre TEXT NOT NULL,
    confidence TEXT,
    notes TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)"""
# Features for about a third of the valid track URIs, derived from the URI so a seed gives the same file.
_AUDIO_FEATURES_SQL = """
INSERT INTO audio_features
SELECT spotify_track_uri, (h % 1000) / 1000.0, (h // 1000 % 1000) / 1000.0, (h // 1000000 % 1000) / 1000.0,
       60 + h % 140, (h // 7 % 1000) / 1000.0, (h // 11 % 1000) / 1000.0, (h // 13 % 1000) / 1000.0,
       -((h % 30)::INTEGER), (h % 12)::INTEGER, (h % 2)::INTEGER, (3 + h % 3)::INTEGER
FROM (SELECT spotify_track_uri, hash(spotify_track_uri) // 7 AS h FROM tracks
      WHERE spotify_track_uri LIKE 'spotify:track:%' AND hash(spotify_track_uri) % 3 = 0)
"""
_GENRE_MAPPINGS_SQL = """
INSERT INTO genre_mappings (subgenre, broad_genre, confidence, notes, created_at)
SELECT DISTINCT trim(g), 'Other', 'low', NULL, TIMESTAMP '2025-06-01 12:00:00'
FROM (SELECT unnest(string_split(genres, ',')) AS g FROM artists WHERE genres IS NOT NULL)
WHERE trim(g) <> ''
"""

# How each packed column turns back into its type; epoch seconds become TIMESTAMP without any time zone.
_CASTS = {
    "release_year": "{}::INT",
    "popularity": "{}::INT",
    "followers": "{}::INT",
    "duration_ms": "{}::INT",
    "explicit": "{}::BOOLEAN",
    "enriched_at": "make_timestamp({}::BIGINT * 1000000)",
}


def _pack(values: list[Any]) -> str:
    return _SEP.join(_NULL if v is None else str(v) for v in values)


def _bulk_insert(con: duckdb.DuckDBPyConnection, table: str, columns: Columns) -> None:
    """Set-based load: each chunk's columns travel as one string apiece and are split apart in SQL."""
    names = list(columns)
    # Unnest in a subquery and convert outside it: twice as fast as functions wrapped around unnest().
    split = ", ".join(f"unnest(string_split(${i}, chr({ord(_SEP)}))) AS c{i}" for i in range(1, len(names) + 1))
    convert = ", ".join(
        _CASTS.get(name, "{}").format(f"nullif(c{i}, chr({ord(_NULL)}))") for i, name in enumerate(names, start=1)
    )
    sql = f"INSERT INTO {table} ({', '.join(names)}) SELECT {convert} FROM (SELECT {split})"
    total = len(columns[names[0]])
    for start in range(0, total, _CHUNK_ROWS):
        con.execute(sql, [_pack(columns[n][start : start + _CHUNK_ROWS]) for n in names])


def _uniform(salt: int) -> str:
    """A deterministic uniform [0, 1) draw per play row (DuckDB's random() cannot be seeded per thread)."""
    return f"(hash(i, $seed, {salt}) / 18446744073709551616.0)"


# Hours of the day, weighted: evenings busy, small hours quiet.
_HOURS = [
    h for h, w in enumerate((3, 2, 1, 1, 1, 1, 2, 4, 6, 6, 5, 5, 6, 6, 5, 5, 6, 7, 8, 9, 9, 8, 6, 4)) for _ in range(w)
]
_PLAYS_SQL = f"""
INSERT INTO plays
WITH ranked AS (
    -- Popularity order of the tracks: a hash of the URI, so it does not follow table order.
    SELECT row_number() OVER (ORDER BY hash(spotify_track_uri, $seed), spotify_track_uri) - 1 AS rank,
           spotify_track_uri, track_name, primary_artist_name, album_name, duration_ms
    FROM tracks
), draws AS (
    -- Each track once (its row exists because it was played), then Zipf-like: rank ~ e^(u·ln n).
    SELECT i,
           CASE WHEN i < $once THEN i
                ELSE least(floor(exp({_uniform(1)} * ln($tracks + 1)))::BIGINT - 1, $tracks - 1) END AS rank,
           TIMESTAMP '2024-01-01' + to_seconds((
               floor({_uniform(2)} * 731)::BIGINT * 86400
               + $hours[1 + floor({_uniform(3)} * len($hours))::BIGINT] * 3600
               + floor({_uniform(4)} * 3600)::BIGINT)) AS played_at,
           {_uniform(5)} AS u_full, {_uniform(6)} AS u_part
    FROM range($n) t(i)
), joined AS (
    SELECT d.played_at, coalesce(r.duration_ms, 180000) AS duration,
           d.u_full, d.u_part, r.track_name, r.primary_artist_name, r.album_name, r.spotify_track_uri
    FROM draws d JOIN ranked r USING (rank)
)
SELECT played_at,
       -- The predecessor kept plays of 30 s or more: mostly whole tracks, some stopped part way.
       CASE WHEN u_full < 0.7 OR duration <= 30000 THEN greatest(duration - floor(u_part * 4000)::BIGINT, 30000)
            ELSE 30000 + floor(u_part * (duration - 30000))::BIGINT END,
       track_name, primary_artist_name, album_name, spotify_track_uri,
       played_at::DATE, year(played_at), month(played_at), strftime(played_at, '%Y-%m'),
       dayofweek(played_at), dayname(played_at), hour(played_at)
FROM joined
"""
_NULL_PLAYS_SQL = f"""
INSERT INTO plays
SELECT played_at, 30000 + floor({_uniform(8)} * 1800000)::BIGINT, 'Unknown Track', 'Unknown Artist', NULL, NULL,
       played_at::DATE, year(played_at), month(played_at), strftime(played_at, '%Y-%m'),
       dayofweek(played_at), dayname(played_at), hour(played_at)
FROM (SELECT i, TIMESTAMP '2024-01-01' + to_seconds(floor({_uniform(7)} * 731 * 86400)::BIGINT) AS played_at
      FROM range($n) t(i))
"""


def write_history(world: World, path: str | os.PathLike[str]) -> None:
    """Write the world's history as a NEW DuckDB file: plays (unless spec.plays == 0), tracks, artists."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; the sample never replaces a file")
    con = duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        _write(con, world)
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)  # ours, half-written: never leave a partial history behind
        raise
    con.close()


def _write(con: duckdb.DuckDBPyConnection, world: World) -> None:
    spec = world.spec
    late = spec.dashboard_schema and not spec.old_schema  # primary_artist_id comes by ALTER TABLE, later
    extra = "" if spec.old_schema or late else ",\n    primary_artist_id VARCHAR"
    con.execute(_TRACKS_DDL.format(extra=extra))
    con.execute(_ARTISTS_DDL)
    tracks = {k: v for k, v in world.tracks_table.items() if not late or k != "primary_artist_id"}
    _bulk_insert(con, "tracks", tracks)
    con.execute("ALTER TABLE tracks ADD PRIMARY KEY (spotify_track_uri)")
    _bulk_insert(con, "artists", world.artists_table)
    if spec.play_count:
        _write_plays(con, world)
    if spec.dashboard_schema:
        _add_dashboard_schema(con, world, late)


def _add_dashboard_schema(con: duckdb.DuckDBPyConnection, world: World, late: bool) -> None:
    """What the dashboard's scripts add to a history after building it (the column first: DuckDB 0.10 refuses an
    ALTER TABLE on a table that has secondary indexes)."""
    if late:
        con.execute("ALTER TABLE tracks ADD COLUMN primary_artist_id VARCHAR")
        con.execute("CREATE TEMP TABLE late_ids (spotify_track_uri TEXT, primary_artist_id TEXT)")
        keep = ("spotify_track_uri", "primary_artist_id")
        _bulk_insert(con, "late_ids", {k: world.tracks_table[k] for k in keep})
        con.execute(
            "UPDATE tracks SET primary_artist_id = l.primary_artist_id FROM late_ids l "
            "WHERE tracks.spotify_track_uri = l.spotify_track_uri"
        )
        con.execute("DROP TABLE late_ids")
    for statement in _DASHBOARD_INDEXES:
        if world.spec.play_count or "ON plays" not in statement:
            con.execute(statement)
    con.execute(_AUDIO_FEATURES_DDL)
    con.execute(_AUDIO_FEATURES_SQL)
    con.execute(_GENRE_MAPPINGS_DDL)
    con.execute(_GENRE_MAPPINGS_SQL)


def _write_plays(con: duckdb.DuckDBPyConnection, world: World) -> None:
    spec = world.spec
    con.execute(_PLAYS_DDL)
    n_tracks = len(world.tracks_table["spotify_track_uri"])
    n = max(0, spec.play_count - world.null_uri_plays)
    params = {"seed": spec.seed, "tracks": n_tracks, "once": n_tracks if n >= n_tracks else 0}
    con.execute(_PLAYS_SQL, {**params, "n": n, "hours": _HOURS})
    con.execute(_NULL_PLAYS_SQL, {"seed": spec.seed, "n": spec.play_count - n})
