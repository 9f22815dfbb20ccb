"""`python -m bench`: run the scenarios, then print one table (and write it as Markdown with --out)."""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import (
    dashboard,
    fallback,
    floor,
    guide,
    lockshare,
    oembed,
    scale,
    sources,
    sync,
    throughput,
    verify_html,
    writer,
)
from bench.common import Context, Row, machine, say, stop_all_children

# Run order: floor compares itself with scale's figures; guide is the longest, so it goes last.
SCENARIOS: dict[str, Callable[[Context], None]] = {
    "throughput": throughput.run,
    "scale": scale.run,
    "writer": writer.run,
    "floor": floor.run,
    "lock": lockshare.run,
    "sync": sync.run,
    "sources": sources.run,
    "oembed": oembed.run,
    "dashboard": dashboard.run,
    "verify": verify_html.run,
    "fallback": fallback.run,
    "guide": guide.run,
}
HEADER = ("scenario", "figure", "value", "target", "verdict")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the backfill tool against the local Spotify emulator and print one table. "
        "Figures to report, never assertions: the exit status is 0 unless a scenario could not run.",
        epilog="scenarios: throughput (1), guide (2, ~40 min in full), scale (3), writer (4), floor (5), lock (6), "
        "sync (7), sources (8), oembed (9), dashboard (10), verify (11), fallback (12)",
    )
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), metavar="NAME", help="run only these scenarios")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few seconds per scenario")
    parser.add_argument("--out", type=Path, metavar="FILE", help="also write the table as Markdown to FILE")
    parser.add_argument("--workdir", type=Path, help="where history files go (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory afterwards")
    parser.add_argument("--serial", action="store_true", help="guide: run its four runs one after another")
    parser.add_argument(
        "--predecessor-pause",
        type=float,
        default=1.0,
        metavar="S",
        help="guide: seconds the predecessor sleeps after each artist call (default 1: its '1 artist/s')",
    )
    return parser


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _order(row: Row) -> int:
    number = row.scenario.split(" ", 1)[0]
    return int(number) if number.isdigit() else 0


def render(rows: Sequence[Row], notes: Sequence[str], info: dict[str, str], title: str) -> str:
    lines = [f"## {title}", ""]
    lines.append(
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM, Linux {info['kernel']}; "
        f"Python {info['python']}, duckdb {info['duckdb']}, aiohttp {info['aiohttp']}, "
        f"aiolimiter {info['aiolimiter']}, spotipy {info['spotipy']}; backfill at {info['revision']}."
    )
    lines += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in sorted(rows, key=_order):  # by scenario number; stable within a scenario
        cells = (
            row.scenario,
            row.figure,
            row.value,
            row.target,
            f"**{row.verdict}**" if row.verdict == "MISSED" else row.verdict,
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {_cell(n)}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    chosen = [name for name in SCENARIOS if not args.only or name in args.only]
    owned = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="backfill-bench-")) if owned else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        quick=args.quick,
        workdir=workdir,
        options={"serial": args.serial, "predecessor_pause": args.predecessor_pause},
    )
    ctx.note(
        "The emulator (standin) runs in a thread of the bench process, whose main thread only waits; "
        "the backfill CLI, the predecessor and the bare client each run as a separate process, so their memory "
        "and CPU are measured alone."
    )
    failed: list[str] = []
    interrupted = False
    started = time.perf_counter()
    try:
        for name in chosen:
            say(f"=== {name}{' (quick)' if args.quick else ''}")
            t0 = time.perf_counter()
            try:
                SCENARIOS[name](ctx)
            except Exception as exc:
                failed.append(name)
                traceback.print_exc()
                ctx.rows.append(Row(_number(name), "could not run", f"{type(exc).__name__}: {exc}"[:300], "", "ERROR"))
            say(f"=== {name} took {time.perf_counter() - t0:.1f} s")
    except KeyboardInterrupt:
        interrupted = True
        say("interrupted: stopping child processes")
        stop_all_children()
    finally:
        if owned and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep or not owned:
            say(f"working files kept in {workdir}")

    title = "Benchmark" + (" (--quick: smoke sizes, targets not meaningful)" if args.quick else "")
    if interrupted:
        title += " (interrupted: partial)"
    gc.unfreeze()  # frozen sample worlds: let the interpreter's teardown see them
    table = render(ctx.rows, ctx.notes, machine(), title)
    print(table)
    say(f"total {time.perf_counter() - started:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table, encoding="utf-8")
        say(f"table written to {args.out}")
    if interrupted:
        return 130
    return 1 if failed else 0


NUMBERS = {
    "throughput": "1", "guide": "2", "scale": "3", "writer": "4", "floor": "5", "lock": "6", "sync": "7",
    "sources": "8", "oembed": "9", "dashboard": "10", "verify": "11", "fallback": "12",
}  # fmt: skip


def _number(name: str) -> str:
    return NUMBERS[name] + " " + name


if __name__ == "__main__":
    sys.exit(main())
