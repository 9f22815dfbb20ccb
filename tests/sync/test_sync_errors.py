"""`backfill sync` errors: one line, exit 2, Postgres unchanged, and the password never printed."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from backfill.sync import postgres as sync_postgres
from backfill.sync.pgurl import mask_url
from tests.pg.pgserver import free_port
from tests.sync.conftest import SECRET, Production, one_line_error, writer


def failed_sync(cli, *args: object) -> str:
    """Run a sync that must fail; returns its one error line, after checking that no password leaked."""
    result = cli("sync", *args)
    assert result.code == 2, result.out + result.err
    assert result.out == ""
    assert SECRET not in result.err
    return one_line_error(result.err)


def test_unreachable_server(cli, history: Path) -> None:
    url = f"postgresql://dashboard:{SECRET}@127.0.0.1:{free_port()}/wrapped"
    line = failed_sync(cli, "--db", history, "--postgres", url)
    assert "cannot connect to Postgres at postgresql://dashboard:***@127.0.0.1:" in line


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a firewall that drops, a hung host)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_connect_timeout(cli, history: Path) -> None:
    with silent_server() as port:
        url = f"postgresql://dashboard:{SECRET}@127.0.0.1:{port}/wrapped"
        line = failed_sync(cli, "--db", history, "--postgres", url, "--connect-timeout", "2")
    assert "no answer from Postgres at postgresql://dashboard:***@127.0.0.1" in line and "within 2 s" in line


def test_rejected_credentials(cli, history: Path, unchanged: Production) -> None:
    line = failed_sync(cli, "--db", history, "--postgres", unchanged.url(password=SECRET))
    assert line == f"backfill: error: Postgres rejected the credentials for {mask_url(unchanged.url())}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("DROP TABLE artists", "table 'artists' not found in Postgres"),
        ("ALTER TABLE artists DROP COLUMN spotify_artist_id", "table 'artists' has no column 'spotify_artist_id'"),
        ("ALTER TABLE tracks DROP COLUMN album_image_url", "table 'tracks' has no column 'album_image_url'"),
    ],
)
def test_missing_table_or_column_in_postgres(
    cli, history: Path, production: Production, change: str, message: str
) -> None:
    # tracks comes first: a check after its UPDATE would leave it changed; every check runs before any write.
    production.execute(change)
    before = production.snapshot() if "DROP TABLE" not in change else None
    url = production.url(writer(production), SECRET)
    line = failed_sync(cli, "--db", history, "--postgres", url)
    assert message in line and mask_url(url) in line
    if before is not None:
        assert production.snapshot() == before


def test_missing_table_or_column_in_duckdb(cli, tmp_path: Path, history: Path, unchanged: Production) -> None:
    con = duckdb.connect(str(history))
    con.execute("ALTER TABLE artists DROP COLUMN image_url")
    con.close()
    line = failed_sync(cli, "--db", history, "--postgres", unchanged.url())
    assert "table 'artists' has no column 'image_url'" in line
    line = failed_sync(cli, "--db", tmp_path / "nowhere.duckdb", "--postgres", unchanged.url())
    assert "database not found" in line


HOLD_LOCK = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); input()"


def test_locked_duckdb(cli, history: Path, unchanged: Production) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(history)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        line = failed_sync(cli, "--db", history, "--postgres", unchanged.url())
        assert "locked" in line and f"PID {holder.pid}" in line
    finally:
        holder.communicate("\n", timeout=10)


def test_role_that_may_only_read(cli, history: Path, unchanged: Production) -> None:
    role = unchanged.create_role("reader", SECRET, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    line = failed_sync(cli, "--db", history, "--postgres", unchanged.url(role, SECRET))
    assert f"role '{role}' may not update tracks.album_image_url" in line and "nothing was changed" in line


def test_role_that_may_update_tracks_only(cli, history: Path, unchanged: Production) -> None:
    role = unchanged.create_role(
        "half", SECRET, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}", "GRANT UPDATE ON tracks TO {role}"
    )
    line = failed_sync(cli, "--db", history, "--postgres", unchanged.url(role, SECRET))
    assert "may not update artists.image_url" in line


def test_read_only_role_rolls_back(cli, history: Path, unchanged: Production) -> None:
    # Privileges say yes, but the role's transactions are read-only (as on a read replica): the first write fails.
    role = unchanged.create_role(
        "replica",
        SECRET,
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}",
        "ALTER ROLE {role} SET default_transaction_read_only = on",
    )
    line = failed_sync(cli, "--db", history, "--postgres", unchanged.url(role, SECRET))
    assert "read-only" in line and "nothing was changed" in line


def test_refused_artists_update_rolls_back_tracks(cli, history: Path, unchanged: Production) -> None:
    # A refusal that only the UPDATE meets (a policy trigger): tracks were already updated in the transaction.
    unchanged.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'permission denied for table artists' USING ERRCODE = 'insufficient_privilege'; END $$",
        "CREATE TRIGGER guard BEFORE UPDATE ON artists FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    line = failed_sync(cli, "--db", history, "--postgres", unchanged.url(writer(unchanged), SECRET))
    assert "refused the write (permission denied for table artists)" in line and "nothing was changed" in line


def test_table_locked_by_another_session(
    cli, history: Path, unchanged: Production, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_postgres, "LOCK_TIMEOUT", "300ms")
    with unchanged.connect() as other:
        other.execute("LOCK TABLE artists IN ACCESS EXCLUSIVE MODE")  # e.g. the old full re-sync running
        line = failed_sync(cli, "--db", history, "--postgres", unchanged.url(writer(unchanged), SECRET))
        other.rollback()
    assert "lock timeout" in line and "nothing was changed" in line


def test_without_psycopg(cli, history: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an install without the extra looks like
    line = failed_sync(cli, "--db", history, "--postgres", "postgresql://u@localhost/db")
    assert "pip install 'backfill[postgres]'" in line


def test_no_url(cli, history: Path) -> None:
    assert "POSTGRES_URL" in failed_sync(cli, "--db", history)


def test_malformed_url(cli, history: Path) -> None:
    line = failed_sync(cli, "--db", history, "--postgres", f"postgresql://me:{SECRET}@localhost:notaport/db")
    assert "postgresql://me:***@localhost:notaport/db" in line


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://user:pw@host/db", "postgresql://user:***@host/db"),
        ("postgres://user:p%40ss:w@host:5432/db?sslmode=require", "postgres://user:***@host:5432/db?sslmode=require"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("postgresql://host/db?user=u&password=secret", "postgresql://host/db?user=u&password=***"),
        ("host=h user=u password=secret dbname=d", "host=h user=u password=*** dbname=d"),
        ("host=h password='se cret' dbname=d", "host=h password=*** dbname=d"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_run_then_failed_sync(cli, db_path: Path, emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # The run's work is kept; the failed sync makes the exit 2 and says why in the run's one JSON object.
    monkeypatch.setenv("POSTGRES_URL", f"postgresql://dashboard:{SECRET}@127.0.0.1:{free_port()}/wrapped")
    result = cli("run", "--db", db_path, "--rate", "500", "--sync", "--json")
    assert result.code == 2
    doc = result.json
    assert doc["tracks"]["updated"] > 0
    assert "cannot connect to Postgres at postgresql://dashboard:***@" in doc["sync"]["error"]
    errors = [line for line in result.err.splitlines() if line.startswith("backfill: error:")]
    assert len(errors) == 1 and "sync: cannot connect" in errors[0]
    assert SECRET not in result.out + result.err


def _sessions(production: Production, sql: str) -> int:
    with production.connect(autocommit=True) as con:
        row = con.execute(
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            f"AND {sql}"
        ).fetchone()
    assert row is not None
    return int(row[0])


def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(600):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


@pytest.mark.parametrize(
    ("signum", "code", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_interrupted_while_waiting_for_a_locked_table(
    history: Path, unchanged: Production, signum: int, code: int, said: str
) -> None:
    # The old full re-sync holds artists; sync waits for it (in its connecting thread). Ctrl-C or a SIGTERM then
    # ends it at once, and its query is cancelled: no session is left behind, queued for the lock.
    with unchanged.connect() as other:
        other.execute("LOCK TABLE artists IN ACCESS EXCLUSIVE MODE")
        holder = other.info.backend_pid
        proc = subprocess.Popen(
            [sys.executable, "-m", "backfill", "sync", "--db", str(history), "--postgres", unchanged.url()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _until(lambda: _sessions(unchanged, "wait_event_type = 'Lock'") == 1, "sync waits for the lock")
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=60)
            _until(lambda: _sessions(unchanged, f"pid <> {holder}") == 0, "sync's session is gone")
        finally:
            proc.kill()
            other.rollback()
    assert proc.returncode == code, err
    assert out == "" and err.strip() == f"backfill: {said}"
