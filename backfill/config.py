"""Settings from the environment and a `.env` file (the real environment wins), and every default, once.

Every variable is read here, in `load_settings`, with one rule per type; an unusable value is a ConfigError
naming the variable (exit 2), never a silent fall-back to the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values, find_dotenv

from backfill.errors import ConfigError

DEFAULT_DB = "data/spotify.duckdb"
DEFAULT_API_URL = "https://api.spotify.com/v1"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"
DEFAULT_OEMBED_URL = "https://open.spotify.com/oembed"
# Named in the User-Agent of every request to the fallback providers: MusicBrainz drops clients it cannot reach.
DEFAULT_OEMBED_RATE = 10.0  # oEmbed requests per second to start from (and never exceed); lowered on 429s
# The writer holds the user's file only to write a batch, and a dashboard opening the file at that moment
# fails: so it writes rarely, once this many seconds have passed since the first result it has not written,
# or once this many results wait, whichever comes first (BACKFILL_WRITE_SECONDS, BACKFILL_WRITE_RESULTS).
# A SIGKILL loses at most that much fetched work; Ctrl-C and SIGTERM write it first.
DEFAULT_WRITE_SECONDS = 10.0
# Also the largest batch. The run's peak of memory grows with it (a batch's answers and fills at once: 100,000
# put the 125k-track bench at 262 MB, 50,000 at 197 MB); a smaller one costs a table scan per batch.
DEFAULT_WRITE_RESULTS = 50_000
DEFAULT_TIMEOUT = 30.0  # BACKFILL_TIMEOUT: seconds one request may take
# BACKFILL_GIVE_UP_AFTER: a source with no answer at all for this long (and a few timeouts in a row) is mute.
# With the 30 s request timeout and a few retries, a mute source is given up within about two minutes.
DEFAULT_GIVE_UP_AFTER = 90.0
# Fallback providers for what Spotify cannot fill (BACKFILL_FALLBACK or --fallback, in priority order; none by
# default), and where each is.
FALLBACK_PROVIDERS = ("deezer", "musicbrainz")
DEFAULT_DEEZER_URL = "https://api.deezer.com"
DEFAULT_MUSICBRAINZ_URL = "https://musicbrainz.org/ws/2"
DEFAULT_COVERART_URL = "https://coverartarchive.org"
DEFAULT_EMBED_TIMEOUT = 5.0  # BACKFILL_EMBED_TIMEOUT: seconds for each picture `verify --embed-images` fetches


@dataclass(frozen=True)
class Settings:
    client_id: str | None
    client_secret: str | None
    db_path: Path
    api_url: str
    token_url: str
    oembed_url: str = DEFAULT_OEMBED_URL

    @property
    def has_credentials(self) -> bool:
        """Either credential set: the user means to use the Web API (a missing other one is then an error)."""
        return bool(self.client_id or self.client_secret)

    postgres_url: str | None = None  # POSTGRES_URL: where `backfill sync` pushes to
    write_seconds: float = DEFAULT_WRITE_SECONDS
    write_results: int = DEFAULT_WRITE_RESULTS
    timeout: float = DEFAULT_TIMEOUT
    give_up_after: float = DEFAULT_GIVE_UP_AFTER
    embed_timeout: float = DEFAULT_EMBED_TIMEOUT
    fallback: tuple[str, ...] = ()  # providers asked for what Spotify cannot fill, in priority order
    deezer_url: str = DEFAULT_DEEZER_URL
    musicbrainz_url: str = DEFAULT_MUSICBRAINZ_URL
    coverart_url: str = DEFAULT_COVERART_URL
    contact: str | None = None  # BACKFILL_CONTACT: an email or URL, sent in the User-Agent (MusicBrainz asks one)
    env_file: Path | None = None  # the .env that was read, if any

    def require_credentials(self) -> tuple[str, str]:
        missing = [
            name
            for name, value in (
                ("SPOTIFY_CLIENT_ID", self.client_id),
                ("SPOTIFY_CLIENT_SECRET", self.client_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"missing Spotify credentials: set {' and '.join(missing)} in the environment or in .env")
        assert self.client_id and self.client_secret
        return self.client_id, self.client_secret


def find_env_file() -> Path | None:
    """The nearest .env in the working directory or above it (a run from a subdirectory still finds it)."""
    found = find_dotenv(usecwd=True)
    return Path(found).resolve() if found else None


_FIND = Path("<find>")  # load_settings' default: look for the .env file


def load_settings(
    db: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    env_file: str | os.PathLike[str] | None = _FIND,
) -> Settings:
    """Read settings; `db` (the --db option) overrides BACKFILL_DB. `env_file`: by default the nearest .env
    upward from the working directory; None reads none."""
    dotenv = find_env_file() if env_file is _FIND else Path(env_file) if env_file is not None else None
    from_file = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} if dotenv else {}
    environment = os.environ if environ is None else environ
    values: dict[str, str] = {**from_file, **environment}

    def get(name: str, default: str | None = None) -> str | None:
        value = values.get(name, "").strip()
        return value or default

    return Settings(
        client_id=get("SPOTIFY_CLIENT_ID"),
        client_secret=get("SPOTIFY_CLIENT_SECRET"),
        db_path=_db_path(db, get("BACKFILL_DB"), None if "BACKFILL_DB" in environment else dotenv),
        api_url=(get("SPOTIFY_API_URL", DEFAULT_API_URL) or DEFAULT_API_URL).rstrip("/"),
        token_url=get("SPOTIFY_TOKEN_URL", DEFAULT_TOKEN_URL) or DEFAULT_TOKEN_URL,
        oembed_url=get("SPOTIFY_OEMBED_URL", DEFAULT_OEMBED_URL) or DEFAULT_OEMBED_URL,
        postgres_url=get("POSTGRES_URL"),
        write_seconds=_positive("BACKFILL_WRITE_SECONDS", get("BACKFILL_WRITE_SECONDS"), float, DEFAULT_WRITE_SECONDS),
        write_results=_positive("BACKFILL_WRITE_RESULTS", get("BACKFILL_WRITE_RESULTS"), int, DEFAULT_WRITE_RESULTS),
        timeout=_positive("BACKFILL_TIMEOUT", get("BACKFILL_TIMEOUT"), float, DEFAULT_TIMEOUT),
        give_up_after=_positive(
            "BACKFILL_GIVE_UP_AFTER", get("BACKFILL_GIVE_UP_AFTER"), float, DEFAULT_GIVE_UP_AFTER, zero=True
        ),
        embed_timeout=_positive("BACKFILL_EMBED_TIMEOUT", get("BACKFILL_EMBED_TIMEOUT"), float, DEFAULT_EMBED_TIMEOUT),
        fallback=parse_fallback(get("BACKFILL_FALLBACK") or "", "BACKFILL_FALLBACK"),
        deezer_url=(get("DEEZER_API_URL") or DEFAULT_DEEZER_URL).rstrip("/"),
        musicbrainz_url=(get("MUSICBRAINZ_API_URL") or DEFAULT_MUSICBRAINZ_URL).rstrip("/"),
        coverart_url=(get("COVERART_API_URL") or DEFAULT_COVERART_URL).rstrip("/"),
        contact=get("BACKFILL_CONTACT"),
        env_file=dotenv if dotenv is not None and dotenv.is_file() else None,
    )


def parse_fallback(text: str, where: str = "--fallback") -> tuple[str, ...]:
    """ "deezer,musicbrainz" → ("deezer", "musicbrainz"): known providers, each once, in the order given; "" or
    "none": none."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in FALLBACK_PROVIDERS]
    if unknown:
        known = ", ".join(FALLBACK_PROVIDERS)
        raise ConfigError(f"{where}: unknown provider {unknown[0]!r} (choose from {known}, or none)")
    return tuple(dict.fromkeys(names))


def _positive(name: str, text: str | None, kind: type[float] | type[int], default: float, *, zero: bool = False) -> Any:
    """A finite number greater than 0 (or equal, with `zero`), else a ConfigError naming the variable."""
    if text is None:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if not (value >= 0 if zero else value > 0) or not value < float("inf"):
        least = "0 or more" if zero else "greater than 0"
        raise ConfigError(f"{name} must be a number {least}, not {text!r}")
    return value


def _db_path(option: str | os.PathLike[str] | None, setting: str | None, dotenv: Path | None) -> Path:
    """--db, else BACKFILL_DB, else the default; `~` expanded. A relative BACKFILL_DB written in a .env
    elsewhere means the file next to that .env, as its author saw it, not one under the working directory."""
    if option is not None:
        return Path(option).expanduser()
    if not setting:
        return Path(DEFAULT_DB)
    path = Path(setting).expanduser()
    if dotenv is not None and not path.is_absolute() and dotenv.parent != Path.cwd().resolve():
        return dotenv.parent / path
    return path
