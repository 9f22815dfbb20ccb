"""A local stand-in for the dashboard's production Postgres, to try `backfill sync` by hand.

    python -m tests.pg.postgres data/sample.duckdb

starts a throwaway PostgreSQL (pgserver.py), fills a database `wrapped` from the history as the predecessor's
full re-sync does (production.py), prints the POSTGRES_URL to use and waits; Ctrl-C (or SIGTERM) stops the
server and removes its files. Give it the history before `backfill run`, then sync after the run.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

DATABASE = "wrapped"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pg.postgres", allow_abbrev=False)
    parser.add_argument("history", type=Path, help="the DuckDB history to fill production from")
    args = parser.parse_args(argv)
    if not args.history.is_file():
        print(f"tests.pg.postgres: error: database not found: {args.history}", file=sys.stderr)
        return 2
    import psycopg  # a dev dependency, like the server

    from tests.pg.pgserver import PgServer
    from tests.pg.production import full_resync

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with PgServer.start() as server:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(server.url(DATABASE)) as con:
            copied = full_resync(args.history, con)
        rows = ", ".join(f"{n:,} {table}" for table, n in copied.items())
        print(f"Production Postgres filled from {args.history} ({rows}). Ctrl-C stops it.", file=sys.stderr)
        print(f"POSTGRES_URL={server.url(DATABASE)}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    print("Stopped; its files are removed.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
