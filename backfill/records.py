"""What a run plans and learns: the plan's counts, which remembered misses to skip, one outcome per id, and the
frozen record of a finished run that the reports are made from. Shared by every layer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from backfill.kinds import KindName

Status = Literal["updated", "no_image", "not_found", "unconfirmed", "failed"]
Stopped = Literal["rate_limited", "interrupted", "error"]
REMEMBERED: tuple[Status, ...] = ("not_found", "no_image", "unconfirmed")  # misses a later run skips
NEVER = datetime(1, 1, 1)  # a cutoff before every remembered miss: skip them all


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker learnt about one id; the writer turns a batch of these into a few statements."""

    kind: KindName
    id: str
    status: Status
    url: str | None = None
    names: tuple[str, ...] = ()  # artist names whose NULL spotify_artist_id was recovered as this id
    source: str = "spotify"  # who answered: "spotify", or a fallback provider ("deezer", "musicbrainz")
    provider_id: str | None = None  # a fallback: the provider's id of what it matched
    confirmed_by: str = ""  # a fallback: the history's evidence that confirmed the match
    candidates: tuple[str, ...] = ()  # unconfirmed: the candidates a person may pick from (`backfill set`)


@dataclass(frozen=True, slots=True)
class Lookup:
    """A row a fallback provider is asked about, as the user's history describes it (fallbacks know no Spotify
    id: they search by names, and the history confirms or refuses what they find)."""

    key: str  # the row: a track URI (`spotify:track:…`, `spotify:local:…`, anything), or an artist name
    artist: str  # the artist name
    title: str = ""  # tracks: the track title
    album: str = ""  # tracks: the album name ("" when unknown, as for many local files)
    tracks: tuple[str, ...] = ()  # artists: the user's track titles by this name
    albums: tuple[str, ...] = ()  # artists: the user's album names by this name


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
class FallbackKindPlan:
    """One kind's rows for the fallback providers (counted by row key: a key is one lookup)."""

    rows: int = 0  # keys whose image is NULL and that Spotify cannot fill (no usable id, or a remembered miss)
    unusable: int = 0  # of those, nothing to search by: no artist name, or one key shared by different tracks
    asked: int = 0  # keys at least one provider is to be asked about (the queue's length)
    remembered: int = 0  # keys every provider remembered a miss for: asked of none
    per_provider: dict[str, int] = field(default_factory=dict)  # provider → keys it would be asked, at most


@dataclass
class FallbackPlan:
    providers: tuple[str, ...]  # in priority order
    tracks: FallbackKindPlan = field(default_factory=FallbackKindPlan)
    artists: FallbackKindPlan = field(default_factory=FallbackKindPlan)


@dataclass
class Plan:
    tracks: KindPlan
    artists: KindPlan
    log_repair: bool = False  # the run must open the file for writing even with nothing to fetch
    api_wait: Any = None  # backfill.store.waits.Wait: the Web API asked an earlier run to wait until then
    fallback: FallbackPlan | None = None  # a fallback store's plan: what each provider would be asked


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- a finished run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindCounts:
    """One kind's counts at the end of a run: what was committed, not what was fetched."""

    pending: int = 0
    updated: int = 0  # image rows committed (a row filled meanwhile by someone else is not counted)
    no_image: int = 0  # these three: answers whose transaction committed
    not_found: int = 0
    unconfirmed: int = 0  # fallbacks: candidates found, none confirmed by the history (remembered)
    found: int = 0  # ids with an image
    failed: int = 0
    recovered: int = 0  # artist rows given the id Spotify confirmed (committed)
    unwritten: int = 0  # answers fetched whose write failed: the next run asks again

    @property
    def answered(self) -> int:
        return self.found + self.no_image + self.not_found + self.unconfirmed + self.failed

    @property
    def remaining(self) -> int:
        """Pending ids this run did not reach (it was stopped)."""
        return self.pending - self.answered


@dataclass(frozen=True)
class PaceFigures:
    """Where a source's pace went during the run (an adaptive pace drops on 429s and climbs back)."""

    ceiling: float
    lowest: float
    rate: float  # at the end
    adaptive: bool


@dataclass(frozen=True)
class RunRecord:
    """A finished run, frozen: every report (text, JSON) is made from this and the plan."""

    stats: Mapping[str, KindCounts]
    requests: Mapping[str, Mapping[str, int]]  # source → kind → requests sent
    served: Mapping[tuple[str, str], int]  # (kind, source) → items answered
    paces: Mapping[str, PaceFigures]
    given_up: Mapping[str, Exception]  # source → why, while another did its work
    stopped: Stopped | None = None
    resume_after: datetime | None = None
    quota: bool = False
    rate_limited_by: str | None = None  # the source whose wait stopped the run
    error: BaseException | None = None
    nothing_works: bool = False  # stopped because the first answers were all misses or failures
    diagnosis: str = ""  # what the not-found and failed answers had in common
    unremembered: int = 0  # "not found" answers not remembered, since nothing else worked either

    def requests_of(self, kind: str) -> int:
        return sum(per_kind.get(kind, 0) for per_kind in self.requests.values())

    @property
    def total_requests(self) -> int:
        return sum(sum(per_kind.values()) for per_kind in self.requests.values())


@dataclass(frozen=True)
class Replacements:
    """What a refresh replaced, per kind: rows, and the ids whose answers replaced them (committed)."""

    rows: Mapping[str, int]
    ids: Mapping[str, int]
