"""One backfill run, set-up checks included: what `backfill run` does once its arguments are read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from backfill.config import Settings
from backfill.pipeline import Pipeline, Progress, RunResult
from backfill.spotify import ClientOptions, SpotifyClient
from backfill.store import MissFilter, Plan, Store
from backfill.token import CredentialsRejected, TokenSource, TokenUnavailable


class SetupError(Exception):
    """A check before the first write failed; nothing was written."""


@dataclass(frozen=True)
class RunConfig:
    settings: Settings
    kinds: tuple[str, ...] = ("tracks", "artists")
    misses: MissFilter = field(default_factory=MissFilter)
    client: ClientOptions = field(default_factory=ClientOptions)
    refresh: bool = False  # fetch again the images rows already have (backfill.refresh)
    older_than_days: float | None = None  # refresh: skip ids a refresh checked within this many days


@dataclass
class RunReport:
    result: RunResult
    plan: Plan
    db: dict[str, tuple[int, int]]  # per table: (rows, rows with an image), after the run
    replaced: dict[str, int] | None = None  # refresh: per kind, images replaced (and journaled)


def open_store(config: RunConfig, *, read_only: bool) -> Store:
    need_artists = "artists" in config.kinds
    if not config.refresh:
        return Store.open(config.settings.db_path, read_only=read_only, need_artists=need_artists)
    from backfill.refresh import RefreshStore

    store = RefreshStore.open(config.settings.db_path, read_only=read_only, need_artists=need_artists)
    store.older_than_days = config.older_than_days
    return store


def make_plan(config: RunConfig) -> Plan:
    """Check the database read-only and count what is pending (raises StoreError)."""
    store = open_store(config, read_only=True)
    try:
        return store.plan(config.misses, config.kinds)
    finally:
        store.close()


async def execute(
    config: RunConfig,
    plan: Plan,
    *,
    progress: Callable[[Plan], Progress] | None = None,
    started: Callable[[Pipeline], None] | None = None,
) -> RunReport:
    """Fetch and store. `plan` comes from make_plan(); `started` receives the pipeline (to halt it)."""
    settings, kinds = config.settings, config.kinds
    client_id, client_secret = settings.require_credentials()
    nothing_to_do = plan.tracks.pending + plan.artists.pending == 0
    connector = aiohttp.TCPConnector(limit=config.client.concurrency)
    # Proxies from the environment are looked up once (backfill.proxy), not by trust_env on every request.
    async with aiohttp.ClientSession(connector=connector) as session:
        tokens = TokenSource(session, settings.token_url, client_id, client_secret)
        client = SpotifyClient(session, tokens, settings.api_url, config.client)
        if not nothing_to_do:
            try:
                await tokens.get()  # the credentials are part of the set-up check
            except (CredentialsRejected, TokenUnavailable) as exc:
                raise SetupError(str(exc)) from None
        # Nothing pending: no token, no request and no write, so a read-only connection will do.
        # DuckDB calls run on a thread so that signals are still handled while they work.
        store = await asyncio.to_thread(lambda: open_store(config, read_only=nothing_to_do))
        try:
            # Again: another process may have filled rows since the first look.
            plan = await asyncio.to_thread(store.plan, config.misses, kinds)
            bars = progress(plan) if progress else None
            pipeline = Pipeline(
                store,
                client,
                plan,
                kinds=kinds,
                workers=config.client.concurrency,
                progress=bars,
            )
            if started:
                started(pipeline)
            try:
                result = await pipeline.run()
            finally:
                if bars is not None:
                    bars.close()
            counts = await asyncio.to_thread(store.image_counts)
            return RunReport(result, plan, counts, getattr(store, "replaced", None) if config.refresh else None)
        finally:
            store.close()
