"""The fallback selection: rows without an image that Spotify cannot fill, asked of other providers (Deezer,
MusicBrainz) by what the history says of them, and their answers written NULL columns only.

Spotify cannot fill a track whose URI is no `spotify:track:` id (local files, episodes, empty or malformed
URIs), or whose id it answered not found or without an image (remembered in `backfill_log`); nor an artist with
no usable id (own, or recoverable from tracks), or whose id it answered so. A row Spotify may still fill (its
id not asked yet, or failed) is never a fallback's. Rows are keyed as the user's file keys them (the track URI,
the artist name): a key that several different tracks share (say, two episodes with an empty URI) is never
asked, since a fill by key would give them all one picture; nor a row with no artist name to search by.

Each provider remembers its own misses in `backfill_fallback_log` (not found, unconfirmed); a row is asked of
every provider, in priority order, that has not remembered it (a MissFilter says which remembered misses count,
as for Spotify's). A failure is never remembered. A fill is guarded by `IS NULL` in the UPDATE's WHERE clause,
so a value set meanwhile (by Spotify, by hand, by anyone) stays, and names its provider in `backfill_provenance`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb

from backfill.kinds import KINDS, SQL_TRACK_URI_RE, TRACK_URI_PREFIX, LogKind, is_http_url
from backfill.records import (
    REMEMBERED,
    FallbackKindPlan,
    FallbackPlan,
    KindPlan,
    Lookup,
    MissFilter,
    Outcome,
    Plan,
    utcnow,
)
from backfill.store.lookups import LOCAL_PREFIX, artist_lookup, track_lookup
from backfill.store.pending import artist_rows, pages
from backfill.store.provenance import Written, ensure_provenance, record
from backfill.store.schema import FALLBACK_LOG_TABLE, LOG_TABLE, OWN_DDL, Schema, one
from backfill.store.selection import Writable

QUEUES: dict[LogKind, str] = {"track": "backfill_fallback_track_queue", "artist": "backfill_fallback_artist_queue"}
EVIDENCE = 100  # at most this many of an artist's track titles (and album names), most-played first


@dataclass(frozen=True, slots=True)
class Ask:
    """One row to ask about, and the providers to ask, in priority order (those that remembered it left out)."""

    lookup: Lookup
    providers: tuple[str, ...]


def _spotify_missed(schema: Schema, kind: LogKind, id_sql: str) -> str:
    if not schema.has_log:
        return "FALSE"
    return (
        f"EXISTS (SELECT 1 FROM {LOG_TABLE} l WHERE l.kind = '{kind}' AND l.spotify_id = {id_sql} "
        "AND l.outcome IN ('not_found', 'no_image'))"
    )


def _text(schema_has: bool, column: str) -> str:
    return f"coalesce(trim({column}), '')" if schema_has else "''"


def track_rows(schema: Schema) -> str:
    """SQL: one row per track key Spotify cannot fill: (key, title, artist, album, plays, usable)."""
    uri = "t.spotify_track_uri"
    title = _text(schema.has_track_names, "t.track_name")
    artist = _text(schema.has_track_names, "t.primary_artist_name")
    album = _text(schema.has_album_name, "t.album_name")
    invalid = f"NOT coalesce(regexp_full_match({uri}, '{SQL_TRACK_URI_RE}'), FALSE)"
    missed = _spotify_missed(schema, "track", f"substr({uri}, {len(TRACK_URI_PREFIX) + 1})")
    local_artist = "trim(replace(split_part(k.key, ':', 3), '+', ' '))"
    plays = (
        "LEFT JOIN (SELECT spotify_track_uri AS key, count(*) AS n FROM plays GROUP BY 1) p USING (key)"
        if schema.has_plays
        else ""
    )
    return f"""
        SELECT k.key, k.title, k.artist, k.album, {"coalesce(p.n, 0)" if schema.has_plays else "0"} AS plays,
               k.same AND (k.artist <> '' OR (k.key LIKE '{LOCAL_PREFIX}%' AND {local_artist} <> '')) AS usable
        FROM (SELECT {uri} AS key, min({title}) AS title, min({artist}) AS artist, min({album}) AS album,
                     min({title}) = max({title}) AND min({artist}) = max({artist}) AND min({album}) = max({album})
                     AS same
              FROM tracks t WHERE t.album_image_url IS NULL AND {uri} IS NOT NULL AND ({invalid} OR {missed})
              GROUP BY 1) k {plays}"""


def artist_keys(schema: Schema) -> str:
    """SQL: one row per artist name Spotify cannot fill: (key, plays, usable)."""
    missed = _spotify_missed(schema, "artist", "r.id")
    return f"""
        SELECT r.name AS key, max(r.plays) AS plays, trim(r.name) <> '' AS usable
        FROM ({artist_rows(schema, False, True)}) r WHERE r.name IS NOT NULL
        GROUP BY r.name HAVING bool_and(r.id IS NULL OR {missed})"""


def _evidence(schema: Schema) -> str:
    """SQL: per artist name in the artist queue `c`, the user's track titles and album names by that name."""
    named = []
    if schema.has_track_names:
        album = "album_name" if schema.has_album_name else "NULL"
        named.append(f"SELECT primary_artist_name AS artist, track_name AS title, {album} AS album FROM tracks")
    if schema.has_plays and schema.has_play_names:
        named.append("SELECT artist_name, track_name, album_name FROM plays")
    if not named:
        return "SELECT NULL::VARCHAR AS artist, NULL::VARCHAR[] AS tracks, NULL::VARCHAR[] AS albums WHERE FALSE"
    rows = " UNION ALL ".join(named)
    return f"""
        WITH n AS (SELECT * FROM ({rows}) WHERE artist IN (SELECT key FROM c)),
             t AS (SELECT artist, title AS v, count(*) AS k FROM n WHERE trim(title) <> '' GROUP BY ALL),
             a AS (SELECT artist, album AS v, count(*) AS k FROM n WHERE trim(album) <> '' GROUP BY ALL)
        SELECT coalesce(tl.artist, al.artist) AS artist, tl.tracks, al.albums
        FROM (SELECT artist, list(v ORDER BY k DESC, v)[1:{EVIDENCE}] AS tracks FROM t GROUP BY 1) tl
        FULL JOIN (SELECT artist, list(v ORDER BY k DESC, v)[1:{EVIDENCE}] AS albums FROM a GROUP BY 1) al
          USING (artist)"""


