"""`run --refresh`: fetch again the images already stored, and replace the ones Spotify changed, undoably
(store.journal puts them back).

A refresh is an ordinary run through the same pipeline (sources, pacing, quota, Retry-After, album grouping),
over a store whose plan queues the ids of rows that HAVE an image, and whose writer replaces a value only where
Spotify now serves a different image. Each replacement is journaled, in the same transaction as the UPDATE, in
the tool's own table `backfill_journal` (old value, new value, time), so a run stopped by the quota or by
Ctrl-C journals exactly what it changed. `undo` restores old values newest first, each guarded by "the value
is still the one we wrote": a value changed since is left alone.

"A different image" compares image ids, not URLs, when both values are Spotify CDN URLs
(`https://i.scdn.co/image/<id>`, `https://<name>.spotifycdn.com/image/<id>`): every host serves every id, and
the Web API and oEmbed hand out the same image on different hosts, so switching `--source` replaces nothing.
The id names the size too (its prefix), so a photo stored at another size than a run would choose is replaced.
Any other value is compared as a whole URL.

A value set by hand (`backfill set`: its provenance is 'manual' with that value) is never replaced: its id is not
queued when every row of it is such a value, and the replacing UPDATE leaves such rows out in its WHERE clause.
Each replacement names Spotify as its writer in `backfill_provenance`, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb

from backfill.kinds import KINDS, TRACK_URI_PREFIX, LogKind
from backfill.records import Outcome, Plan, utcnow
from backfill.store.pending import queue_plan
from backfill.store.provenance import ensure_provenance, pinned, record
from backfill.store.schema import JOURNAL_TABLE, OWN_DDL, REFRESHED_TABLE, Schema, one
from backfill.store.selection import Writable

_CDN_IMAGE = r"https://(?:i\.scdn\.co|[0-9a-z-]+\.spotifycdn\.com)/image/([0-9A-Za-z]+)"


def _image(column: str) -> str:
    """SQL: what identifies the image a value shows (the image id of a Spotify CDN URL, else the value)."""
    cdn = f"'{_CDN_IMAGE}'"
    return f"CASE WHEN regexp_full_match({column}, {cdn}) THEN regexp_extract({column}, {cdn}, 1) ELSE {column} END"


@dataclass
class Refresh:
    """The selection of `run --refresh`: rows that have an image; a changed image replaces the value, journaled.

    A miss (not found, no image) keeps the stored value: a refresh never removes an image, and writes no id.
    """

    older_than_days: float | None = None  # skip ids a refresh had an answer for within this many days
    run_id: datetime | None = None  # the journal's name for this run: when it started (UTC)
    replaced: dict[str, int] = field(default_factory=lambda: {"tracks": 0, "artists": 0})  # rows, committed
    replaced_ids: dict[str, int] = field(default_factory=lambda: {"tracks": 0, "artists": 0})  # ids behind them
    has_image = True
    recovers_ids = False

    def begin(self, schema: Schema) -> None:
        self.run_id = self.run_id or utcnow()

    def skip(self, schema: Schema, kind: LogKind) -> tuple[str, list[Any]]:
        """Skip the ids whose every row holds a value set by hand, and those a refresh had an answer for since
        the --older-than cutoff (remembered misses are not skipped: their rows have an image to check)."""
        by_hand = _all_pinned(schema, kind)
        if self.older_than_days is None or not schema.has_refreshed:
            return by_hand, []
        try:
            cutoff = utcnow() - timedelta(days=self.older_than_days)
        except OverflowError:  # more days than the calendar holds: every id checked is recent enough
            cutoff = datetime(1, 1, 1)
        checked = f"SELECT 1 FROM {REFRESHED_TABLE} r WHERE r.kind = ? AND r.spotify_id = c.id AND r.checked_at > ?"
        return f"({by_hand} OR EXISTS ({checked}))", [kind, cutoff]

    def queue(self, con: duckdb.DuckDBPyConnection, schema: Schema, kinds: Sequence[str]) -> Plan:
        return queue_plan(con, schema, self, kinds)

    def apply(self, store: Writable, outcomes: Sequence[Outcome]) -> dict[str, int]:
        """Replace the values that changed, journal each one, and note every id that got an answer. Returns the
        rows replaced per kind, as committed."""
        replaced, ids = {"tracks": 0, "artists": 0}, {"tracks": 0, "artists": 0}
        urls: dict[str, dict[str, str]] = {"tracks": {}, "artists": {}}
        answered: dict[tuple[str, str], None] = {}
        for o in outcomes:
            if o.status == "updated" and o.url:
                urls[o.kind][o.id] = o.url
            if o.status != "failed":
                answered[(KINDS[o.kind].log, o.id)] = None
        if not answered:
            return replaced
        now = utcnow()
        with store.transaction() as con:
            _ensure_tables(store, con)
            for kind, changed in urls.items():
                if changed:
                    replaced[kind], ids[kind] = _replace(con, store.schema, kind, changed, self.run_id or now, now)
            # An upsert by hand (no key: see schema.py), in the same transaction, so never two rows.
            keys = [[k for k, _ in answered], [i for _, i in answered]]
            con.execute(
                f"""DELETE FROM {REFRESHED_TABLE} WHERE (kind, spotify_id) IN
                    (SELECT (unnest($1::VARCHAR[]), unnest($2::VARCHAR[])))""",
                keys,
            )
            con.execute(
                f"INSERT INTO {REFRESHED_TABLE} SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), $3", [*keys, now]
            )
        for kind, n in replaced.items():
            self.replaced[kind] += n
            self.replaced_ids[kind] += ids[kind]
        return replaced


def _all_pinned(schema: Schema, kind: LogKind) -> str:
    """SQL on candidates `c`: every row of the id holds a value set by hand (so a refresh has nothing to ask)."""
    if not schema.has_provenance:
        return "FALSE"
    k = next(k for k in KINDS.values() if k.log == kind)
    match = f"'{TRACK_URI_PREFIX}' || c.id" if kind == "track" else "c.id"
    return (
        f"NOT EXISTS (SELECT 1 FROM {k.table} t WHERE t.{k.match} = {match} AND t.{k.image} IS NOT NULL "
        f"AND NOT {pinned(schema, kind)})"
    )


def _ensure_tables(store: Writable, con: duckdb.DuckDBPyConnection) -> None:
    """Create the journal, the refreshed and the provenance table on the first write (rolled back with the
    transaction)."""
    if not store.schema.has_journal:
        con.execute(OWN_DDL[JOURNAL_TABLE].format(name=JOURNAL_TABLE))
    if not store.schema.has_refreshed:
        con.execute(OWN_DDL[REFRESHED_TABLE].format(name=REFRESHED_TABLE))
    store.schema = replace(ensure_provenance(con, store.schema), has_journal=True, has_refreshed=True)


def _replace(
    con: duckdb.DuckDBPyConnection, schema: Schema, kind: str, changed: dict[str, str], run: datetime, now: datetime
) -> tuple[int, int]:
    """Journal, then update, the rows whose stored image differs from the new one (a value set by hand is left
    alone), and name Spotify their writer. Returns (rows, ids) replaced."""
    k = KINDS[kind]
    log_kind, table, key, column, match = k.log, k.table, k.key, k.image, k.match
    ids = [TRACK_URI_PREFIX + i for i in changed] if kind == "tracks" else list(changed)
    new = "(SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS url)"
    differs = (
        f"t.{match} = u.id AND t.{column} IS NOT NULL AND {_image(f't.{column}')} <> {_image('u.url')} "
        f"AND NOT {pinned(schema, log_kind)}"
    )
    n = one(
        con,
        f"""INSERT INTO {JOURNAL_TABLE} (seq, run_id, kind, row_key, old_value, new_value, changed_at)
            SELECT (SELECT coalesce(max(seq), 0) FROM {JOURNAL_TABLE}) + row_number() OVER (ORDER BY t.{key}),
                   $3, $4, t.{key}, t.{column}, u.url, $5
            FROM {table} t JOIN {new} u ON {differs}""",
        [ids, list(changed.values()), run, log_kind, now],
    )
    if not n:
        return 0, 0
    # The same condition as the journal's: inside one transaction with the file locked, the same rows.
    # (Read first rather than RETURNING: see backfill.store.writes on replaying the write-ahead log.)
    params = [ids, list(changed.values())]
    updated = con.execute(f"SELECT t.{match}, t.{key}, u.url FROM {table} t JOIN {new} u ON {differs}", params)
    rows = updated.fetchall()
    cut = len(TRACK_URI_PREFIX) if kind == "tracks" else 0  # the Spotify id: the URI's tail, or the artist id
    record(con, log_kind, ((row, value, "spotify", i[cut:], "") for i, row, value in rows), now)
    con.execute(f"UPDATE {table} AS t SET {column} = u.url FROM {new} u WHERE {differs}", params)
    return int(n), len({i for i, _, _ in rows})  # distinct track URIs or artist ids
