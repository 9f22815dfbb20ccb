"""The stand-in world used by tests, the demo and the benchmark, never by a real run.

- `server`: the Spotify emulator (Web API, accounts token endpoint, oEmbed), `python -m backfill.emulator`.
- `render`: the Web API's JSON shapes for catalog objects.
- `catalog`: what this "Spotify" knows; `sample`: listening histories that refer to it, with the right answers.
- `demo`: `backfill demo`.
- `production`, `pgserver`: the dashboard's Postgres as the predecessor keeps it, and a throwaway server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backfill.emulator.config import EmulatorConfig, Received
    from backfill.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "Received"]
_HOMES = {"Emulator": "backfill.emulator.server", "EmulatorConfig": "backfill.emulator.config"}
_HOMES["Received"] = "backfill.emulator.config"


def __getattr__(name: str) -> Any:
    # Imported on first use: `python -m backfill.emulator.production` (the bench's stand-in for the
    # predecessor's sync script) then starts with what that script imports, not with the emulator's aiohttp.
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
