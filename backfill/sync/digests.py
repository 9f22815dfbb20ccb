"""Comparing the history with Postgres without moving the values: 64-bit digests of keys and values.

Both sides describe a row by the same record: the key's digest, then per column a presence byte and the value's
digest (nine zero bytes when NULL). A digest is the first 8 bytes of the MD5 of the text's UTF-8 bytes (MD5
because every Postgres and DuckDB has it; this is change detection, not security). Postgres sends its records,
about 17 bytes a track instead of about 100 for key and URL; the history's come from DuckDB. Only the rows
Postgres lacks then travel up, in full. A false match needs a 64-bit collision: under 1 in 10^10 for a whole
history of 25,000 rows. And whatever the digests say, the UPDATE only ever fills a NULL, or replaces one of the
values that the history's refresh journal says backfill replaced in that row, named in its WHERE clause (with
NULL, where backfill set the row back to NULL: a value to send of None with values to replace).
"""

from __future__ import annotations

import hashlib
from typing import cast

from backfill.errors import SyncError
from backfill.sync.model import ColumnCounts, Target

DIGEST = 8  # bytes
_ABSENT = b"\x00" * (1 + DIGEST)


def duckdb_record(key: str, values: list[str]) -> tuple[str, str]:
    """DuckDB SQL for a row's key digest and the rest of its record (BLOBs)."""
    digest = "unhex(left(md5({}), 16))"  # md5() of a VARCHAR hashes its UTF-8 bytes
    absent = "'" + "\\x00" * (1 + DIGEST) + "'::BLOB"
    parts = [f"CASE WHEN {v} IS NULL THEN {absent} ELSE '\\x01'::BLOB || {digest.format(v)} END" for v in values]
    return digest.format(key), " || ".join(parts)


def postgres_query(target: Target) -> str:
    """Postgres SQL for one bytea: every row's record, one after another."""
    # convert_to: the UTF-8 bytes whatever the database's encoding, as DuckDB hashes them.
    digest = "decode(left(md5(convert_to(({})::text, 'UTF8')), 16), 'hex')"
    absent = "'\\x" + "00" * (1 + DIGEST) + "'::bytea"
    parts = [digest.format(target.key)]
    parts += [
        f"CASE WHEN {c} IS NULL THEN {absent} ELSE '\\x01'::bytea || {digest.format(c)} END" for c in target.columns
    ]
    rows = f"{target.table} WHERE {target.key} IS NOT NULL"
    return f"SELECT coalesce(string_agg({' || '.join(parts)}, ''::bytea), ''::bytea) FROM {rows}"


def present(value: str) -> bytes:
    """A column's part of a record for a value, as both SQL forms above compute it."""
    return b"\x01" + hashlib.md5(value.encode("utf-8")).digest()[:DIGEST]


Row = tuple[str | bytes | None, ...]  # from history: key, each column's value, key digest, rest of the record
Theirs = dict[bytes, bytes | list[bytes]]  # key digest -> rest of the record (a list if the key repeats)
Replaceable = dict[str, tuple[tuple[str, ...], ...]]  # key -> per column, values Postgres may have to replace
# A row to send: the key, per column the value to write (or None), then per column the values it may replace
# besides NULL (or None).
Send = tuple[str | bytes | list[str] | None, ...]


def index(target: Target, blob: bytes) -> Theirs:
    """Postgres's records by key digest. Without its primary key, a table may repeat a key: then a list."""
    size = DIGEST + len(_ABSENT) * len(target.columns)
    if len(blob) % size:
        raise SyncError(f"Postgres sent {len(blob)} bytes of digests for {target.table}, not whole records")
    theirs: Theirs = {blob[i : i + DIGEST]: blob[i + DIGEST : i + size] for i in range(0, len(blob), size)}
    if len(theirs) * size == len(blob):
        return theirs
    theirs = {}
    for i in range(0, len(blob), size):
        found = theirs.setdefault(blob[i : i + DIGEST], [])
        assert isinstance(found, list)
        found.append(blob[i + DIGEST : i + size])
    return theirs


def compare(
    target: Target, ours: list[Row], theirs: Theirs, replaceable: Replaceable | None = None
) -> tuple[dict[str, ColumnCounts], list[Send]]:
    """The counts per column, and the rows to send: (key, value per column, None where Postgres has one it
    keeps; then the values each may replace)."""
    n = len(target.columns)
    key_at, record_at = 1 + n, 2 + n  # the key's digest and the rest of the record: bytes
    get = theirs.get
    # Usually Postgres has exactly our values: those rows are settled by one comparison each, in C.
    others = [(row, found) for row in ours if (found := get(cast(bytes, row[key_at]))) != row[record_at]]
    counts = [ColumnCounts() for _ in range(n)]
    for i in range(n):
        counts[i].already_set = sum(1 for row in ours if row[1 + i] is not None)
        counts[i].already_set -= sum(1 for row, _ in others if row[1 + i] is not None)
    replaceable = replaceable or {}
    send: list[Send] = []
    for row, found in others:
        values = row[1 : 1 + n]
        if found is None:
            for i in range(n):
                if values[i] is not None:
                    counts[i].missing_in_postgres += 1
            continue
        olds = replaceable.get(str(row[0]), ((),) * n)
        needed, guards = _column_by_column(values, cast(bytes, row[record_at]), found, olds, counts)
        if any(v is not None or g is not None for v, g in zip(needed, guards, strict=True)):
            send.append((row[0], *needed, *guards))
    return dict(zip(target.columns, counts, strict=True)), send


def _column_by_column(
    values: Row, mine: bytes, found: bytes | list[bytes], olds: tuple[tuple[str, ...], ...], counts: list[ColumnCounts]
) -> tuple[list[str | bytes | None], list[list[str] | None]]:
    needed: list[str | bytes | None] = [None] * len(values)
    guards: list[list[str] | None] = [None] * len(values)
    width = len(_ABSENT)
    for record in found if isinstance(found, list) else [found]:
        for i, value in enumerate(values):
            theirs = record[i * width : (i + 1) * width]
            if value is None:  # backfill's own NULL (olds given): Postgres still has one of the values it replaced
                if olds[i] and theirs != _ABSENT and theirs in {present(old) for old in olds[i]}:
                    counts[i].refreshed += 1
                    guards[i] = list(olds[i])
                continue
            if theirs == _ABSENT:
                counts[i].pushed += 1
                needed[i] = value
            elif theirs == mine[i * width : (i + 1) * width]:
                counts[i].already_set += 1
            elif olds[i] and theirs in {present(old) for old in olds[i]}:
                counts[i].refreshed += 1
                needed[i], guards[i] = value, list(olds[i])
            else:
                counts[i].differing += 1
    return needed, guards
