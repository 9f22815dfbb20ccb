"""Every error backfill raises on purpose, in one hierarchy, each with the exit code it ends the command with.

Shared by every layer; imports nothing of backfill. The CLI maps an error to its code through `exit_code`, so a
new error class says its code where it is defined, not in a table elsewhere.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # some items failed after retries, or a source refused access
EXIT_USAGE = 2  # usage, configuration or database error: nothing was written
EXIT_RATE_LIMITED = 75  # EX_TEMPFAIL: stopped by a rate limit or quota, try again later
EXIT_SIGINT = 130
EXIT_BROKEN_PIPE = 141  # what a shell reports for SIGPIPE: the reader (e.g. `| head`) stopped reading
EXIT_SIGTERM = 143


class BackfillError(Exception):
    """The base of backfill's own errors; `exit_code` is what the command ends with."""

    exit_code = EXIT_FAILED


class UsageError(BackfillError):
    """Bad arguments or input: one line, exit 2, nothing changed."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A setting (environment, .env, option) that cannot be used."""


class StoreError(BackfillError):
    """The database file cannot be used as asked (missing, locked, not DuckDB, wrong shape): nothing written."""

    exit_code = EXIT_USAGE


class SyncError(BackfillError):
    """Postgres cannot be synced (unreachable, refused, wrong shape): Postgres unchanged."""

    exit_code = EXIT_USAGE


class SetupError(BackfillError):
    """A check before the first write failed (e.g. credentials refused); nothing was written."""

    exit_code = EXIT_USAGE


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers add detail lines, hints and carets), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
