"""One backfill run, set-up checks included: what `backfill run` does once its arguments are read."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp

from backfill.config import DEFAULT_OEMBED_RATE, Settings
from backfill.engine.fallbacks import FallbackRun, run_fallbacks
from backfill.engine.pipeline import Pipeline, Progress
from backfill.errors import SetupError, StoreError
from backfill.records import Replacements, RunRecord
from backfill.sources.auth import CredentialsRejected, TokenUnavailable
from backfill.sources.http import ClientOptions, RateLimited
from backfill.sources.lineup import SourceChoice, SourceOptions, check_fallbacks, chosen, connections, open_lineup
from backfill.store.fallback import Fallback
from backfill.store.refresh import Refresh
from backfill.store.selection import Fill, Selection
from backfill.store.store import MissFilter, Plan, Store
from backfill.store.waits import Wait

T = TypeVar("T")
# Tests set this to a file name: planning writes it, then runs a query of some seconds (it ends on its own, so a
# run that failed to interrupt it shows how it fails), and notes in the file when that query was not interrupted.
PLANNING_MARKER = "BACKFILL_TEST_PLANNING_MARKER"


@dataclass(frozen=True)
class RunConfig:
    settings: Settings
    kinds: tuple[str, ...] = ("tracks", "artists")
    misses: MissFilter = field(default_factory=MissFilter)
    client: ClientOptions = field(default_factory=ClientOptions)
    source: SourceChoice = "auto"
    oembed: ClientOptions = field(default_factory=lambda: ClientOptions(rate=DEFAULT_OEMBED_RATE))
    lock_timeout: float = 30.0  # seconds to wait for a file another process holds: at start, and for a write
    refresh: bool = False  # fetch again the images rows already have (backfill.store.refresh)
    older_than_days: float | None = None  # refresh: skip ids a refresh checked within this many days

    @property
    def source_options(self) -> SourceOptions:
        return SourceOptions(self.source, self.client, self.oembed)

    def sources(self, *, check: bool = True) -> tuple[bool, bool]:
        """(use the Web API, use oEmbed): see backfill.sources.lineup.chosen."""
        return chosen(self.source, self.settings, check=check)


@dataclass(frozen=True)
class RunReport:
    result: RunRecord
    plan: Plan
    db: dict[str, tuple[int, int]]  # per table: (rows, rows with an image), after the run
    refreshed: Replacements | None = None  # a refresh: what it replaced (and journaled)
    fallbacks: tuple[FallbackRun, ...] = ()  # each fallback provider's phase, in priority order


def selection(config: RunConfig) -> Selection:
    """What the run works on: rows without an image (remembered misses skipped), or with --refresh those with one."""
    if config.refresh:
        return Refresh(older_than_days=config.older_than_days)
    return Fill(config.misses)


def open_store(config: RunConfig, *, read_only: bool, for_run: bool = False, chosen: Selection | None = None) -> Store:
    """The user's file, for the run's selection (or `chosen`: a fallback phase's)."""
    return Store.open(
        config.settings.db_path,
        read_only=read_only,
        need_artists="artists" in config.kinds,
        for_run=for_run,
        lock_timeout=config.lock_timeout,
        selection=chosen or selection(config),
    )


def make_plan(config: RunConfig) -> Plan:
    """Check the database read-only and count what is pending (raises StoreError)."""
    store = open_store(config, read_only=True, for_run=True)
    try:
        plan = store.plan(config.kinds)
        if config.sources(check=False)[0]:
            plan.api_wait = store.source_wait("api")  # a quota an earlier run met: no request before its end
    finally:
        store.close()
    providers = config.settings.fallback
    if providers and not config.refresh:  # what each provider would be asked, as things stand now
        check_fallbacks(config.settings, providers)
        store = open_store(config, read_only=True, chosen=Fallback(providers, config.misses))
        try:
            plan.fallback = store.plan(config.kinds).fallback
        finally:
            store.close()
    return plan


async def execute(
    config: RunConfig,
    plan: Plan,
    *,
    progress: Callable[[Plan], Progress] | None = None,
    started: Callable[[Pipeline], None] | None = None,
) -> RunReport:
    """Fetch and store. `plan` comes from make_plan(); `started` receives the pipeline (to halt it)."""
    settings, kinds = config.settings, config.kinds
    config.sources()  # a missing credential: an error before anything
    nothing_to_do = plan.tracks.pending + plan.artists.pending == 0
    wait = plan.api_wait
    api_closed = RateLimited(wait.seconds, wait.quota, "api") if wait is not None and wait.seconds > 0 else None
    connector = aiohttp.TCPConnector(limit=connections(config.source_options))
    # Proxies from the environment are looked up once (backfill.sources.proxy), not by trust_env on every request.
    async with aiohttp.ClientSession(connector=connector) as session:
        try:  # the credentials are part of the set-up check
            lineup = await open_lineup(
                session, settings, config.source_options, api_closed=api_closed, check_credentials=not nothing_to_do
            )
        except (CredentialsRejected, TokenUnavailable) as exc:
            raise SetupError(str(exc)) from None
        # Nothing pending: no token, no request and no write, so a read-only connection will do (unless an
        # earlier version's log must be rebuilt, which needs no network). DuckDB calls run on a thread so that
        # signals are still handled while they work.
        read_only = nothing_to_do and not plan.log_repair
        store = await asyncio.to_thread(lambda: open_store(config, read_only=read_only))
        try:
            # Again: another process may have filled rows since the first look. Then let go of the file: the
            # writer attaches it for each batch.
            plan = dataclasses.replace(await _on_thread(store, lambda: _plan(store, kinds)), api_wait=plan.api_wait)
            await _on_thread(store, store.release)
            bars = progress(plan) if progress else None
            if bars is not None:
                for source in lineup.all:
                    source.pace.gate.on_close = _waiting(bars, source.name)
            pipeline = Pipeline(
                store,
                plan,
                lineup=lineup,
                kinds=kinds,
                workers=config.client.concurrency,
                progress=bars,
                write_seconds=settings.write_seconds,
                write_results=settings.write_results,
            )
            if started:
                started(pipeline)
            try:
                result = await pipeline.run()
            finally:
                if bars is not None:
                    bars.close()
            result = await _note_wait(store, result, plan)
            await asyncio.to_thread(store.release)
            db = store.counts_now()  # the plan's counts plus what was committed: the file is not opened again
            refreshed = None
            if isinstance(store.selection, Refresh):
                refreshed = Replacements(dict(store.selection.replaced), dict(store.selection.replaced_ids))
        finally:
            store.close()
        fallbacks: tuple[FallbackRun, ...] = ()
        if settings.fallback and not config.refresh and result.stopped in (None, "rate_limited"):
            fallbacks = tuple(
                await run_fallbacks(
                    session,
                    settings,
                    lambda chosen: open_store(config, read_only=False, for_run=True, chosen=chosen),
                    kinds,
                    config.misses,
                    workers=config.client.concurrency,
                    progress=progress,
                    started=started,
                )
            )
            db = next((run.db for run in reversed(fallbacks) if run.db), db)
        return RunReport(result, plan, db, refreshed, fallbacks)


async def _on_thread(store: Store, work: Callable[[], T]) -> T:
    """Run a blocking store call on a thread. Cancelled (Ctrl-C, SIGTERM), interrupt DuckDB's query and wait
    for the thread to give the connection back: closing it meanwhile would fail as busy."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        # DuckDB interrupts only a query that is running: a signal just before the next statement starts would be
        # lost, so interrupt again until the work gives up.
        while not task.done():
            store.interrupt()
            await asyncio.wait({task}, timeout=0.05)
        with contextlib.suppress(Exception):  # the query's own "interrupted" error: the cancel is what counts
            task.result()
        raise


def _plan(store: Store, kinds: tuple[str, ...]) -> Plan:
    marker = os.environ.get(PLANNING_MARKER)
    if marker:
        Path(marker).write_text("planning\n")
        store.reader().execute("SELECT max(hash(range)) FROM range(10_000_000_000)").fetchall()
        Path(marker).write_text("planned, not interrupted\n")
    return store.plan(kinds)


async def _note_wait(store: Store, result: RunRecord, plan: Plan) -> RunRecord:
    """Remember a wait the Web API asked for that outlasts --max-wait, so a later run spends nothing on it; the
    record, stopped by the error if that write failed."""
    limited = result.given_up.get("api")
    if result.rate_limited_by == "api" and result.resume_after is not None:
        wait = Wait(result.resume_after, result.quota)
    elif isinstance(limited, RateLimited):
        wait = Wait(limited.resume_after, limited.quota)
    else:
        return result
    if plan.api_wait is not None and abs((plan.api_wait.resume_after - wait.resume_after).total_seconds()) < 60:
        return result  # the remembered one, met again
    if isinstance(result.error, StoreError):
        return result
    try:
        await asyncio.to_thread(store.note_wait, "api", wait)
    except StoreError as exc:
        return dataclasses.replace(result, error=exc, stopped="error")
    return result


def _waiting(bars: Progress, source: str) -> Callable[[float], None]:
    label = "Retry-After" if source == "api" else "oEmbed Retry-After"
    return lambda seconds: bars.waiting(seconds, label)
