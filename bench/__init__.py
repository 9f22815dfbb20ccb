"""`make bench`: figures for the README, never assertions in `make test`.

Runs the real `python -m backfill run` as a separate process against the Spotify emulator, which is served
from a thread of this process, and prints one table. See `python -m bench --help`.
"""
