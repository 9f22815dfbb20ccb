"""`backfill demo`: the only command that uses the stand-in world (package `standin`), imported when called."""

from __future__ import annotations

import argparse


def cmd_demo(args: argparse.Namespace, argv: list[str]) -> int:
    from standin.demo import run_demo

    return run_demo(args, argv)
