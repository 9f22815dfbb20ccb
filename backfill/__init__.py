"""Fill missing Spotify image URLs in a listening-history DuckDB database.

Layers, top to bottom (each imports only from the layers below it; `make lint` checks this):
- `cli`: arguments, stdout/stderr, signals, progress bars; one module per command.
- `report`: text, JSON and HTML made from the result records.
- `engine`: one run: plan, producer → workers → single writer, the watchdog.  `sync`: push to Postgres.
- `sources`: everything that talks HTTP (the Source interface, Web API, oEmbed, pacing, tokens).
  `store`: everything that talks SQL to the user's file (open, attach, pending rows, guarded writes, journal).
- shared by all: `errors` (one hierarchy, each with its exit code), `config` (every default, the settings),
  `records` (what a run plans and answers), `ids` (Spotify id and URI formats).
"""

__version__ = "0.1.0"
