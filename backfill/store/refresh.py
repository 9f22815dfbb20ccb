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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb

from backfill.kinds import KINDS, TRACK_URI_PREFIX, LogKind
from backfill.records import Outcome, utcnow
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
        """Skip the ids a refresh had an answer for since the --older-than cutoff (remembered misses are not
        skipped: their rows have an image to check)."""
        if self.older_than_days is None or not schema.has_refreshed:
            return "FALSE", []
        try:
            cutoff = utcnow() - timedelta(days=self.older_than_days)
        except OverflowError:  # more days than the calendar holds: every id checked is recent enough
            cutoff = datetime(1, 1, 1)
        checked = f"SELECT 1 FROM {REFRESHED_TABLE} r WHERE r.kind = ? AND r.spotify_id = c.id AND r.checked_at > ?"
        return f"EXISTS ({checked})", [kind, cutoff]

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
                    replaced[kind], ids[kind] = _replace(con, kind, changed, self.run_id or now, now)
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


def _ensure_tables(store: Writable, con: duckdb.DuckDBPyConnection) -> None:
    """Create the journal and the refreshed table on the first write (rolled back with the transaction)."""
    if not store.schema.has_journal:
        con.execute(OWN_DDL[JOURNAL_TABLE].format(name=JOURNAL_TABLE))
    if not store.schema.has_refreshed:
        con.execute(OWN_DDL[REFRESHED_TABLE].format(name=REFRESHED_TABLE))
    store.schema = replace(store.schema, has_journal=True, has_refreshed=True)


def _replace(
    con: duckdb.DuckDBPyConnection, kind: str, changed: dict[str, str], run: datetime, now: datetime
) -> tuple[int, int]:
    """Journal, then update, the rows whose stored image differs from the new one. Returns (rows, ids) replaced."""
    k = KINDS[kind]
    log_kind, table, key, column, match = k.log, k.table, k.key, k.image, k.match
    ids = [TRACK_URI_PREFIX + i for i in changed] if kind == "tracks" else list(changed)
    new = "(SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS url)"
    differs = f"t.{match} = u.id AND t.{column} IS NOT NULL AND {_image(f't.{column}')} <> {_image('u.url')}"
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
    updated = con.execute(
        f"UPDATE {table} AS t SET {column} = u.url FROM {new} u WHERE {differs} RETURNING t.{match}",
        [ids, list(changed.values())],
    ).fetchall()
    return int(n), len({i for (i,) in updated})  # distinct track URIs or artist ids
