"""The DuckDB side of sync: the keys with a value to offer, with their digests, in one short read-only session."""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

from backfill.attach import Attachment
from backfill.dbfile import sniff
from backfill.sync.digests import Row, duckdb_record
from backfill.sync.model import TARGETS, SyncError, require
from backfill.terminal import first_line

History = dict[str, list[Row]]  # table -> rows with any value


def read_history(path: Path, *, lock_timeout: float = 0.0) -> History:
    """Per table, the rows with any value: (key, value per column, key digest, rest of the record)."""
    # The opener of every command: the header checked first (an SQLite file is named as such), no extension
    # fetched or loaded, and DuckDB's own errors (a lock, a version) in one line. Its errors are StoreErrors.
    link = Attachment(path, sniff(path), lock_timeout=lock_timeout)
    try:
        link.attach("read")
    except BaseException:
        link.close()
        raise
    con = link.con
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
        link.close()


def _check_columns(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    with contextlib.suppress(duckdb.Error):
        have = con.execute(
            "SELECT lower(table_name), lower(column_name) FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
        require({(t, c) for t, c in have}, f"database {path}")
