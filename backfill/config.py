"""Settings from the environment and a `.env` file (the real environment wins)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values, find_dotenv

DEFAULT_DB = "data/spotify.duckdb"
DEFAULT_API_URL = "https://api.spotify.com/v1"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"
DEFAULT_OEMBED_URL = "https://open.spotify.com/oembed"
DEFAULT_OEMBED_RATE = 10.0  # oEmbed requests per second to start from (and never exceed); lowered on 429s


class ConfigError(Exception):
    """A setting is missing or unusable; the message names it."""


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
        env_file=dotenv if dotenv is not None and dotenv.is_file() else None,
    )


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
