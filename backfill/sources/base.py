"""The one interface every image source implements, and what the engine may expect of it.

A source answers items of the kinds it knows, in batches where it can and one by one otherwise. It owns its
pace and its Retry-After gate, counts its own requests, and turns every server behaviour into a typed `Answer`
or one of two exceptions: `GiveUp` (the source is lost for the rest of the run: a wait longer than allowed,
unreachable, mute, not the service) and `Fatal` (no further request can succeed: stop the run). A failure of
one item is an `Answer` whose status is "failed": the engine may ask the next source for it.

The engine holds an ordered line-up of sources (`Lineup`) and knows no concrete class; tests hand it fakes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from backfill.records import Lookup
from backfill.sources.answers import Answer
from backfill.sources.health import Fatal, SourceDown
from backfill.sources.http import Kind, RateLimited
from backfill.sources.pacing import Pace

# The ways a source can be lost for the rest of a run; the engine moves its remaining work to the next source.
GiveUp = (RateLimited, SourceDown)
LostSource = RateLimited | SourceDown

__all__ = ["Answer", "Fatal", "GiveUp", "Kind", "Lineup", "Lookup", "LostSource", "Source"]


@runtime_checkable
class Source(Protocol):
    """What the engine calls. `name` keys the summaries and the JSON ("api", "oembed", ...)."""

    name: str
    provider: str  # whose images: "spotify" (the Web API and oEmbed alike), "deezer", "musicbrainz"
    pace: Pace
    requests: Counter[str]  # per kind, every request sent (retries included)
    # The kinds it has images for (MusicBrainz: album art only): the engine asks it about no other kind.
    kinds: frozenset[Kind]

    @property
    def label(self) -> str:
        """How a person reads its name: "the Web API", "oEmbed"."""
        ...

    def batch_allowed(self, kind: Kind) -> bool | None:
        """True: `batch` answers this kind; False: it never will; None: not known until a first batch answered."""
        ...

    async def probe_settled(self, kind: Kind) -> bool | None:
        """Wait for the first batch call of this kind to end; then `batch_allowed(kind)`."""
        ...

    async def batch(self, kind: Kind, ids: Sequence[str]) -> dict[str, Answer] | None:
        """One answer per id asked, in one call; None when this source may not batch this kind (found out now)."""
        ...

    def singles(
        self, kind: Kind, ids: Sequence[str], lookups: Mapping[str, Lookup]
    ) -> AsyncIterator[tuple[str, Answer]]:
        """Each id's answer, one by one or grouped as the source sees fit (e.g. tracks of one album), in any
        order; raises a GiveUp exception when the source is lost, leaving the ids not yet answered to others.
        `lookups`: for a fallback provider, what the history says of each id (a row key); Spotify's ignore it."""
        ...


@dataclass(frozen=True)
class Lineup:
    """The sources of a run, in the order they are tried: batches first, then single items, cheapest first."""

    batch: tuple[Source, ...] = ()  # sources whose batch calls are tried first
    single: tuple[Source, ...] = ()  # sources asked item by item, in this order, each for what the last failed
    all: tuple[Source, ...] = field(init=False)

    def __post_init__(self) -> None:
        seen: dict[str, Source] = {}
        for source in (*self.batch, *self.single):
            seen.setdefault(source.name, source)
        object.__setattr__(self, "all", tuple(seen.values()))

    def named(self, name: str) -> Source | None:
        return next((s for s in self.all if s.name == name), None)


class SingleItemSource:
    """Defaults for a source without batch calls."""

    def batch_allowed(self, kind: Kind) -> bool | None:
        return False

    async def probe_settled(self, kind: Kind) -> bool | None:
        return False

    async def batch(self, kind: Kind, ids: Sequence[str]) -> dict[str, Answer] | None:
        return None
