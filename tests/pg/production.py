"""The dashboard's production Postgres as the predecessor's `scripts/sync_to_postgres.py` keeps it.

That script DROPs `plays`, `tracks`, `artists` and `genre_mappings`, recreates them (VARCHAR, INTEGER,
BIGINT, BOOLEAN, DATE and TIMESTAMP columns with DuckDB's names; primary keys `tracks.spotify_track_uri`,
`artists.artist_name`, `genre_mappings.subgenre`; its indexes), commits, then COPYs every row of every table,
committing after each. Tests use `full_resync` to build the Postgres a user has before `backfill sync`; the
bench times it as the predecessor's way of publishing new images:

    python -m tests.pg.production HISTORY.duckdb POSTGRES_URL   # prints rows copied and time, as JSON

Sample histories have no `genre_mappings` table: its rows then come from the artists' genres, as the
predecessor's `seed_genre_mappings.py` derives them (every subgenre mapped to one broad genre here).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb

TABLES = ("plays", "tracks", "artists", "genre_mappings")
PRIMARY_KEYS = {"tracks": "spotify_track_uri", "artists": "artist_name", "genre_mappings": "subgenre"}
INDEXES = (  # the predecessor's
    "CREATE INDEX idx_plays_year_month ON plays(year_month)",
    "CREATE INDEX idx_plays_date ON plays(date)",
    "CREATE INDEX idx_tracks_release_year ON tracks(release_year)",
    "CREATE INDEX idx_tracks_release_decade ON tracks(release_decade)",
)
_PG_TYPES = {"VARCHAR": "VARCHAR", "INTEGER": "INTEGER", "BIGINT": "BIGINT", "BOOLEAN": "BOOLEAN"}
_PG_TYPES |= {"DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "DOUBLE": "DOUBLE PRECISION"}
GENRE_MAPPINGS_DDL = """CREATE TABLE genre_mappings (
    subgenre VARCHAR PRIMARY KEY,
    broad_genre VARCHAR NOT NULL,
    confidence VARCHAR,
    notes VARCHAR,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)"""
_DERIVED_GENRES = """
    SELECT DISTINCT trim(g) AS subgenre, 'Other' AS broad_genre, 'low' AS confidence, NULL::VARCHAR AS notes,
           TIMESTAMP '2025-06-01 12:00:00' AS created_at
    FROM (SELECT unnest(string_split(genres, ',')) AS g FROM artists WHERE genres IS NOT NULL)
    WHERE trim(g) <> '' ORDER BY 1"""


def _columns(duck: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(str(name), str(kind)) for name, kind, *_ in duck.execute(f"DESCRIBE {table}").fetchall()]


def _has_table(duck: duckdb.DuckDBPyConnection, table: str) -> bool:
    sql = "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name = ?"
    row = duck.execute(sql, [table]).fetchone()
    return bool(row and row[0])


def create_table_sql(duck: duckdb.DuckDBPyConnection, table: str) -> str:
    if table == "genre_mappings":
        return GENRE_MAPPINGS_DDL
    columns = []
    for name, kind in _columns(duck, table):
        pk = " PRIMARY KEY" if PRIMARY_KEYS.get(table) == name else ""
        columns.append(f"{name} {_PG_TYPES.get(kind, 'VARCHAR')}{pk}")
    return f"CREATE TABLE {table} (\n    " + ",\n    ".join(columns) + "\n)"


def source_query(duck: duckdb.DuckDBPyConnection, table: str) -> tuple[str, list[str]]:
    """The DuckDB query for every row of `table` and its column names (genre_mappings: derived if absent)."""
    if table == "genre_mappings" and not _has_table(duck, table):
        return _DERIVED_GENRES, ["subgenre", "broad_genre", "confidence", "notes", "created_at"]
    return f"SELECT * FROM {table}", [name for name, _ in _columns(duck, table)]


def full_resync(
    duckdb_path: Path,
    pg: Any,
    *,
    tables: tuple[str, ...] = TABLES,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """The predecessor's sync: DROP and CREATE every table (one commit), then COPY each (a commit each).

    `pg` is an open psycopg connection (autocommit off). Returns the rows copied per table. `on_step`
    hears "schema" and each table name as each commit happens (the bench times them).
    """
    duck = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        for table in reversed(tables):
            pg.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        for table in tables:
            pg.execute(create_table_sql(duck, table))
        for index in INDEXES:
            if index.split(" ON ")[1].split("(")[0] in tables:
                pg.execute(index)
        pg.commit()
        if on_step:
            on_step("schema")
        copied: dict[str, int] = {}
        for table in tables:
            sql, names = source_query(duck, table)
            result = duck.execute(sql)
            n = 0
            with pg.cursor().copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                while batch := result.fetchmany(50_000):
                    for row in batch:
                        copy.write_row(row)
                    n += len(batch)
            pg.commit()
            copied[table] = n
            if on_step:
                on_step(table)
        return copied
    finally:
        duck.close()


def main(argv: Sequence[str] | None = None) -> int:
    import psycopg  # a dev dependency, like this stand-in

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m tests.pg.production HISTORY.duckdb POSTGRES_URL", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with psycopg.connect(args[1]) as pg:
        copied = full_resync(Path(args[0]), pg)
    print(json.dumps({"rows": copied, "elapsed_seconds": round(time.perf_counter() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
