"""What the fallback providers (Deezer, MusicBrainz and its Cover Art Archive) share.

A fallback provider is asked by row keys, with what the history says of each row (`Lookup`): it searches by
names and lets the history confirm or refuse what it finds (backfill.sources.matching). Every request names
this tool, its version and where to reach its maintainers: MusicBrainz drops clients with a generic agent.
Redirects are never followed: the providers' APIs give none, and one to a login page is not an answer.
Searches and catalogues are remembered for the run (`Memo`), so the rows of one album cost one search.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Generic, TypeVar

from backfill import __version__
from backfill.records import Lookup
from backfill.sources.answers import Answer
from backfill.sources.base import SingleItemSource
from backfill.sources.http import Kind, PacedSource, Reply, RequestFailed, fetch
from backfill.sources.matching import (
    AlbumCandidate,
    ArtistCandidate,
    Confirmed,
    NotFound,
    PlayedTrack,
    Unconfirmed,
    Verdict,
    normalise,
    normalise_title,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def user_agent(contact: str | None) -> str:
    """`backfill/0.1.0 ( you@example.org )`: the application, its version and a contact (BACKFILL_CONTACT), as
    MusicBrainz asks of every client; without a contact, the application and version alone."""
    return f"backfill/{__version__} ( {contact} )" if contact else f"backfill/{__version__}"


class Memo(Generic[K, V]):
    """Values worked out once per key for the run; callers asking for a key being worked out wait for it.
    A failure is not remembered: the next caller works the value out again."""

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        self._locks: dict[K, asyncio.Lock] = {}

    async def get(self, key: K, make: Callable[[], Awaitable[V]]) -> V:
        if key in self._values:
            return self._values[key]
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._values:
                self._values[key] = await make()
            return self._values[key]


def played(lookup: Lookup) -> PlayedTrack:
    return PlayedTrack(lookup.artist.strip(), lookup.album.strip(), lookup.title.strip())


def album_search(lookup: Lookup) -> tuple[PlayedTrack, str, tuple[str, str]] | None:
    """The row, the album title to search for, and the key its search is remembered by for the run; None when
    there is nothing to search by. A row without an album can only be a single named like its track."""
    row = played(lookup)
    wanted = row.album or row.title
    if not row.artist or not wanted:
        return None
    return row, wanted, (normalise(row.artist), normalise_title(wanted))


async def album_answer(
    verdict: Verdict[AlbumCandidate], provider: str, image: Callable[[AlbumCandidate], Awaitable[Answer]]
) -> Answer:
    """A track row's answer from its album verdict: the confirmed album's cover (`image`), or why there is none."""
    if isinstance(verdict, NotFound):
        return Answer("not_found")
    if isinstance(verdict, Unconfirmed):
        named = tuple(f"{c.title} by {c.artist_name} ({provider} {c.id})" for c in verdict.candidates)
        return Answer("unconfirmed", candidates=named)
    return confirmed(await image(verdict.candidate), verdict)


def confirmed(answer: Answer, verdict: Confirmed[AlbumCandidate] | Confirmed[ArtistCandidate]) -> Answer:
    """`answer` (the image, or none) as the confirmed candidate's, with the evidence that confirmed it."""
    return replace(answer, provider_id=verdict.candidate.id, confirmed_by=", ".join(verdict.evidence))


class PoliteSource(PacedSource):
    """Sends with this tool's User-Agent and follows no redirect."""

    service = "the service"  # what its answers are, for the health rules: "the Deezer API"
    agent = user_agent(None)  # each source sets its own, with the run's contact

    async def _send(self, url: str, params: dict[str, str] | None) -> tuple[Reply, object]:
        reply = await fetch(
            self._session,
            "GET",
            url,
            params=params,
            headers={"User-Agent": self.agent, "Accept": "application/json"},
            timeout=self._options.timeout,
            allow_redirects=False,
            via=self._via,
        )
        return reply, None

    def _unusable(self, reply: Reply) -> None:
        # A redirect, or JSON that is not an object, is not this service's answer; a body that is not JSON at
        # all may be a broken answer of the service itself (cut off), so it is only retried and fails.
        if 300 <= reply.status < 400:
            self.health.wrong(f"HTTP {reply.status}, a redirect to {reply.location or 'nowhere'}", self.service)
        elif reply.error is None:
            shape = "an empty body" if reply.body is None else f"JSON that is a {type(reply.body).__name__}"
            self.health.wrong(f"{shape}, not an object", self.service)


class FallbackSource(SingleItemSource, PoliteSource):
    """A provider's request loop, asked about rows by their keys; subclasses answer one row (`_row`)."""

    provider = "fallback"

    async def singles(
        self, kind: Kind, ids: Sequence[str], lookups: Mapping[str, Lookup]
    ) -> AsyncIterator[tuple[str, Answer]]:
        for key in ids:
            lookup = lookups.get(key)
            if kind not in self.kinds:
                yield key, Answer("failed", why=f"{self.label} has no {kind} images")
                continue
            if lookup is None:
                yield key, Answer("failed", why=f"{self.label}: nothing known of {key!r} to search by")
                continue
            try:
                answer = await self._row(kind, lookup)
            except RequestFailed as exc:
                answer = Answer.failure(exc)
            yield key, answer

    async def _row(self, kind: Kind, lookup: Lookup) -> Answer:
        raise NotImplementedError
