"""Remembering a source's long wait (the Web API's daily quota) in our own table, `backfill_waits`.

A run that stops, or moves to oEmbed, on a Retry-After of hours notes when the source may be asked again; a
later run before that time sends it nothing (in `auto` it goes straight to oEmbed). Like our other tables it
has no key and no index (see backfill.store.schema): an upsert is DELETE + INSERT in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from backfill.records import utcnow
from backfill.store.schema import OWN_DDL, WAITS_TABLE, Schema


@dataclass(frozen=True)
class Wait:
    resume_after: datetime  # aware, local time
    quota: bool

    @property
    def seconds(self) -> float:
        return (self.resume_after - datetime.now().astimezone()).total_seconds()


def read_wait(con: duckdb.DuckDBPyConnection, schema: Schema, source: str) -> Wait | None:
    """The wait still running for `source`, if one was noted; None once it is over."""
    if not schema.has_waits:
        return None
    row = con.execute(
        f"SELECT resume_after, quota FROM {WAITS_TABLE} WHERE source = ? AND resume_after > ? "
        "ORDER BY resume_after DESC LIMIT 1",
        [source, utcnow()],
    ).fetchone()
    if row is None:
        return None
    return Wait(row[0].replace(tzinfo=UTC).astimezone(), bool(row[1]))


def note_wait(con: duckdb.DuckDBPyConnection, schema: Schema, source: str, wait: Wait) -> None:
    """Inside the caller's write transaction: `source` is not to be asked before `wait.resume_after`."""
    if not schema.has_waits:
        con.execute(OWN_DDL[WAITS_TABLE].format(name=WAITS_TABLE))
    con.execute(f"DELETE FROM {WAITS_TABLE} WHERE source = ?", [source])
    until = wait.resume_after.astimezone(UTC).replace(tzinfo=None)
    con.execute(f"INSERT INTO {WAITS_TABLE} VALUES (?, ?, ?, ?)", [source, until, wait.quota, utcnow()])
