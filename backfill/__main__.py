"""`python -m backfill` and the `backfill` script: a thin entry point over backfill.cli."""

from __future__ import annotations

from backfill import interrupts


def run() -> int:
    interrupts.install()  # before the imports: they take a moment, and a signal may come then too
    try:
        from backfill.cli import main
    except KeyboardInterrupt:
        return interrupts.report()
    return main()


if __name__ == "__main__":
    raise SystemExit(run())
