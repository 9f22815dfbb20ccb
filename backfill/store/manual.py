"""`backfill set`: a person's own image for a row, which nothing later replaces.

A set replaces whatever the row has (NULL or any value), journaled like a refresh in `backfill_journal` (so
`undo` puts the old value back and `sync` pushes the new one where Postgres still holds the old one or NULL),
and names 'manual' its writer in `backfill_provenance`: a refresh and the fallback providers leave such a value
alone. Everything is checked before anything is written (each URL http(s), each key a row of the file, no key
set twice to different URLs); one bad override changes nothing. A row that already holds the URL is not written
again: no journal entry, only its provenance (when it was not 'manual' yet), so applying the same overrides
twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import duckdb

from backfill.errors import UsageError
from backfill.kinds import KINDS, Kind, LogKind, is_http_url
from backfill.records import utcnow
from backfill.store.provenance import MANUAL, ensure_provenance, pinned, record
from backfill.store.schema import JOURNAL_TABLE, OWN_DDL, Schema, one
from backfill.store.store import Store

BY_LOG: dict[LogKind, Kind] = {k.log: k for k in KINDS.values()}


class OverrideError(UsageError):
    """An override that cannot be applied: one line naming where it came from; nothing was written."""


@dataclass(frozen=True)
class Override:
    kind: LogKind
    key: str  # a track's spotify_track_uri, or an artist's artist_name
    url: str
    where: str  # where it came from, for messages and the provenance: "overrides.csv, line 3", "the command line"


@dataclass
class SetResult:
    replaced: dict[str, int] = field(default_factory=lambda: {"tracks": 0, "artists": 0})  # rows, journaled
    marked: dict[str, int] = field(default_factory=lambda: {"tracks": 0, "artists": 0})  # held it already
    unchanged: int = 0  # overrides already in place, set by hand before
    run_id: datetime | None = None  # the journal's name for this set (when it was written, UTC)

    @property
    def writes(self) -> bool:
        return any(self.replaced.values()) or any(self.marked.values())


def check(overrides: Sequence[Override]) -> list[Override]:
    """The overrides to apply (a repeated one once); OverrideError for a bad URL or a key set twice differently."""
    seen: dict[tuple[str, str], Override] = {}
    for o in overrides:
        if o.kind not in BY_LOG:
            raise OverrideError(f"{o.where}: kind {o.kind!r} is neither 'track' nor 'artist'")
        if not o.key:
            raise OverrideError(f"{o.where}: no {'track URI' if o.kind == 'track' else 'artist name'} given")
        if not is_http_url(o.url):
            raise OverrideError(f"{o.where}: {o.url!r} is not an http(s) URL")
        first = seen.setdefault((o.kind, o.key), o)
        if first.url != o.url:
            raise OverrideError(f"{o.where}: {o.kind} {o.key!r} is already set to another URL by {first.where}")
    return list(seen.values())


def _state(
    con: duckdb.DuckDBPyConnection, schema: Schema, kind: Kind, overrides: list[Override]
) -> list[tuple[Any, ...]]:
    """Per override of `kind`: (key, rows with that key, rows holding another value, rows holding it by hand)."""
    return con.execute(
        f"""SELECT u.key, count(t.{kind.key}), count(*) FILTER (WHERE t.{kind.image} IS DISTINCT FROM u.url
                   AND t.{kind.key} IS NOT NULL), count(*) FILTER (WHERE {pinned(schema, kind.log)})
            FROM (SELECT unnest($1::VARCHAR[]) AS key, unnest($2::VARCHAR[]) AS url) u
            LEFT JOIN {kind.table} t ON t.{kind.key} = u.key GROUP BY u.key""",
        [[o.key for o in overrides], [o.url for o in overrides]],
    ).fetchall()


def plan_overrides(store: Store, overrides: Sequence[Override]) -> SetResult:
    """What applying `overrides` would do (read-only); OverrideError for any that cannot be applied."""
    return _apply(store, check(overrides), store.reader(), write=False)


def apply_overrides(store: Store, overrides: Sequence[Override]) -> SetResult:
    """Apply `overrides` in one transaction (checked first, again: all of them or nothing)."""
    checked = check(overrides)
    with store.transaction() as con:
        return _apply(store, checked, con, write=True)


def _apply(store: Store, overrides: list[Override], con: duckdb.DuckDBPyConnection, *, write: bool) -> SetResult:
    now = utcnow()
    result = SetResult(run_id=now)
    if any(o.kind == "artist" for o in overrides) and not store.schema.has_artists:
        first = next(o for o in overrides if o.kind == "artist")
        raise OverrideError(f"{first.where}: the database has no artists table")
    per_kind = {log: [o for o in overrides if o.kind == log] for log in BY_LOG}
    states = {
        log: {row[0]: row[1:] for row in _state(con, store.schema, BY_LOG[log], os)}
        for log, os in per_kind.items()
        if os
    }
    for log, os in per_kind.items():
        for o in os:
            rows, _, _ = states[log][o.key]
            if not rows:
                what = "no track with URI" if log == "track" else "no artist named"
                raise OverrideError(f"{o.where}: {what} {o.key!r} in {store.path}")
    for log, os in per_kind.items():
        kind = BY_LOG[log]
        # (rows with the key, rows holding another value, rows holding their value by hand)
        replace_ = [o for o in os if states[log][o.key][1]]
        mark = [o for o in os if not states[log][o.key][1] and states[log][o.key][2] < states[log][o.key][0]]
        result.unchanged += len(os) - len(replace_) - len(mark)
        result.replaced[kind.name], result.marked[kind.name] = len(replace_), len(mark)
        if write and (replace_ or mark):
            store.schema = ensure_provenance(con, store.schema)
            if replace_:
                result.replaced[kind.name] = _replace(con, store, kind, replace_, now)
            why = "backfill set ({})"
            record(con, kind.log, ((o.key, o.url, MANUAL, None, why.format(o.where)) for o in (*replace_, *mark)), now)
    return result


def _replace(con: duckdb.DuckDBPyConnection, store: Store, kind: Kind, overrides: list[Override], now: datetime) -> int:
    """Journal, then update, the rows of `overrides` that hold another value. Returns the rows replaced."""
    if not store.schema.has_journal:
        con.execute(OWN_DDL[JOURNAL_TABLE].format(name=JOURNAL_TABLE))
        store.schema = replace(store.schema, has_journal=True)
    new = "(SELECT unnest($1::VARCHAR[]) AS key, unnest($2::VARCHAR[]) AS url)"
    differs = f"t.{kind.key} = u.key AND t.{kind.image} IS DISTINCT FROM u.url"
    params = [[o.key for o in overrides], [o.url for o in overrides]]
    con.execute(
        f"""INSERT INTO {JOURNAL_TABLE} (seq, run_id, kind, row_key, old_value, new_value, changed_at)
            SELECT (SELECT coalesce(max(seq), 0) FROM {JOURNAL_TABLE}) + row_number() OVER (ORDER BY t.{kind.key}),
                   $3, $4, t.{kind.key}, t.{kind.image}, u.url, $3
            FROM {kind.table} t JOIN {new} u ON {differs}""",
        [*params, now, kind.log],
    )
    return int(one(con, f"UPDATE {kind.table} AS t SET {kind.image} = u.url FROM {new} u WHERE {differs}", params))
