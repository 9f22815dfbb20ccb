"""The stand-in world used by tests, the demo and the benchmark, never by a real run.

- `server`: the Spotify emulator (Web API, accounts token endpoint, oEmbed), `python -m backfill.emulator`.
- `render`: the Web API's JSON shapes for catalog objects.
- `catalog`: what this "Spotify" knows; `sample`: listening histories that refer to it, with the right answers.
- `demo`: `backfill demo`.
"""

from backfill.emulator.config import EmulatorConfig, Received
from backfill.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "Received"]
