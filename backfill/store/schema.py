"""The shape a run needs: the user's tables (checked, never altered) and the tool's own tables (`backfill_log`;
`backfill_journal` and `backfill_refreshed`, written by `run --refresh` and `set`; `backfill_waits`, by a long
Retry-After; `backfill_provenance`, by every write; `backfill_fallback_log`, by fallback providers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from backfill.errors import StoreError

LOG_TABLE = "backfill_log"
JOURNAL_TABLE = "backfill_journal"  # every image a refresh replaced: what `backfill undo` puts back
REFRESHED_TABLE = "backfill_refreshed"  # when a refresh last had an answer for an id: what --older-than reads
WAITS_TABLE = "backfill_waits"  # until when a source asked us to wait (the quota): a run before then skips it
PROVENANCE_TABLE = "backfill_provenance"  # who wrote each value backfill put into a row (backfill.store.provenance)
FALLBACK_LOG_TABLE = "backfill_fallback_log"  # a fallback provider's remembered misses (backfill.store.fallback)
REBUILT = "{name}_rebuilt"
# No key, no index, no constraint: DuckDB 2.0 writes index data that DuckDB 1.x cannot read, and the user's file
# must stay readable by the DuckDB that made it. Upserts are DELETE + INSERT in one transaction.
LOG_DDL = """CREATE TABLE {name} (
    kind VARCHAR,          -- 'track' or 'artist'
    spotify_id VARCHAR,
    outcome VARCHAR,       -- 'not_found' or 'no_image'
    checked_at TIMESTAMP   -- UTC
)"""
JOURNAL_DDL = """CREATE TABLE {name} (
    seq BIGINT,            -- order of the changes (max + 1: the file's lock serialises writers)
    run_id TIMESTAMP,      -- the refresh run that made it (its start, UTC)
    kind VARCHAR,          -- 'track' (row_key: spotify_track_uri) or 'artist' (row_key: artist_name)
    row_key VARCHAR,
    old_value VARCHAR,
    new_value VARCHAR,
    changed_at TIMESTAMP,  -- UTC
    undone_at TIMESTAMP    -- UTC; NULL while the change stands
)"""
REFRESHED_DDL = """CREATE TABLE {name} (
    kind VARCHAR,          -- 'track' or 'artist'
    spotify_id VARCHAR,
    checked_at TIMESTAMP   -- UTC
)"""
WAITS_DDL = """CREATE TABLE {name} (
    source VARCHAR,        -- 'api'
    resume_after TIMESTAMP, -- UTC: no request to that source before then
    quota BOOLEAN,         -- the wait was the daily quota's (429 QUOTA_EXCEEDED)
    noted_at TIMESTAMP     -- UTC
)"""
PROVENANCE_DDL = """CREATE TABLE {name} (
    kind VARCHAR,          -- 'track' (row_key: spotify_track_uri) or 'artist' (row_key: artist_name)
    row_key VARCHAR,
    value VARCHAR,         -- the value written: one row per (kind, row_key, value), its last writer
    source VARCHAR,        -- 'spotify', 'deezer', 'musicbrainz' or 'manual'
    provider_id VARCHAR,   -- the provider's id of what it matched (Spotify: the track or artist id)
    confirmed_by VARCHAR,  -- the history's evidence that confirmed a fallback's match
    written_at TIMESTAMP   -- UTC
)"""
FALLBACK_LOG_DDL = """CREATE TABLE {name} (
    provider VARCHAR,      -- 'deezer', 'musicbrainz'
    kind VARCHAR,          -- 'track' or 'artist'
    row_key VARCHAR,
    outcome VARCHAR,       -- 'not_found', 'no_image' or 'unconfirmed'
    candidates VARCHAR,    -- unconfirmed: the candidates found, joined with ' | '
    checked_at TIMESTAMP   -- UTC
)"""
OWN_DDL = {
    LOG_TABLE: LOG_DDL,
    JOURNAL_TABLE: JOURNAL_DDL,
    REFRESHED_TABLE: REFRESHED_DDL,
    WAITS_TABLE: WAITS_DDL,
    PROVENANCE_TABLE: PROVENANCE_DDL,
    FALLBACK_LOG_TABLE: FALLBACK_LOG_DDL,
}


@dataclass(frozen=True)
class Schema:
    has_artists: bool
    has_plays: bool
    has_primary_artist_id: bool
    has_album_grouping: bool
    has_log: bool
    log_repair: bool = False  # an own table has a key or index (an earlier version of this tool): rebuild it plain
    has_journal: bool = False
    has_refreshed: bool = False
    has_waits: bool = False
    has_provenance: bool = False
    has_fallback_log: bool = False
    has_track_names: bool = False  # tracks.track_name and tracks.primary_artist_name, as text
    has_album_name: bool = False  # tracks.album_name, as text
    has_play_names: bool = False  # plays.track_name and plays.album_name, as text (with has_plays)


_REQUIRED = {
    "tracks": ("spotify_track_uri", "album_image_url"),
    "artists": ("artist_name", "spotify_artist_id", "image_url"),
}
_TEXT = "VARCHAR"
_TIME = "TIMESTAMP"
_OWN_SHAPES = {
    LOG_TABLE: [("kind", _TEXT), ("spotify_id", _TEXT), ("outcome", _TEXT), ("checked_at", _TIME)],
    JOURNAL_TABLE: [("seq", "BIGINT"), ("run_id", _TIME), ("kind", _TEXT), ("row_key", _TEXT), ("old_value", _TEXT),
                    ("new_value", _TEXT), ("changed_at", _TIME), ("undone_at", _TIME)],
    REFRESHED_TABLE: [("kind", _TEXT), ("spotify_id", _TEXT), ("checked_at", _TIME)],
    WAITS_TABLE: [("source", _TEXT), ("resume_after", _TIME), ("quota", "BOOLEAN"), ("noted_at", _TIME)],
    PROVENANCE_TABLE: [("kind", _TEXT), ("row_key", _TEXT), ("value", _TEXT), ("source", _TEXT),
                       ("provider_id", _TEXT), ("confirmed_by", _TEXT), ("written_at", _TIME)],
    FALLBACK_LOG_TABLE: [("provider", _TEXT), ("kind", _TEXT), ("row_key", _TEXT), ("outcome", _TEXT),
                         ("candidates", _TEXT), ("checked_at", _TIME)],
}  # fmt: skip


def check_schema(con: duckdb.DuckDBPyConnection, need_artists: bool) -> Schema:
    """Everything a run reads or writes has the shape it needs, checked before any request (StoreError if not)."""
    here = "database_name = current_database() AND schema_name = 'main'"
    rows = con.execute(
        f"SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE {here} "
        "ORDER BY table_name, column_index"
    ).fetchall()
    tables = {t.lower() for (t,) in con.execute(f"SELECT table_name FROM duckdb_tables() WHERE {here}").fetchall()}
    views = {v.lower() for (v,) in con.execute(f"SELECT view_name FROM duckdb_views() WHERE {here}").fetchall()}
    columns: dict[str, dict[str, str]] = {}  # table -> column -> type, in column order
    for table, column, data_type in rows:
        if table.lower() in tables:
            columns.setdefault(table.lower(), {})[column.lower()] = data_type

    def text(table: str, *names: str) -> bool:
        return all(columns.get(table, {}).get(n) == _TEXT for n in names)

    for table in ("tracks", "artists") if need_artists else ("tracks",):
        if table in views:
            raise StoreError(f"'{table}' is a view, not a table: backfill fills in a table's columns")
        if table not in columns:
            raise StoreError(f"table '{table}' not found in the database: is this a spotify-wrapped history?")
        missing = [c for c in _REQUIRED[table] if c not in columns[table]]
        if missing:
            raise StoreError(f"table '{table}' has no column {', '.join(repr(c) for c in missing)}")
        for name in _REQUIRED[table]:
            if columns[table][name] != _TEXT:
                raise StoreError(
                    f"table '{table}': column '{name}' is {columns[table][name]}, not text (VARCHAR) as in a "
                    "spotify-wrapped history"
                )
    for name, shape in _OWN_SHAPES.items():
        if name in views:
            raise StoreError(f"'{name}' is a view, but that name is this tool's own table: rename or drop the view")
        own = columns.get(name)
        if own is not None and list(own.items()) != shape:
            found = ", ".join(f"{c} {t}" for c, t in own.items())
            wanted = ", ".join(f"{c} {t}" for c, t in shape)
            raise StoreError(f"table '{name}' ({found}) is not the one this tool keeps ({wanted}): rename or drop it")
    log = columns.get(LOG_TABLE)
    return Schema(
        has_artists=text("artists", *_REQUIRED["artists"]),
        has_plays=text("plays", "spotify_track_uri", "artist_name"),
        has_primary_artist_id=text("tracks", "primary_artist_id", "primary_artist_name"),
        has_album_grouping={"album_name", "primary_artist_name"} <= columns["tracks"].keys(),
        has_log=log is not None,
        log_repair=any(name in columns and _has_key_or_index(con, name) for name in _OWN_SHAPES),
        has_journal=JOURNAL_TABLE in columns,
        has_refreshed=REFRESHED_TABLE in columns,
        has_waits=WAITS_TABLE in columns,
        has_provenance=PROVENANCE_TABLE in columns,
        has_fallback_log=FALLBACK_LOG_TABLE in columns,
        has_track_names=text("tracks", "track_name", "primary_artist_name"),
        has_album_name=text("tracks", "album_name"),
        has_play_names=text("plays", "track_name", "album_name"),
    )


def _has_key_or_index(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    where = "WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?"
    keys = one(con, f"SELECT count(*) FROM duckdb_constraints() {where}", [name])
    indexes = one(con, f"SELECT count(*) FROM duckdb_indexes() {where}", [name])
    return bool(keys or indexes)


def repair_own_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the tables of ours that an earlier version of this tool made with a PRIMARY KEY as plain tables.

    That key's index, written by DuckDB 2.0, made the file unreadable for the DuckDB that created it (1.0,
    0.10); the rebuilt tables keep every row, and the file becomes readable there again.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        for name, shape in _OWN_SHAPES.items():
            if not _has_key_or_index(con, name):
                continue
            rebuilt = REBUILT.format(name=name)
            con.execute(OWN_DDL[name].format(name=rebuilt))
            con.execute(f"INSERT INTO {rebuilt} SELECT {', '.join(c for c, _ in shape)} FROM {name}")
            con.execute(f"DROP TABLE {name}")
            con.execute(f"ALTER TABLE {rebuilt} RENAME TO {name}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    assert row is not None
    return row if len(row) > 1 else row[0]
