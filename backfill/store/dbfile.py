"""What the --db file is, before DuckDB opens it, and why DuckDB would not: one clear line for each case.

- A DuckDB file has `DUCK` at offset 8 (after an 8-byte checksum), then its storage version (a little-endian
  uint64) and, at offset 52, the DuckDB version that created it (up to 32 bytes, NUL-padded).
- Other files are named by their own magic (SQLite, Parquet, JSON, CSV, ...), so the user learns what was given.
- DuckDB's own messages (storage too new or too old, a held lock) become one line naming the versions or the
  holder (its PID and, when /proc tells, its command line).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from backfill.errors import StoreError, first_line

DUCKDB_MAGIC = b"DUCK"
_MAGIC_AT = 8
_STORAGE_AT = 12
_CREATOR_AT = 52
_CREATOR_LEN = 32
_EXPECTED = "expected a DuckDB listening history such as data/spotify.duckdb"


@dataclass(frozen=True)
class Header:
    storage_version: int
    created_by: str  # e.g. "v1.0.0"; "" when the file does not say


def _version(text: str) -> tuple[int, ...] | None:
    m = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+).*", text)
    return tuple(int(g) for g in m.groups()) if m else None


def _what_it_is(head: bytes) -> str:
    """A short name for a file that is not DuckDB's, from its first bytes."""
    if head.startswith(b"SQLite format 3\x00"):
        return "an SQLite database"
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    try:
        text = head.decode("utf-8").lstrip("\ufeff \t\r\n")
    except UnicodeDecodeError:
        return "not a DuckDB file (unknown format)"
    if text.startswith(("{", "[")):
        return "a JSON file"
    lines = text.splitlines()[:2]
    for sep in (",", "\t", ";"):  # a header and a row with the same number of separators
        if len(lines) == 2 and lines[0].count(sep) > 0 and lines[0].count(sep) == lines[1].count(sep):
            return "a CSV file"
    return "a text file"


def sniff(path: Path) -> Header:
    """The header of a DuckDB file; StoreError (one line) when path is missing or not a DuckDB file."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a DuckDB file ({_EXPECTED})")
    if not path.is_file():
        raise StoreError(f"database not found: {path} (set BACKFILL_DB or pass --db)")
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise StoreError(f"{path} is empty, not a DuckDB file ({_EXPECTED})")
    if head[_MAGIC_AT : _MAGIC_AT + 4] != DUCKDB_MAGIC:
        what = _what_it_is(head)
        if what.startswith("not "):
            raise StoreError(f"{path} is {what}; {_EXPECTED}")
        raise StoreError(f"{path} is {what}, not a DuckDB file ({_EXPECTED})")
    storage = int.from_bytes(head[_STORAGE_AT : _STORAGE_AT + 8], "little")
    creator = head[_CREATOR_AT : _CREATOR_AT + _CREATOR_LEN].split(b"\x00", 1)[0].decode("ascii", "replace")
    return Header(storage, creator if _version(creator) else "")


def refuse_unreadable(path: Path, header: Header, exc: duckdb.Error) -> StoreError:
    """DuckDB could not open the file: say which versions disagree and what to do, in one line."""
    text = str(exc)
    ours = f"DuckDB {duckdb.__version__}"
    named = re.search(r"created with (?:an? )?(?:newer |older )?DuckDB version (v\d+\.\d+\.\d+(?: or v\S+)*)", text)
    made = f"DuckDB {header.created_by or (named[1].rstrip('.') if named else 'of another version')}"
    if "version number" in text:
        newer = "newer" in text or (_version(header.created_by) or (0,)) > (_version(duckdb.__version__) or (0,))
        if newer:
            return StoreError(
                f"{path} was written by {made} (storage version {header.storage_version}), which this tool's {ours} "
                f"cannot read: upgrade backfill's DuckDB (pip install -U duckdb) and run again"
            )
        return StoreError(
            f"{path} was created by {made} (storage version {header.storage_version}), too old for this tool's "
            f"{ours}: convert it with EXPORT DATABASE in {made} and IMPORT DATABASE in DuckDB 1.0 or later"
        )
    return StoreError(f"cannot open database {path}: {first_line(exc)}")


# DuckDB 2.0 rewrites catalog entries in a form DuckDB 0.9 cannot read (measured: "found field id: 101"), while
# files created by 0.10 and later stay readable once we create no index (see store.py). Older files are refused.
OLDEST_KEPT = (0, 10, 0)


def refuse_if_unkeepable(path: Path, header: Header) -> None:
    """Before any write: refuse a file that a write by our DuckDB would make unreadable for its creator."""
    made = _version(header.created_by)
    if made is not None and made < OLDEST_KEPT:
        raise StoreError(
            f"{path} was created by DuckDB {header.created_by}, which could not read it after a write by this "
            f"tool's DuckDB {duckdb.__version__} (files from DuckDB 0.10 on stay readable): convert it with EXPORT "
            f"DATABASE in DuckDB {header.created_by} and IMPORT DATABASE in the DuckDB your dashboard uses"
        )


def refuse_if_unwritable(path: Path) -> None:
    """Before any request: a run writes the file, and DuckDB creates its .wal (and a .tmp folder) beside it."""
    if not os.access(path, os.W_OK):
        raise StoreError(f"{path} is read-only: backfill writes the images into it (make it writable)")
    folder = path.resolve().parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot write in {folder}: DuckDB must create {path.name}.wal beside the database (make the folder "
            "writable, or copy the file elsewhere)"
        )


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<prog>.+?) \(PID (?P<pid>\d+)\)")


def lock_holder(text: str) -> str:
    """' (PID 1234: python -m backfill run …)' from DuckDB's lock error, or '' when it names nobody."""
    holder = _LOCK_HOLDER.search(text)
    if not holder:
        return ""
    command = holder["prog"]
    try:
        raw = Path(f"/proc/{holder['pid']}/cmdline").read_bytes()
        if raw.strip(b"\x00"):
            command = " ".join(a.decode("utf-8", "replace") for a in raw.rstrip(b"\x00").split(b"\x00"))
    except OSError:
        pass  # not Linux, or the process is gone: DuckDB's program name will do
    if len(command) > 120:
        command = command[:117] + "..."
    return f" (PID {holder['pid']}: {command})"


def is_lock_error(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


# The oldest DuckDB that opens a file, by the storage version number in its header. DuckDB 2.0 writes its own
# format (a larger number) unless told to write an older one; the dashboard reads through DuckDB 1.4.
_OPENED_FROM = {64: "0.10", 65: "1.2", 66: "1.3", 67: "1.4", 68: "1.5"}
DASHBOARD_DUCKDB = "1.4"
_DASHBOARD_STORAGE = 67


def dashboard_cannot_open(path: Path, header: Header) -> str | None:
    """One line when the dashboard's DuckDB cannot open the file (None when it can, or the header is unknown)."""
    number = header.storage_version
    if number <= _DASHBOARD_STORAGE:
        return None
    oldest = _OPENED_FROM.get(number, "2.0")
    return (
        f"note: {path} can be opened only by DuckDB >= {oldest} (storage version {number}): the dashboard's "
        f"duckdb-async {DASHBOARD_DUCKDB} cannot open it"
    )
