"""`backfill sync`: push the images the DuckDB history has and production Postgres lacks.

Rules this module keeps:
- Only NULL Postgres values are filled: `tracks.album_image_url`, `artists.image_url` and
  `artists.spotify_artist_id`, matched on `spotify_track_uri` / `artist_name`. No row is inserted or deleted,
  no other column changes, and a value already set (by anyone) stays as it is.
- One transaction: the DuckDB values are COPYed into TEMP tables, then one guarded, set-based
  `UPDATE … FROM` per table. Readers of production see the state before or after it, never a table missing
  or half updated. It runs at REPEATABLE READ, so the counts reported are exactly what the UPDATEs did (a
  concurrent writer to the same rows makes it fail and roll back instead).
- Every check (both schemas, privileges) runs before the first write; any error rolls back: nothing changed.
- The DuckDB file is opened read-only and closed again before Postgres is contacted.
- A password in a URL is never printed: every message carries `mask_url(url)` and is scrubbed.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from backfill.pgurl import mask_url, scrub

if TYPE_CHECKING:
    import psycopg

INSTALL_HINT = "psycopg is not installed; sync needs it: pip install 'backfill[postgres]'"
DEFAULT_CONNECT_TIMEOUT = 10
LOCK_TIMEOUT = "60s"  # a table locked by someone else (e.g. a full re-sync running): give up, don't hang


class SyncError(Exception):
    """Sync cannot go on; the one-line message says why (with the URL masked). Postgres is unchanged."""


@dataclass(frozen=True)
class Target:
    table: str
    key: str
    columns: tuple[str, ...]


TARGETS = (
    Target("tracks", "spotify_track_uri", ("album_image_url",)),
    Target("artists", "artist_name", ("image_url", "spotify_artist_id")),
)


@dataclass
class ColumnCounts:
    pushed: int = 0  # Postgres had NULL, now has the DuckDB value (in a dry run: would have)
    already_set: int = 0  # Postgres already had the same value
    differing: int = 0  # both set, to different values: counted, never changed
    missing_in_postgres: int = 0  # DuckDB has a value for a key Postgres has no row for


@dataclass
class SyncReport:
    postgres: str  # the URL, masked
    db_path: str
    dry_run: bool
    columns: dict[str, dict[str, ColumnCounts]] = field(default_factory=dict)  # table -> column -> counts
    rows_updated: dict[str, int] = field(default_factory=dict)  # table -> rows the UPDATE changed
    elapsed: float = 0.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


# -- DuckDB: what the history has -------------------------------------------------------------------------

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<prog>.+?) \(PID (?P<pid>\d+)\)")
DuckRows = dict[str, list[tuple[str, ...]]]  # table -> (key, value per column), for rows with any value


def read_history(path: Path) -> DuckRows:
    """The keys with an image (or artist id) in the history, read in one short read-only session."""
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
        raise SyncError(f"cannot open database {path}: {_first_line(exc)}") from None
    try:
        have = con.execute(
            "SELECT lower(table_name), lower(column_name) FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
        _require({(t, c) for t, c in have}, f"database {path}")
        rows: DuckRows = {}
        for target in TARGETS:
            values = ", ".join(f"any_value({c})" for c in target.columns)
            has_any = " OR ".join(f"{c} IS NOT NULL" for c in target.columns)
            rows[target.table] = con.execute(
                f"SELECT {target.key}, {values} FROM {target.table} "
                f"WHERE {target.key} IS NOT NULL AND ({has_any}) GROUP BY {target.key}"
            ).fetchall()
        return rows
    except duckdb.Error as exc:
        raise SyncError(f"cannot read database {path}: {_first_line(exc)}") from None
    finally:
        con.close()


def _require(have: set[tuple[str, str]], where: str) -> None:
    tables = {t for t, _ in have}
    for target in TARGETS:
        if target.table not in tables:
            raise SyncError(f"table '{target.table}' not found in {where}")
        for column in (target.key, *target.columns):
            if (target.table, column) not in have:
                raise SyncError(f"table '{target.table}' has no column '{column}' in {where}")


# -- Postgres ----------------------------------------------------------------------------------------------


def import_psycopg() -> Any:
    try:
        return importlib.import_module("psycopg")
    except ImportError:
        raise SyncError(INSTALL_HINT) from None


def connect(url: str, timeout: int) -> psycopg.Connection[Any]:
    """In autocommit mode: sync writes BEGIN itself, so that its first statements share one round trip."""
    pg = import_psycopg()
    where = mask_url(url)
    try:
        return pg.connect(url, connect_timeout=timeout, autocommit=True)
    except pg.OperationalError as exc:
        text = _first_line(exc).removeprefix("connection failed: ")
        if "authentication failed" in text or getattr(exc, "sqlstate", None) in ("28P01", "28000"):
            raise SyncError(f"Postgres rejected the credentials for {where}") from None
        if "timeout" in text.lower():
            raise SyncError(f"no answer from Postgres at {where} within {timeout} s (--connect-timeout)") from None
        raise SyncError(scrub(f"cannot connect to Postgres at {where}: {text}", url)) from None
    except pg.Error as exc:  # e.g. a malformed URL
        raise SyncError(scrub(f"cannot use the Postgres URL {where}: {_first_line(exc)}", url)) from None


def sync(
    db_path: Path, url: str, *, dry_run: bool = False, connect_timeout: int = DEFAULT_CONNECT_TIMEOUT
) -> SyncReport:
    """Push what DuckDB has and Postgres lacks (or, with dry_run, only count it in a read-only transaction).

    Round trips matter more than bytes to a hosted Postgres: about a dozen in all (connecting, one batch that
    begins and checks, two COPYs, one statement per table that counts and updates, COMMIT).
    """
    pg = import_psycopg()  # before anything else: without it there is nothing to do
    started = time.monotonic()
    report = SyncReport(mask_url(url), str(db_path), dry_run)
    rows = read_history(db_path)  # DuckDB is closed again before Postgres is contacted
    con = connect(url, connect_timeout)
    try:
        try:
            _begin(con, report.postgres, dry_run)
            for target in TARGETS:
                if not dry_run:
                    _upload(con, target, rows[target.table])
                report.columns[target.table], report.rows_updated[target.table] = _push(con, target, rows, dry_run)
            con.execute("COMMIT")
        except pg.Error as exc:
            _rollback(pg, con)
            raise SyncError(scrub(_postgres_failure(pg, exc, report.postgres), url)) from None
        except BaseException:
            _rollback(pg, con)
            raise
    finally:
        con.close()
    report.elapsed = time.monotonic() - started
    return report


def _rollback(pg: Any, con: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(pg.Error):  # a broken connection rolls back by itself
        con.execute("ROLLBACK")


def _temp(target: Target) -> str:
    return f"backfill_sync_{target.table}"


def _values(target: Target) -> list[str]:
    return [f"v{i}" for i in range(len(target.columns))]


def _begin(con: psycopg.Connection[Any], where: str, dry_run: bool) -> None:
    """Begin, and check that both tables and all five columns exist (as unqualified names resolve) and that we
    may update them, before any write. A dry run is READ ONLY; a real one asks for nothing more than the
    server's default, so a role an admin made read-only stays so (its first write fails, and all rolls back)."""
    names = ", ".join(f"'{t.table}'" for t in TARGETS)
    temps = "".join(
        f"; CREATE TEMP TABLE {_temp(t)} (k text, {', '.join(f'{v} text' for v in _values(t))}) ON COMMIT DROP"
        for t in TARGETS
        if not dry_run
    )
    cur = con.execute(
        f"BEGIN ISOLATION LEVEL REPEATABLE READ{' READ ONLY' if dry_run else ''}; "
        f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; "
        "SELECT t.name, a.attname, has_column_privilege(a.attrelid, a.attnum, 'UPDATE'), current_user "
        f"FROM unnest(ARRAY[{names}]) AS t(name) LEFT JOIN pg_attribute a "
        f"ON a.attrelid = to_regclass(t.name) AND a.attnum > 0 AND NOT a.attisdropped{temps}"
    )
    while cur.description is None and cur.nextset():
        pass  # to the SELECT's result
    found = cur.fetchall()
    _require({(str(t), str(c)) for t, c, _, _ in found if c is not None}, f"Postgres {where}")
    if dry_run:
        return
    may_update = {(t, c) for t, c, ok, _ in found if ok}
    for target in TARGETS:
        for column in target.columns:
            if (target.table, column) not in may_update:
                raise SyncError(
                    f"Postgres role '{found[0][3]}' may not update {target.table}.{column} in {where} "
                    "(permission denied); nothing was changed"
                )


