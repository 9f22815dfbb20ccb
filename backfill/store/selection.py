"""Which rows a store works on, and what writing an answer does to them: the strategy a Store is given.

- `Fill` (a run): rows whose image is NULL; skip remembered misses; fill NULL columns only (store.writes).
- `Refresh` (`run --refresh`, in store.refresh): rows that have an image; skip ids checked recently; replace a
  value only where the source now serves a different image, journaled (store.refresh).
- `Fallback` (in store.fallback): rows without an image that Spotify cannot fill, asked of other providers by
  what the history says of them; its own queue of lookups, NULL columns only.
A selection makes the plan and its queues (`queue`: store.pending's for the first two, store.fallback's own),
and writes what the sources answered (`apply`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb

from backfill.kinds import LogKind
from backfill.records import NEVER, MissFilter, Outcome, Plan
from backfill.store.pending import queue_plan
from backfill.store.schema import LOG_TABLE, Schema
from backfill.store.writes import Batch, write


class Writable(Protocol):
    """What a selection needs of the store to write: its schema, and one transaction on the file."""

    schema: Schema

    def transaction(self) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]: ...


class Selection(Protocol):
    has_image: bool  # the rows queued: those with an image (True) or without (False)
    recovers_ids: bool  # artists without an id get the one their tracks agree on

    def begin(self, schema: Schema) -> None:
        """The plan is about to be made on a file of this shape."""
        ...

    def skip(self, schema: Schema, kind: LogKind) -> tuple[str, list[Any]]:
        """An SQL condition on candidates `c`, true for ids to leave out, and its parameters."""
        ...

    def queue(self, con: duckdb.DuckDBPyConnection, schema: Schema, kinds: Sequence[str]) -> Plan:
        """Count what is to do, and build the queues (TEMP tables of `con`) the store's streams read."""
        ...

    def apply(self, store: Writable, outcomes: Sequence[Outcome]) -> dict[str, int]:
        """Write a batch in one transaction; rows changed per kind (and "recovered": artist ids written)."""
        ...


@dataclass
class Fill:
    """A normal run: NULL columns only, every UPDATE guarded by `IS NULL`; misses remembered."""

    misses: MissFilter = field(default_factory=MissFilter)
    has_image = False
    recovers_ids = True
    _retrying: bool = False  # remembered misses are queued again: a hit must clear its log entry

    def begin(self, schema: Schema) -> None:
        self._retrying = schema.has_log and self.misses.cutoff() != NEVER

    def skip(self, schema: Schema, kind: LogKind) -> tuple[str, list[Any]]:
        return remembered_misses(schema, kind, self.misses)

    def queue(self, con: duckdb.DuckDBPyConnection, schema: Schema, kinds: Sequence[str]) -> Plan:
        return queue_plan(con, schema, self, kinds)

    def apply(self, store: Writable, outcomes: Sequence[Outcome]) -> dict[str, int]:
        batch = Batch.of(outcomes, self._retrying)
        if batch.empty:
            return {"tracks": 0, "artists": 0, "recovered": 0}
        with store.transaction() as con:  # a table created here is forgotten again if it rolls back
            filled, store.schema = write(con, batch, store.schema)
        return filled


def remembered_misses(schema: Schema, kind: LogKind, misses: MissFilter) -> tuple[str, list[Any]]:
    """An SQL condition on candidates `c`: true for ids to skip (a remembered miss, recent enough)."""
    cutoff = misses.cutoff()
    if not schema.has_log or cutoff is None:
        return "FALSE", []
    return (
        f"EXISTS (SELECT 1 FROM {LOG_TABLE} l WHERE l.kind = ? AND l.spotify_id = c.id AND l.checked_at > ?)",
        [kind, cutoff],
    )
