"""The Postgres side of sync: connect, then one transaction in four round trips, each error in one line.

1. BEGIN (REPEATABLE READ: one snapshot for reading and writing), checks, the TEMP table, every digest: pipelined.
2. COPY of the rows Postgres lacks into the TEMP table: two round trips (skipped when there are none).
3. One guarded `UPDATE … FROM` per table, and COMMIT: pipelined.
Readers see the state before or after, never a table missing or half updated. A concurrent writer to the same
rows makes the UPDATE fail (serialization failure) and everything roll back, so the counts are exactly what
happened.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import TYPE_CHECKING, Any

from backfill.errors import SyncError, first_line
from backfill.sync.digests import Send, postgres_query
from backfill.sync.model import TARGETS, Target, require
from backfill.sync.pgurl import mask_url, scrub

if TYPE_CHECKING:
    import psycopg

INSTALL_HINT = "psycopg is not installed; sync needs it: pip install 'backfill[postgres]'"
LOCK_TIMEOUT = "60s"  # a table locked by someone else (e.g. a full re-sync running): give up, don't hang
TEMP = "backfill_sync"  # the rows to push, all tables in one (one COPY); dropped at COMMIT
WIDTH = max(len(t.columns) for t in TARGETS)
_VALUES = [f"v{i}" for i in range(WIDTH)]
_OLDS = [f"r{i}" for i in range(WIDTH)]  # per column, the values besides NULL that v{i} may replace


def import_psycopg() -> Any:
    try:
        return importlib.import_module("psycopg")
    except ImportError:
        raise SyncError(INSTALL_HINT) from None


def connect(url: str, timeout: int) -> psycopg.Connection[Any]:
    """In autocommit mode: sync writes BEGIN itself, so that it shares a round trip with what follows."""
    pg = import_psycopg()
    where = mask_url(url)
    try:
        connection: psycopg.Connection[Any] = pg.connect(url, connect_timeout=timeout, autocommit=True)
        return connection
    except pg.OperationalError as exc:
        text = first_line(exc).removeprefix("connection failed: ")
        if "authentication failed" in text or getattr(exc, "sqlstate", None) in ("28P01", "28000"):
            raise SyncError(f"Postgres rejected the credentials for {where}") from None
        if "timeout" in text.lower():
            raise SyncError(f"no answer from Postgres at {where} within {timeout} s (--connect-timeout)") from None
        raise SyncError(scrub(f"cannot connect to Postgres at {where}: {text}", url)) from None
    except pg.Error as exc:  # e.g. a malformed URL
        raise SyncError(scrub(f"cannot use the Postgres URL {where}: {first_line(exc)}", url)) from None


def _together(con: psycopg.Connection[Any]) -> contextlib.AbstractContextManager[Any]:
    """Several statements in one round trip where libpq can pipeline (14 and later, as in psycopg's binary
    wheels); with an older libpq they simply run one after another, to the same effect."""
    pg = import_psycopg()
    return con.pipeline() if pg.Pipeline.is_supported() else contextlib.nullcontext()


def _check_sql() -> str:
    names = ", ".join(f"'{t.table}'" for t in TARGETS)
    return (
        "SELECT t.name, a.attname, has_column_privilege(a.attrelid, a.attnum, 'UPDATE'), current_user "
        f"FROM unnest(ARRAY[{names}]) AS t(name) LEFT JOIN pg_attribute a "
        "ON a.attrelid = to_regclass(t.name) AND a.attnum > 0 AND NOT a.attisdropped"
    )


def begin(con: psycopg.Connection[Any], where: str, dry_run: bool) -> dict[str, bytes]:
    """Round trip 1: begin, check that both tables and all five columns exist (as unqualified names resolve)
    and that we may update them, and read every row's digests; returns table -> digests. A dry run is READ
    ONLY; a real one asks for no more than the server's default, so a role an admin made read-only stays so
    (its first write fails, and all rolls back)."""
    pg = import_psycopg()
    check = con.cursor()
    digests: dict[str, psycopg.Cursor[Any]] = {}
    try:
        with _together(con):
            con.execute(f"BEGIN ISOLATION LEVEL REPEATABLE READ{' READ ONLY' if dry_run else ''}")
            con.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            check.execute(_check_sql())
            if not dry_run:
                columns = ", ".join([*(f"{v} text" for v in _VALUES), *(f"{r} text[]" for r in _OLDS)])
                con.execute(f"CREATE TEMP TABLE {TEMP} (t smallint, k text, {columns}) ON COMMIT DROP")
            for target in TARGETS:
                digests[target.table] = con.cursor(binary=True)
                digests[target.table].execute(postgres_query(target))
    except (pg.errors.UndefinedTable, pg.errors.UndefinedColumn, pg.errors.InsufficientPrivilege):
        # The checks ran first in the pipeline: their answer names what is missing better than the error does.
        found = check.fetchall() if check.description is not None else []
        _checked(found, where, dry_run)
        raise
    _checked(check.fetchall(), where, dry_run)
    out = {}
    for table, cur in digests.items():
        row = cur.fetchone()
        out[table] = bytes(row[0]) if row is not None else b""
    return out


def _checked(found: list[tuple[Any, ...]], where: str, dry_run: bool) -> None:
    if not found:
        return
    require({(str(t), str(c)) for t, c, _, _ in found if c is not None}, f"Postgres {where}")
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


def push(con: psycopg.Connection[Any], send: dict[str, list[Send]]) -> dict[str, int]:
    """Round trips 2 and 3: COPY the rows to send, then one guarded UPDATE per table and COMMIT. Returns
    table -> rows updated."""
    tables = [(i, t) for i, t in enumerate(TARGETS) if send[t.table]]
    if tables:
        with con.cursor().copy(f"COPY {TEMP} (t, k, {', '.join(_VALUES + _OLDS)}) FROM STDIN") as copy:
            for i, target in tables:
                n = len(target.columns)
                pad = (None,) * (WIDTH - n)
                for row in send[target.table]:
                    copy.write_row((i, row[0], *row[1 : 1 + n], *pad, *row[1 + n :], *pad))
    updates: dict[str, psycopg.Cursor[Any]] = {}
    with _together(con):
        for i, target in tables:
            updates[target.table] = con.cursor()
            updates[target.table].execute(_update_sql(i, target))
        con.execute("COMMIT")
    return {t.table: updates[t.table].rowcount if t.table in updates else 0 for t in TARGETS}


def _update_sql(index: int, target: Target) -> str:
    # A column is written where Postgres has NULL and the history a value, or where it has one of the values
    # the history's journal says backfill replaced (r{i}; NULL for other rows, and `= ANY(NULL)` is never
    # true): then with the history's value, or NULL where backfill set the row back to NULL. Any other value
    # stays: with several columns, a row may need only one of them.
    assignments, needed = [], []
    for c, v, r in zip(target.columns, _VALUES, _OLDS, strict=False):
        write = f"((s.{v} IS NOT NULL AND p.{c} IS NULL) OR p.{c} = ANY(s.{r}))"
        assignments.append(f"{c} = CASE WHEN {write} THEN s.{v} ELSE p.{c} END")
        needed.append(f"({write})")
    return (
        f"UPDATE {target.table} AS p SET {', '.join(assignments)} FROM {TEMP} AS s "
        f"WHERE s.t = {index} AND p.{target.key} = s.k AND ({' OR '.join(needed)})"
    )


def rollback(con: psycopg.Connection[Any] | None) -> None:
    if con is None:
        return
    pg = import_psycopg()
    with contextlib.suppress(pg.Error):  # a broken connection rolls back by itself
        con.execute("ROLLBACK")


def failure(exc: Exception, where: str, *, writing: bool) -> str:
    """The one line for a Postgres error after connecting; nothing was changed (all rolled back)."""
    pg = import_psycopg()
    line = first_line(exc)
    if isinstance(exc, pg.errors.InsufficientPrivilege):
        return f"Postgres refused {'the write' if writing else 'the read'} ({line}) in {where}; nothing was changed"
    if isinstance(exc, pg.errors.ReadOnlySqlTransaction):
        return f"Postgres {where} is read-only for this role ({line}); nothing was changed"
    if isinstance(exc, pg.errors.SerializationFailure):
        return f"another session changed the same rows in {where} meanwhile; nothing was changed: run sync again"
    return f"Postgres error in {where}: {line}; nothing was changed"
