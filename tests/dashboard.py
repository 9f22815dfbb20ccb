"""The dashboard's own DuckDB engine as a reader of our files: Node with @duckdb/node-api 1.4.2.

The dashboard reads the history through duckdb-async 1.4.2 (DuckDB engine 1.4.2); @duckdb/node-api 1.4.2, from
the npm registry, runs that engine. It is installed once under .cache/node (`python -m tests.dashboard
--install`, which the Makefile runs; tests install it themselves when it is missing). One Node process reads
many files (tests/dashboard_reader.mjs), so a test pays Node's start once.

Without node/npm on PATH the tests that need it are skipped, unless BACKFILL_NODE=1 (set by the Makefile):
then it is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREFIX = ROOT / ".cache" / "node"
PACKAGE = "@duckdb/node-api"
VERSION = "1.4.2-r.1"  # the npm release of DuckDB 1.4.2 for Node
READER = Path(__file__).with_name("dashboard_reader.mjs")
ENGINE = "v1.4.2"


def installed() -> bool:
    manifest = PREFIX / "node_modules" / PACKAGE / "package.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("version") == VERSION
    except (OSError, ValueError):
        return False


def install() -> None:
    """npm install into the cache (skipped when that version is there)."""
    if installed():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found: install Node.js and npm (Debian: apt-get install nodejs npm)")
    PREFIX.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(PREFIX), "--no-save", "--no-audit", "--no-fund", f"{PACKAGE}@{VERSION}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not installed():
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")


def required() -> None:
    """In a test: install if needed; skip when Node is absent (a failure under BACKFILL_NODE=1)."""
    if not installed() and (shutil.which("node") is None or shutil.which("npm") is None):
        if os.environ.get("BACKFILL_NODE"):
            pytest.fail("node and npm are needed for the dashboard reader (apt-get install nodejs npm)")
        pytest.skip("node/npm not installed: the dashboard's DuckDB 1.4.2 reader is skipped")
    install()


def env() -> dict[str, str]:
    return {**os.environ, "DUCKDB_NODE_PREFIX": str(PREFIX)}


def command(mode: str, *args: object, read_only: bool = False) -> list[str]:
    node = shutil.which("node") or "node"
    return [node, str(READER), mode, *map(str, args), *(["--read-only"] if read_only else [])]


def read(paths: Sequence[Path], *, read_only: bool = False) -> dict[Path, dict[str, Any]]:
    """Each file opened as the dashboard opens it, and its Top Tracks and Top Artists (or the error)."""
    done = subprocess.run(command("queries", *paths, read_only=read_only), capture_output=True, text=True, env=env())
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    return {Path(r["path"]): r for r in results}


def read_one(path: Path) -> dict[str, Any]:
    return read([path])[path]


if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        sys.exit("usage: python -m tests.dashboard --install")
    install()