@dataclass
class Fallback:
    """Rows Spotify cannot fill, asked of `providers` (in priority order) minus what each remembered."""

    providers: tuple[str, ...]
    misses: MissFilter = field(default_factory=MissFilter)
    has_image = False
    recovers_ids = True  # an artist whose id tracks recover is Spotify's to fill, not a fallback's

    def begin(self, schema: Schema) -> None:
        pass

    def skip(self, schema: Schema, kind: LogKind) -> tuple[str, list[Any]]:
        return "FALSE", []  # the fallback's own queue skips per provider (see `_asks`)

    def _asks(self, schema: Schema, kind: LogKind) -> tuple[list[str], list[Any]]:
        """Per provider, an SQL condition on candidates `c`: true when that provider is to be asked."""
        cutoff = self.misses.cutoff()
        if not schema.has_fallback_log or cutoff is None:
            return ["TRUE"] * len(self.providers), []
        remembered = (
            f"NOT EXISTS (SELECT 1 FROM {FALLBACK_LOG_TABLE} f WHERE f.provider = ? AND f.kind = '{kind}' "
            "AND f.row_key = c.key AND f.checked_at > ?)"
        )
        return [remembered] * len(self.providers), [x for p in self.providers for x in (p, cutoff)]

    def queue(self, con: duckdb.DuckDBPyConnection, schema: Schema, kinds: Sequence[str]) -> Plan:
        plan = Plan(KindPlan(), KindPlan(), schema.log_repair, fallback=FallbackPlan(self.providers))
        assert plan.fallback is not None
        for name, rows in (("tracks", track_rows(schema)), ("artists", artist_keys(schema))):
            if name not in kinds or (name == "artists" and not schema.has_artists):
                continue
            kind = KINDS[name].log
            asks, params = self._asks(schema, kind)
            columns = ", ".join(f"{a} AS ask_{i}" for i, a in enumerate(asks))
            extra = "c.title, c.artist, c.album" if kind == "track" else "e.tracks, e.albums"
            evidence = "" if kind == "track" else f"LEFT JOIN ({_evidence(schema)}) e ON e.artist = c.key"
            any_ask = " OR ".join(f"ask_{i}" for i in range(len(asks))) or "FALSE"
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {QUEUES[kind]} AS
                    WITH c AS (SELECT * FROM ({rows}) WHERE usable),
                         q AS (SELECT c.key, {extra}, c.plays, {columns or "NULL AS none"} FROM c {evidence})
                    SELECT * EXCLUDE (plays), {any_ask} AS pending FROM q
                    ORDER BY pending DESC, plays DESC, key""",
                params,
            )
            total, usable = one(con, f"SELECT count(*), count(*) FILTER (WHERE usable) FROM ({rows})")
            counts = one(
                con,
                f"SELECT count(*) FILTER (WHERE pending), "
                f"{''.join(f'count(*) FILTER (WHERE ask_{i}), ' for i in range(len(asks)))}0 FROM {QUEUES[kind]}",
            )
            k = FallbackKindPlan(total, total - usable, counts[0], usable - counts[0])
            k.per_provider = {p: counts[1 + i] for i, p in enumerate(self.providers)}
            setattr(plan.fallback, name, k)
            setattr(plan, name, KindPlan(missing_rows=total, invalid=total - usable, ids=usable, pending=k.asked))
            getattr(plan, name).remembered = k.remembered
        return plan

    def apply(self, store: Writable, outcomes: Sequence[Outcome]) -> dict[str, int]:
        """Fill NULL columns with the providers' images (provenance alongside), remember their misses, and clear
        a provider's remembered miss for a row it has now answered. Returns the rows filled per kind."""
        filled = {"tracks": 0, "artists": 0, "recovered": 0}
        fills: dict[str, dict[str, Outcome]] = {"tracks": {}, "artists": {}}
        answered: dict[tuple[str, str, str], Outcome] = {}  # (provider, kind, key) → what it said
        for o in outcomes:
            if o.status == "failed":
                continue  # never remembered: the next run asks again
            answered[(o.source, KINDS[o.kind].log, o.id)] = o
            if o.status == "updated" and is_http_url(o.url):
                fills[o.kind].setdefault(o.id, o)
        if not answered:
            return filled
        now = utcnow()
        with store.transaction() as con:
            schema = store.schema
            if any(fills.values()):
                schema = ensure_provenance(con, schema)
            for name, by_key in fills.items():
                if by_key:
                    filled[name] = _fill(con, name, by_key, now)
            store.schema = _remember(con, schema, answered, now)
        return filled


