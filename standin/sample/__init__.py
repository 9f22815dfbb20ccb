"""A deterministic sample world: a fake Spotify catalog and a listening history that refers to it.

The catalog (what the emulator serves) depends only on (seed, tracks, artists); the history written to DuckDB
follows the whole SampleSpec. The history holds the awkward cases a backfill meets in real files: ids Spotify
no longer knows, local files and episodes, malformed URIs, albums released twice under one name, albums longer
than one 50-track page, artist names without an id (recoverable from `tracks` or not), names sharing an id,
and rows whose image was filled before (and must never change). `World` records the right answer for all of it.

    python -m standin.sample data/sample.duckdb --tracks 125000 --artists 3000

The modules, in the order a world is made: `world` (SampleSpec, World, the answer rule), `randomness` and
`names`, `catalog_builder` (the emulator's catalog), `history` with `unknown_rows`, `odd_rows` and
`artist_rows` (the history and its answers), `duckdb_file` (writing it), `command` (the command line).
"""

from standin.sample.catalog_builder import build_catalog
from standin.sample.command import main
from standin.sample.duckdb_file import write_history
from standin.sample.history import build_world
from standin.sample.world import (
    BASE62,
    IMAGE_HOST,
    LONG_ALBUM_PAGE,
    OTHER_IMAGE_HOST,
    PREFERRED_WIDTH,
    TRACK_PREFIX,
    Columns,
    SampleSpec,
    World,
    preferred_image,
)

__all__ = [
    "BASE62",
    "IMAGE_HOST",
    "LONG_ALBUM_PAGE",
    "OTHER_IMAGE_HOST",
    "PREFERRED_WIDTH",
    "TRACK_PREFIX",
    "Columns",
    "SampleSpec",
    "World",
    "build_catalog",
    "build_world",
    "main",
    "preferred_image",
    "write_history",
]
