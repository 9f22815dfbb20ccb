"""What a run plans and learns: the plan's counts, which remembered misses to skip, one outcome per id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from backfill.kinds import KindName

Status = Literal["updated", "no_image", "not_found", "failed"]
REMEMBERED: tuple[Status, ...] = ("not_found", "no_image")  # misses a later run skips
NEVER = datetime(1, 1, 1)  # a cutoff before every remembered miss: skip them all


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker learnt about one id; the writer turns a batch of these into a few statements."""

    kind: KindName
    id: str
    status: Status
    url: str | None = None
    names: tuple[str, ...] = ()  # artist names whose NULL spotify_artist_id was recovered as this id


@dataclass(frozen=True)
class MissFilter:
    """Which remembered misses (not found / no image) to skip."""

    retry_all: bool = False
    recheck_after_days: float | None = None

    def cutoff(self) -> datetime | None:
        """Misses checked after this instant are skipped; None: skip none."""
        if self.retry_all:
            return None
        if self.recheck_after_days is None:
            return NEVER
        try:
            return utcnow() - timedelta(days=self.recheck_after_days)
        except OverflowError:  # more days than the calendar holds: recheck none
            return NEVER


@dataclass
class KindPlan:
    missing_rows: int = 0  # rows whose image column is NULL
    invalid: int = 0  # of those, rows with no usable id (never sent to Spotify)
    ids: int = 0  # distinct usable ids
    remembered: int = 0  # ids skipped because an earlier run found no such id or no image
    pending: int = 0  # ids to fetch now
    recovered: int = 0  # artists: names whose id comes from tracks.primary_artist_id
    groups: dict[str, int] = field(default_factory=dict)  # tracks: album-group statistics for estimates


@dataclass
class Plan:
    tracks: KindPlan
    artists: KindPlan
    log_repair: bool = False  # the run must open the file for writing even with nothing to fetch
    api_wait: Any = None  # backfill.store.waits.Wait: the Web API asked an earlier run to wait until then


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
