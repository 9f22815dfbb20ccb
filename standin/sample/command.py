"""`python -m standin.sample PATH`: write a sample history as a new DuckDB file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import standin.sample as package
from standin.sample.duckdb_file import write_history
from standin.sample.history import build_world
from standin.sample.world import SampleSpec


def main(argv: Sequence[str] | None = None) -> int:
    summary = (package.__doc__ or "").splitlines()[0]  # the package docstring's first line
    parser = argparse.ArgumentParser(
        prog="python -m standin.sample",
        description=summary + " `python -m standin` serves the matching catalog.",
    )
    defaults = SampleSpec()
    add = parser.add_argument
    add("path", help="the DuckDB file to create")
    add("--seed", type=int, default=defaults.seed, help=f"which world (default {defaults.seed}, the emulator's too)")
    add("--tracks", type=int, default=defaults.tracks, help=f"rows in tracks (default {defaults.tracks})")
    add("--artists", type=int, default=defaults.artists, help=f"artists in the catalog (default {defaults.artists})")
    add("--plays", type=int, default=None, help="rows in plays (default 2 * tracks; 0: no plays table)")
    add(
        "--prefilled",
        type=float,
        default=defaults.prefilled,
        help=f"share of rows that already have an image (default {defaults.prefilled:g})",
    )
    add(
        "--unknown",
        type=float,
        default=defaults.unknown,
        help=f"share of ids Spotify does not know (default {defaults.unknown:g})",
    )
    add(
        "--odd",
        type=float,
        default=defaults.odd,
        help=f"share of track URIs that are not track ids: local files, episodes, empty (default {defaults.odd:g})",
    )
    add("--old-schema", action="store_true", help="tracks without primary_artist_id")
    add(
        "--dashboard-schema",
        action="store_true",
        help="also what the dashboard's scripts add: 5 secondary indexes, audio_features, genre_mappings, "
        "primary_artist_id by ALTER TABLE",
    )
    add("--force", action="store_true", help="replace PATH if it exists")
    args = parser.parse_args(argv)
    try:
        spec = SampleSpec(
            seed=args.seed,
            tracks=args.tracks,
            artists=args.artists,
            plays=args.plays,
            prefilled=args.prefilled,
            unknown=args.unknown,
            odd=args.odd,
            old_schema=args.old_schema,
            dashboard_schema=args.dashboard_schema,
        )
    except ValueError as exc:
        parser.error(str(exc))
    path = Path(args.path)
    if path.exists():
        if not args.force:
            print(f"{parser.prog}: error: {path} exists (pass --force to replace it)", file=sys.stderr)
            return 2
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
    world = build_world(spec)
    write_history(world, path)
    pending = sum(u is None for u in world.tracks_table["album_image_url"])
    print(
        f"wrote {path}: {spec.tracks:,} tracks ({pending:,} without art), "
        f"{len(world.artists_table['artist_name']):,} artists, {spec.play_count:,} plays; "
        f"catalog: {len(world.catalog.tracks):,} tracks, {len(world.catalog.albums):,} albums"
    )
    same = [
        f"--{name} {getattr(spec, name)}"
        for name in ("seed", "tracks", "artists")
        if getattr(spec, name) != getattr(defaults, name)
    ]
    print(f"serve its catalog with: {' '.join(['python -m standin', *same])}")
    return 0
