"""Filling in: a batch of outcomes, written by `Store.apply` as a handful of set-based statements.

Only NULL image columns are filled, and every UPDATE says so in its WHERE clause, so a value written by someone
else meanwhile is never overwritten. The misses log (`backfill_log`) is created with the first miss to remember;
each image filled is named Spotify's in `backfill_provenance` (backfill.store.provenance), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import duckdb

from backfill.kinds import ARTISTS, TRACK_URI_PREFIX, TRACKS, Kind
from backfill.records import REMEMBERED, Outcome, utcnow
from backfill.store.provenance import ensure_provenance, record_spotify
from backfill.store.schema import LOG_DDL, LOG_TABLE, Schema, one

FILLS = "backfill_fills"  # a TEMP table of the in-memory connection, never in the file: one batch's fills


@dataclass
class Batch:
    """A batch of outcomes sorted into what each statement writes."""

    track_urls: dict[str, str] = field(default_factory=dict)
    artist_urls: dict[str, str] = field(default_factory=dict)
    recovered: dict[str, str] = field(default_factory=dict)  # artist name → the id Spotify confirmed
    misses: dict[tuple[str, str], str] = field(default_factory=dict)  # (log kind, id) → outcome to remember
    found: dict[tuple[str, str], None] = field(default_factory=dict)  # (log kind, id) whose log entry to clear

    @classmethod
    def of(cls, outcomes: Sequence[Outcome], retrying: bool) -> Batch:
        """`retrying`: the plan queued remembered misses again, so a hit must clear its log entry."""
        batch = cls()
        for o in outcomes:
            log_kind = "track" if o.kind == "tracks" else "artist"
            if o.status == "updated" and o.url:
                (batch.track_urls if o.kind == "tracks" else batch.artist_urls)[o.id] = o.url
                if retrying:  # otherwise no fetched id can have a log entry to clear
                    batch.found[(log_kind, o.id)] = None
            elif o.status in REMEMBERED:
                batch.misses[(log_kind, o.id)] = o.status
            if o.status in ("updated", "no_image"):
                for name in o.names:  # only an id Spotify confirmed is written back
                    batch.recovered[name] = o.id
        return batch

    @property
    def empty(self) -> bool:
        """Nothing to write (an id in `found` always has a URL to write too)."""
        return not (self.track_urls or self.artist_urls or self.recovered or self.misses)


def write(con: duckdb.DuckDBPyConnection, batch: Batch, schema: Schema) -> tuple[dict[str, int], Schema]:
    """Write a batch inside the caller's transaction; the image rows filled per kind, and under "recovered" the
    artist rows given their id; and the schema as it is now (the misses log and the provenance table are
    created here when a write needs them)."""
    filled = {"tracks": 0, "artists": 0, "recovered": 0}
    now = utcnow()
    if batch.track_urls or batch.artist_urls:
        schema = ensure_provenance(con, schema)
    if batch.track_urls:
        filled["tracks"] = _fill(con, TRACKS, batch.track_urls, now)
    if batch.recovered:
        filled["recovered"] = _changed(
            con,
            """UPDATE artists SET spotify_artist_id = r.id
               FROM (SELECT unnest($1::VARCHAR[]) AS name, unnest($2::VARCHAR[]) AS id) r
               WHERE artists.artist_name = r.name AND artists.spotify_artist_id IS NULL""",
            [list(batch.recovered), list(batch.recovered.values())],
        )
    if batch.artist_urls:
        filled["artists"] = _fill(con, ARTISTS, batch.artist_urls, now)
    has_log = schema.has_log
    misses = batch.misses
    if misses and not has_log:
        con.execute(LOG_DDL.format(name=LOG_TABLE))
        has_log = True
    if has_log and (misses or batch.found):
        # An upsert by hand: the log has no key, because DuckDB 2.0 writes indexes that older DuckDB
        # versions cannot read (see README, "Compatibility"). Same transaction, so never two rows.
        stale = [*batch.found, *misses]
        con.execute(
            f"""DELETE FROM {LOG_TABLE} WHERE (kind, spotify_id) IN
                (SELECT (unnest($1::VARCHAR[]), unnest($2::VARCHAR[])))""",
            [[k for k, _ in stale], [i for _, i in stale]],
        )
    if misses:
        con.execute(
            f"""INSERT INTO {LOG_TABLE}
                SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), unnest($3::VARCHAR[]), $4""",
            [[k for k, _ in misses], [i for _, i in misses], list(misses.values()), now],
        )
    return filled, replace(schema, has_log=has_log)


def _fill(con: duckdb.DuckDBPyConnection, kind: Kind, urls: dict[str, str], now: datetime) -> int:
    """Fill `kind`'s NULL image column from a batch's answers (Spotify id -> URL), naming Spotify the writer of
    each value in the same transaction; the rows filled."""
    t = kind.table
    match = f"{TRACK_URI_PREFIX!r} || u.id" if kind is TRACKS else "u.id"  # tracks are matched on their URI
    # The rows the UPDATE fills, chosen first (same transaction, same condition) into a TEMP table of the
    # in-memory connection: an UPDATE ... RETURNING on a table with a key leaves a write-ahead log that DuckDB
    # 1.1 and older cannot replay after a crash. Their provenance is written from it, in SQL.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {FILLS} AS SELECT {t}.{kind.key} AS k, u.url AS v, u.id AS pid
            FROM {t} JOIN (SELECT unnest($1::VARCHAR[]) AS id, unnest($2::VARCHAR[]) AS url) u
              ON {t}.{kind.match} = {match} AND {t}.{kind.image} IS NULL""",
        [list(urls), list(urls.values())],
    )
    record_spotify(con, kind.log, FILLS, now)
    # Its own IS NULL too: a table without its primary key may hold a key twice, one of them with a value.
    filled = _changed(
        con,
        f"UPDATE {t} SET {kind.image} = f.v FROM {FILLS} f WHERE {t}.{kind.key} = f.k AND {t}.{kind.image} IS NULL",
        [],
    )
    con.execute(f"DROP TABLE {FILLS}")
    return filled


def _changed(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    """Run an UPDATE; the number of rows it changed."""
    return int(one(con, sql, params))
