"""Run by an older DuckDB's virtualenv (only `duckdb` installed there), for tests/store/test_compat.py.

    python old_duckdb.py write PATH SEED TRACKS ARTISTS PLAYS [--dashboard-schema]   # the sample, as it writes it
    python old_duckdb.py dump PATH                              # every table, as that DuckDB reads it (JSON)
    python old_duckdb.py sql PATH STATEMENT...                  # a file of one's own

It imports standin.sample without the emulator package's __init__ (which needs aiohttp). DuckDB
before 1.2 cannot add a primary key with ALTER TABLE, so tracks gets its key inline, as the predecessor did.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def write(path: str, seed: int, tracks: int, artists: int, plays: int, dashboard_schema: bool = False) -> None:
    sys.path.insert(0, str(ROOT))
    package = types.ModuleType("standin")
    package.__path__ = [str(ROOT / "standin")]  # type: ignore[attr-defined]
    sys.modules["standin"] = package
    from standin import sample
    from standin.sample import duckdb_file  # where the history is written

    duckdb_file._TRACKS_DDL = duckdb_file._TRACKS_DDL.replace(
        "spotify_track_uri TEXT NOT NULL", "spotify_track_uri TEXT PRIMARY KEY"
    )
    connect = duckdb.connect

    class Connection:
        def __init__(self, con: Any) -> None:
            self._con = con

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith("ALTER TABLE tracks ADD PRIMARY KEY"):
                return None  # already declared inline
            return self._con.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._con, name)

    # In that DuckDB's own default storage version, as a history made by it is (no storage setting).
    duckdb_file.duckdb = types.SimpleNamespace(connect=lambda path, **_: Connection(connect(path)))  # type: ignore[assignment]
    spec = sample.SampleSpec(seed=seed, tracks=tracks, artists=artists, plays=plays, dashboard_schema=dashboard_schema)
    sample.write_history(sample.build_world(spec), path)


def dump(path: str) -> dict[str, Any]:
    con = duckdb.connect(path, read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        out: dict[str, Any] = {"version": duckdb.__version__}
        for name in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [name]
                ).fetchall()
            ]
            rows = con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()
            out[name] = {"columns": columns, "rows": [[None if v is None else str(v) for v in r] for r in rows]}
        return out
    finally:
        con.close()


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], *map(int, sys.argv[3:7]), dashboard_schema="--dashboard-schema" in sys.argv[7:])
    elif sys.argv[1] == "sql":
        with duckdb.connect(sys.argv[2]) as con:
            for statement in sys.argv[3:]:
                con.execute(statement)
    else:
        json.dump(dump(sys.argv[2]), sys.stdout)
