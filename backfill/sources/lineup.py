"""Which sources a run uses, in which order, and how each is opened: the one place a new source registers.

`--source auto` (the default): without credentials, oEmbed alone; with them, the Web API's batch calls where the
app may use them, then oEmbed item by item, then the Web API's single-item calls for what oEmbed could not answer.
`api` and `oembed` use that source alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from backfill.config import DEFAULT_OEMBED_RATE, Settings
from backfill.errors import ConfigError
from backfill.sources.api import SpotifyClient
from backfill.sources.auth import TokenSource
from backfill.sources.base import Lineup, Source
from backfill.sources.deezer import DeezerSource
from backfill.sources.http import ClientOptions, RateLimited
from backfill.sources.musicbrainz import MusicBrainzSource
from backfill.sources.oembed import OEmbedClient

SourceChoice = Literal["auto", "api", "oembed"]


@dataclass(frozen=True)
class SourceOptions:
    """How the sources of a run pace themselves (and which are chosen)."""

    choice: SourceChoice = "auto"
    api: ClientOptions = field(default_factory=ClientOptions)
    oembed: ClientOptions = field(default_factory=lambda: ClientOptions(rate=DEFAULT_OEMBED_RATE))


def chosen(choice: SourceChoice, settings: Settings, *, check: bool = True) -> tuple[bool, bool]:
    """(use the Web API, use oEmbed). Raises ConfigError when the API is needed but a credential is missing
    (unless `check` is false: a dry run needs no credentials)."""
    if choice == "oembed":
        return False, True
    if choice == "api":
        if check:
            settings.require_credentials()
        return True, False
    if not settings.has_credentials:
        return False, True
    if check:
        settings.require_credentials()  # one credential without the other: name the missing one
    return True, True


async def open_lineup(
    session: aiohttp.ClientSession,
    settings: Settings,
    options: SourceOptions,
    *,
    api_closed: RateLimited | None = None,
    check_credentials: bool = True,
) -> Lineup:
    """The run's sources, opened on `session`. `api_closed`: a remembered wait the Web API asked for, still
    running: its gate is shut from the start (in auto, its work goes to oEmbed at once). With
    `check_credentials`, a token is fetched now: refused credentials raise before anything is read or written."""
    use_api, use_oembed = chosen(options.choice, settings)
    api: Source | None = None
    oembed: Source | None = None
    if use_api:
        client_id, client_secret = settings.require_credentials()
        tokens = TokenSource(session, settings.token_url, client_id, client_secret, timeout=options.api.timeout)
        client = SpotifyClient(session, tokens, settings.api_url, options.api)
        if api_closed is not None:
            client.pace.gate.shut(api_closed)
        elif check_credentials:
            await tokens.get()
        api = client
    if use_oembed:
        oembed = OEmbedClient(session, settings.oembed_url, options.oembed)
    batch = tuple(s for s in (api,) if s is not None)
    single = tuple(s for s in (oembed, api) if s is not None)  # oEmbed first: it spends no Web API quota
    return Lineup(batch=batch, single=single)


# The fallback providers, by the name --fallback and BACKFILL_FALLBACK give them: the one place a provider registers.
FALLBACKS: dict[str, Callable[[aiohttp.ClientSession, Settings], Source]] = {
    "deezer": lambda session, s: DeezerSource(session, s.deezer_url, contact=s.contact),
    "musicbrainz": lambda session, s: MusicBrainzSource(session, s.musicbrainz_url, s.coverart_url, contact=s.contact),
}


def check_fallbacks(settings: Settings, names: tuple[str, ...]) -> None:
    """Before anything is read: what a chosen provider needs is there (ConfigError otherwise)."""
    if "musicbrainz" in names and not settings.contact:
        raise ConfigError(
            "MusicBrainz asks every client for a contact: set BACKFILL_CONTACT to your email address or a URL "
            "(it goes in the User-Agent), or leave musicbrainz out of --fallback"
        )


def open_fallbacks(session: aiohttp.ClientSession, settings: Settings, names: tuple[str, ...]) -> tuple[Source, ...]:
    """The fallback providers asked, in this order, for what Spotify cannot fill."""
    check_fallbacks(settings, names)
    return tuple(FALLBACKS[name](session, settings) for name in names)


def connections(options: SourceOptions) -> int:
    """Connections the run's session may hold open: each source's concurrency."""
    return options.api.concurrency + options.oembed.concurrency
