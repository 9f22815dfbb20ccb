"""What sync works on and reports: the tables and columns it may fill, the counts per column, the report."""

from __future__ import annotations

from dataclasses import dataclass, field

from backfill.errors import SyncError

DEFAULT_CONNECT_TIMEOUT = 10


@dataclass(frozen=True)
class Target:
    table: str
    key: str  # the predecessor's primary key in Postgres
    columns: tuple[str, ...]  # filled where Postgres has NULL and DuckDB a value; nothing else is touched
    # Per column, its kind in the history's refresh journal (None: a refresh never replaces it): a value the
    # journal shows backfill replaced (or put back) is replaced in Postgres too.
    journaled: tuple[str | None, ...]


TARGETS = (
    Target("tracks", "spotify_track_uri", ("album_image_url",), ("track",)),
    Target("artists", "artist_name", ("image_url", "spotify_artist_id"), ("artist", None)),
)


@dataclass
class ColumnCounts:
    pushed: int = 0  # Postgres had NULL, now has the DuckDB value (in a dry run: would have)
    refreshed: int = 0  # Postgres had a value a refresh, set or undo replaced in DuckDB, now has DuckDB's (or NULL)
    already_set: int = 0  # Postgres already had the same value
    differing: int = 0  # both set, to different values (Postgres's not one backfill replaced): never changed
    missing_in_postgres: int = 0  # DuckDB has a value for a key Postgres has no row for


@dataclass
class SyncReport:
    postgres: str  # the URL, masked
    db_path: str
    dry_run: bool
    columns: dict[str, dict[str, ColumnCounts]] = field(default_factory=dict)  # table -> column -> counts
    rows_updated: dict[str, int] = field(default_factory=dict)  # table -> rows the UPDATE changed
    elapsed: float = 0.0
    digest_bytes: int = 0  # what Postgres sent to compare with (its rows' digests)
    rows_sent: int = 0  # rows COPYed up: only those Postgres lacks


def require(have: set[tuple[str, str]], where: str) -> None:
    """Every target table and column is there (`have`: (table, column) pairs, lower case), or a SyncError."""
    tables = {t for t, _ in have}
    for target in TARGETS:
        if target.table not in tables:
            raise SyncError(f"table '{target.table}' not found in {where}")
        for column in (target.key, *target.columns):
            if (target.table, column) not in have:
                raise SyncError(f"table '{target.table}' has no column '{column}' in {where}")
