"""The stand-in world used by tests, the demo and the benchmark, never by a real run.

- `server`: the Spotify emulator (Web API, accounts token endpoint, oEmbed), `python -m standin`.
- `render`: the Web API's JSON shapes for catalog objects.
- `catalog`: what this "Spotify" knows; `sample`: listening histories that refer to it, with the right answers.
- `demo`: `backfill demo`.
- `production`, `pgserver`: the dashboard's Postgres as the predecessor keeps it, and a throwaway server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from standin.config import EmulatorConfig, Received
    from standin.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "Received"]
_HOMES = {"Emulator": "standin.server", "EmulatorConfig": "standin.config"}
_HOMES["Received"] = "standin.config"


def __getattr__(name: str) -> Any:
    # Imported on first use: `python -m tests.pg.production` (the bench's stand-in for the
    # predecessor's sync script) then starts with what that script imports, not with the emulator's aiohttp.
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
