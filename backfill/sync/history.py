"""The DuckDB side of sync: the keys with a value to offer, with their digests, in one short read-only session."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import duckdb

from backfill.sync.digests import Row, duckdb_record
from backfill.sync.model import TARGETS, SyncError, require
from backfill.terminal import first_line

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<prog>.+?) \(PID (?P<pid>\d+)\)")
History = dict[str, list[Row]]  # table -> rows with any value


def read_history(path: Path) -> History:
    """Per table, the rows with any value: (key, value per column, key digest, rest of the record)."""
    if not path.is_file():
        raise SyncError(f"database not found: {path} (set BACKFILL_DB or pass --db)")
    # No extension is fetched or loaded behind our back: this reads two plain tables.
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    try:
        con = duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower():
            holder = _LOCK_HOLDER.search(text)
            who = f" (PID {holder['pid']}: {holder['prog']})" if holder else ""
            raise SyncError(f"database {path} is locked by another process{who}; close it and try again") from None
        raise SyncError(f"cannot open database {path}: {first_line(exc)}") from None
    try:
        rows: History = {}
        for target in TARGETS:
            names = [f"v{i}" for i in range(len(target.columns))]
            values = ", ".join(f"any_value({c}) AS {v}" for c, v in zip(target.columns, names, strict=True))
            has_any = " OR ".join(f"{c} IS NOT NULL" for c in target.columns)
            key_digest, record = duckdb_record("k", names)
            # any_value skips NULLs; a key on two rows (the history allows it) offers one value per column.
            rows[target.table] = con.execute(
                f"SELECT k, {', '.join(names)}, {key_digest}, {record} FROM (SELECT {target.key} AS k, {values} "
                f"FROM {target.table} WHERE {target.key} IS NOT NULL AND ({has_any}) GROUP BY {target.key})"
            ).fetchall()
        return rows
    except duckdb.Error as exc:
        _check_columns(con, path)  # a missing table or column: say which
        raise SyncError(f"cannot read database {path}: {first_line(exc)}") from None
    finally:
        con.close()


def _check_columns(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    with contextlib.suppress(duckdb.Error):
        have = con.execute(
            "SELECT lower(table_name), lower(column_name) FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
        require({(t, c) for t, c in have}, f"database {path}")