def _upload(con: psycopg.Connection[Any], target: Target, data: list[tuple[str, ...]]) -> None:
    with con.cursor().copy(f"COPY {_temp(target)} (k, {', '.join(_values(target))}) FROM STDIN") as copy:
        for row in data:
            copy.write_row(row)


def _push(
    con: psycopg.Connection[Any], target: Target, rows: DuckRows, dry_run: bool
) -> tuple[dict[str, ColumnCounts], int]:
    """One statement: the counts, and (unless a dry run) the guarded UPDATE. Both see the same snapshot, so
    the counts are of the rows as they were just before the update."""
    values, key = _values(target), target.key
    params: list[Any] = []
    if dry_run:
        # A read-only transaction may not create even a TEMP table: the values travel as arrays instead.
        params = [[r[i] for r in rows[target.table]] for i in range(len(values) + 1)]
        source = f"unnest({', '.join(['%s::text[]'] * (len(values) + 1))}) AS s(k, {', '.join(values)})"
    else:
        source = f"{_temp(target)} AS s"
    pairs = list(zip(target.columns, values, strict=True))
    counts_sql = ", ".join(
        f"count(*) FILTER (WHERE s.{v} IS NOT NULL AND p.{key} IS NULL), "
        f"count(*) FILTER (WHERE s.{v} IS NOT NULL AND p.{key} IS NOT NULL AND p.{c} IS NULL), "
        f"count(*) FILTER (WHERE p.{c} = s.{v}), count(*) FILTER (WHERE p.{c} <> s.{v})"
        for c, v in pairs
    )
    counts_query = f"SELECT {counts_sql} FROM {source} LEFT JOIN {target.table} AS p ON p.{key} = s.k"
    if dry_run:
        sql = counts_query
    else:
        # coalesce keeps a value that is already set: with several columns, a row may need only one of them.
        assignments = ", ".join(f"{c} = coalesce(p.{c}, s.{v})" for c, v in pairs)
        needed = " OR ".join(f"(p.{c} IS NULL AND s.{v} IS NOT NULL)" for c, v in pairs)
        sql = (
            f"WITH counts AS ({counts_query}), changed AS (UPDATE {target.table} AS p SET {assignments} "
            f"FROM {source} WHERE p.{key} = s.k AND ({needed}) RETURNING 1) "
            "SELECT counts.*, (SELECT count(*) FROM changed) FROM counts"
        )
    found = con.execute(sql, params).fetchone()
    assert found is not None
    counts = {
        c: ColumnCounts(
            missing_in_postgres=found[4 * i],
            pushed=found[4 * i + 1],
            already_set=found[4 * i + 2],
            differing=found[4 * i + 3],
        )
        for i, c in enumerate(target.columns)
    }
    return counts, 0 if dry_run else found[-1]


def _postgres_failure(pg: Any, exc: Exception, where: str) -> str:
    line = _first_line(exc)
    if isinstance(exc, pg.errors.InsufficientPrivilege):
        return f"Postgres refused the write ({line}) in {where}; nothing was changed"
    if isinstance(exc, pg.errors.ReadOnlySqlTransaction):
        return f"Postgres {where} is read-only for this role ({line}); nothing was changed"
    if isinstance(exc, pg.errors.SerializationFailure):
        return f"another session changed the same rows in {where} meanwhile; nothing was changed: run sync again"
    return f"Postgres error in {where}: {line}; nothing was changed"