def _fill(con: duckdb.DuckDBPyConnection, name: str, by_key: dict[str, Outcome], now: Any) -> int:
    k = KINDS[name]
    new = "(SELECT unnest($1::VARCHAR[]) AS key, unnest($2::VARCHAR[]) AS url) u"
    fills = f"t.{k.key} = u.key AND t.{k.image} IS NULL"
    params = [list(by_key), [o.url for o in by_key.values()]]
    # The rows filled, read first (same transaction, same condition) rather than with RETURNING: see
    # backfill.store.writes on replaying the write-ahead log.
    rows = con.execute(f"SELECT DISTINCT t.{k.key}, u.url FROM {k.table} t JOIN {new} ON {fills}", params).fetchall()
    written: list[Written] = []
    for key, value in rows:
        o = by_key[key]
        written.append((key, value, o.source, o.provider_id, o.confirmed_by))
    record(con, k.log, written, now)
    return int(one(con, f"UPDATE {k.table} AS t SET {k.image} = u.url FROM {new} WHERE {fills}", params))


def _remember(
    con: duckdb.DuckDBPyConnection, schema: Schema, answered: dict[tuple[str, str, str], Outcome], now: Any
) -> Schema:
    """Each provider's answers: an earlier remembered miss of the row cleared, a new miss remembered."""
    misses = {key: o for key, o in answered.items() if o.status in REMEMBERED}
    if misses and not schema.has_fallback_log:
        con.execute(OWN_DDL[FALLBACK_LOG_TABLE].format(name=FALLBACK_LOG_TABLE))
        schema = replace(schema, has_fallback_log=True)
    if not schema.has_fallback_log:
        return schema
    keys = [[p for p, _, _ in answered], [k for _, k, _ in answered], [r for _, _, r in answered]]
    con.execute(
        f"""DELETE FROM {FALLBACK_LOG_TABLE} f USING
            (SELECT unnest($1::VARCHAR[]) AS p, unnest($2::VARCHAR[]) AS k, unnest($3::VARCHAR[]) AS r) a
            WHERE f.provider = a.p AND f.kind = a.k AND f.row_key = a.r""",
        keys,
    )
    if misses:
        con.execute(
            f"""INSERT INTO {FALLBACK_LOG_TABLE} SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]),
                unnest($3::VARCHAR[]), unnest($4::VARCHAR[]), unnest($5::VARCHAR[]), $6""",
            [
                [p for p, _, _ in misses],
                [k for _, k, _ in misses],
                [r for _, _, r in misses],
                [o.status for o in misses.values()],
                [" | ".join(o.candidates) or None for o in misses.values()],
                now,
            ],
        )
    return schema


def lookup_pages(
    con: duckdb.DuckDBPyConnection, kind: LogKind, providers: Sequence[str], pending: int
) -> Generator[list[Ask], None, None]:
    """Pages of the fallback queue of `kind`, most-played first: each row's lookup and the providers to ask."""
    asks = ", ".join(f"ask_{i}" for i in range(len(providers))) or "NULL"
    columns = "key, title, artist, album" if kind == "track" else "key, tracks, albums"
    for page in pages(con, QUEUES[kind], f"{columns}, [{asks}]", pending):
        out = []
        for *row, flags in page:
            lookup = track_lookup(row[0], row[1], row[2], row[3]) if kind == "track" else artist_lookup(*row)
            out.append(Ask(lookup, tuple(p for p, ask in zip(providers, flags or (), strict=False) if ask)))
        yield out
