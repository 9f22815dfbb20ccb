"""`python -m backfill` and the `backfill` script: a thin entry point over backfill.cli.main."""

from __future__ import annotations

import os
import sys

from backfill.cli import signals as interrupts


def run() -> int:
    interrupts.install()  # before the imports: they take a moment, and a signal may come then too
    try:
        from backfill.cli.main import main
    except KeyboardInterrupt:
        code = interrupts.report()
        interrupts.ignore_from_now()
        sys.stderr.flush()
        os._exit(code)  # half-imported modules: leave without their teardown
    code = main()
    interrupts.ignore_from_now()
    return code


if __name__ == "__main__":
    raise SystemExit(run())
