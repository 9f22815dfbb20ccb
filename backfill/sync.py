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

import importlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import duckdb

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


# -- URLs and messages -------------------------------------------------------------------------------------

_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL with any password shown as ***: postgresql://user:***@host/db (key=value strings too)."""
    if "://" not in url:
        return _KV_PASSWORD.sub(r"\1***", url)
    scheme, rest = url.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostinfo}"
    return _QUERY_PASSWORD.sub(r"\1***", f"{scheme}://{netloc}{sep}{tail}")


def _passwords(url: str) -> list[str]:
    found: list[str] = []
    if "://" in url:
        try:
            parts = urlsplit(url)
            if parts.password:
                found += [parts.password, unquote(parts.password)]
        except ValueError:
            pass
        found += [unquote(m.group(0).split("=", 1)[1]) for m in _QUERY_PASSWORD.finditer(url)]
    found += [m.group(2).strip("'") for m in _KV_PASSWORD.finditer(url)]
    return [p for p in found if len(p) >= 4]  # shorter ones would mangle words, and are in no message we make


def scrub(text: str, url: str) -> str:
    """Defence in depth: no message leaves with the password in it, whatever a driver put there."""
    for secret in sorted(set(_passwords(url)), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


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
    pg = import_psycopg()
    where = mask_url(url)
    try:
        return pg.connect(url, connect_timeout=timeout, autocommit=False)
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
    """Push what DuckDB has and Postgres lacks (or, with dry_run, only count it in a read-only transaction)."""
    pg = import_psycopg()  # before anything else: without it there is nothing to do
    started = time.monotonic()
    report = SyncReport(mask_url(url), str(db_path), dry_run)
    rows = read_history(db_path)  # DuckDB is closed again before Postgres is contacted
    con = connect(url, connect_timeout)
    try:
        con.isolation_level = pg.IsolationLevel.REPEATABLE_READ
        if dry_run:  # else the server's default: a role an admin made read-only stays so (no READ WRITE)
            con.read_only = True
        con.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            _check_postgres(con, report.postgres, write=not dry_run)
            for target in TARGETS:
                report.columns[target.table], report.rows_updated[target.table] = _push(con, target, rows, dry_run)
            con.commit()
        except pg.Error as exc:
            con.rollback()
            raise SyncError(scrub(_postgres_failure(pg, exc, report.postgres), url)) from None
    finally:
        con.close()
    report.elapsed = time.monotonic() - started
    return report


def _check_postgres(con: psycopg.Connection[Any], where: str, *, write: bool) -> None:
    """Both tables and all five columns exist (as the unqualified names resolve), and we may write them."""
    names = [t.table for t in TARGETS]
    have = con.execute(
        "SELECT t.name, a.attname FROM unnest(%s::text[]) AS t(name) "
        "JOIN pg_attribute a ON a.attrelid = to_regclass(t.name) AND a.attnum > 0 AND NOT a.attisdropped",
        [names],
    ).fetchall()
    _require({(str(t), str(c)) for t, c in have}, f"Postgres {where}")
    if not write:
        return
    user, temp_ok = con.execute("SELECT current_user, has_database_privilege(current_database(), 'TEMP')").fetchone()
    if not temp_ok:
        raise SyncError(f"Postgres role '{user}' may not create temporary tables in {where}; nothing was changed")
    for target in TARGETS:
        for column in target.columns:
            (ok,) = con.execute("SELECT has_column_privilege(%s, %s, 'UPDATE')", [target.table, column]).fetchone()
            if not ok:
                raise SyncError(
                    f"Postgres role '{user}' may not update {target.table}.{column} in {where} "
                    "(permission denied); nothing was changed"
                )


def _push(
    con: psycopg.Connection[Any], target: Target, rows: DuckRows, dry_run: bool
) -> tuple[dict[str, ColumnCounts], int]:
    values = [f"v{i}" for i in range(len(target.columns))]
    data = rows[target.table]
    if dry_run:
        # A read-only transaction may not create even a TEMP table: the values travel as arrays instead.
        params: list[Any] = [[r[i] for r in data] for i in range(len(target.columns) + 1)]
        casts = ", ".join(["%s::text[]"] * (len(values) + 1))
        source = f"unnest({casts}) AS s(k, {', '.join(values)})"
    else:
        params = []
        source = f"backfill_sync_{target.table}"
        con.execute(f"CREATE TEMP TABLE {source} (k text, {', '.join(f'{v} text' for v in values)}) ON COMMIT DROP")
        with con.cursor().copy(f"COPY {source} (k, {', '.join(values)}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        con.execute(f"ANALYZE {source}")  # the planner then joins 100,000 rows by hash, not row by row
        source += " AS s"
    p, key = "p", target.key
    counts_sql = ", ".join(
        f"count(*) FILTER (WHERE s.{v} IS NOT NULL AND p.{key} IS NULL), "
        f"count(*) FILTER (WHERE s.{v} IS NOT NULL AND p.{key} IS NOT NULL AND p.{c} IS NULL), "
        f"count(*) FILTER (WHERE p.{c} = s.{v}), count(*) FILTER (WHERE p.{c} <> s.{v})"
        for c, v in zip(target.columns, values, strict=True)
    )
    found = con.execute(
        f"SELECT {counts_sql} FROM {source} LEFT JOIN {target.table} {p} ON {p}.{key} = s.k", params
    ).fetchone()
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
    if dry_run:
        return counts, 0
    # coalesce keeps a value that is already set: with several columns, a row may need only one of them.
    pairs = list(zip(target.columns, values, strict=True))
    assignments = ", ".join(f"{c} = coalesce({p}.{c}, s.{v})" for c, v in pairs)
    needed = " OR ".join(f"({p}.{c} IS NULL AND s.{v} IS NOT NULL)" for c, v in pairs)
    cur = con.execute(
        f"UPDATE {target.table} AS {p} SET {assignments} FROM {source} WHERE {p}.{key} = s.k AND ({needed})"
    )
    return counts, cur.rowcount


def _postgres_failure(pg: Any, exc: Exception, where: str) -> str:
    line = _first_line(exc)
    if isinstance(exc, pg.errors.InsufficientPrivilege):
        return f"Postgres refused the write ({line}) in {where}; nothing was changed"
    if isinstance(exc, pg.errors.ReadOnlySqlTransaction):
        return f"Postgres {where} is read-only for this role ({line}); nothing was changed"
    if isinstance(exc, pg.errors.SerializationFailure):
        return f"another session changed the same rows in {where} meanwhile; nothing was changed: run sync again"
    return f"Postgres error in {where}: {line}; nothing was changed"
