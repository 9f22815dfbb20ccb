"""What every scenario needs: child processes measured from outside, the emulator in a thread, sample worlds."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from aiohttp import web

from standin import Emulator, EmulatorConfig, Received
from standin.sample import SampleSpec, World, build_world, write_history

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "bench-client-id"
CLIENT_SECRET = "bench-client-secret"
POLL_SECONDS = 0.05
KILL_GRACE = 15.0


def say(message: str) -> None:
    """Progress on stderr; the table goes to stdout at the end."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the table ------------------------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    figure: str
    value: str
    target: str = ""
    verdict: str = ""  # "met", "MISSED", or "" when there is no target
    note: str = ""


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def mb(kib: int) -> str:
    return f"{kib / 1024:.1f} MB"


# -- child processes ------------------------------------------------------------------------------------------

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


@dataclass
class ChildResult:
    cmd: list[str]
    code: int
    stdout: str
    stderr: str
    wall: float  # seconds from spawn to exit, interpreter start-up included
    vm_hwm_kib: int  # peak RSS: VmHWM as the process read it itself when its module finished (bench.measured)
    hwm_polled_kib: int  # the last VmHWM read from /proc/PID/status from outside while it ran (a cross-check)
    cpu: float  # user + system CPU seconds of the child (wait4)
    timed_out: bool
    other_cpu: float = 0.0  # CPU seconds the rest of the machine used meanwhile (not the child, not this process)

    def disturbance(self) -> str:
        """How busy the machine was with other work during the run, as a share of all its CPUs."""
        share = self.other_cpu / (self.wall * len(os.sched_getaffinity(0))) if self.wall > 0 else 0.0
        return f"other processes used {self.other_cpu:.1f} CPU-s ({share:.0%} of the machine)"

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.stdout)
        except ValueError:
            raise RuntimeError(f"no JSON on stdout of {' '.join(self.cmd[:4])}...: {self.stderr[-2000:]}") from None
        if not isinstance(value, dict):
            raise RuntimeError("the JSON on stdout is not an object")
        return value


def _vm_hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0  # gone, or a zombie (its memory is already released)


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (from /proc/stat)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_all_children() -> None:
    """Ctrl-C: end every child this bench started (by its own pid, nothing else)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        with contextlib.suppress(OSError):
            _stop(proc)


def run_module(module: str, args: Sequence[object], *, env: dict[str, str], cwd: Path, timeout: float) -> ChildResult:
    """Run `python -m MODULE ARGS` to its end (or `timeout`, then SIGTERM, then SIGKILL) and measure it.

    Peak memory: the child runs under bench.measured, which writes its own VmHWM when the module is done
    (exact, even for a peak in the last milliseconds). From outside, /proc/PID/status is polled every 50 ms
    as a cross-check; the last value read is kept (VmHWM only grows). wait4()'s ru_maxrss is not used: after
    vfork+exec it includes this (large) process's memory. A pidfd wakes us at the child's exit, so `wall`
    is not rounded up to the polling interval.
    """
    with tempfile.NamedTemporaryFile(prefix="hwm-", suffix=".json", dir=cwd, delete=False) as mark:
        hwm_file = Path(mark.name)
    cmd = [sys.executable, "-m", "bench.measured", str(hwm_file), module, *(str(a) for a in args)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        busy_before, own_before = _busy_seconds(), time.process_time()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        with _live_lock:
            _live.add(proc)
        pidfd: int | None = None
        with contextlib.suppress(OSError, AttributeError):
            pidfd = os.pidfd_open(proc.pid)
        hwm, timed_out, term_at = 0, False, None
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                hwm = _vm_hwm(proc.pid) or hwm
                now = time.perf_counter()
                if term_at is None and now - started > timeout:
                    timed_out, term_at = True, now
                    proc.send_signal(signal.SIGTERM)
                elif term_at is not None and now - term_at > KILL_GRACE:
                    proc.kill()
                if pidfd is not None:
                    select.select([pidfd], [], [], POLL_SECONDS)
                else:
                    time.sleep(POLL_SECONDS)
        except BaseException:
            _stop(proc)
            raise
        finally:
            if pidfd is not None:
                os.close(pidfd)
            with _live_lock:
                _live.discard(proc)
        wall = time.perf_counter() - started
        child_cpu = usage.ru_utime + usage.ru_stime
        other = _busy_seconds() - busy_before - (time.process_time() - own_before) - child_cpu
        proc.returncode = os.waitstatus_to_exitcode(status)
        try:
            own = json.loads(hwm_file.read_text(encoding="ascii") or "{}")
        except (OSError, ValueError):
            own = {}  # killed before it could write
        hwm_file.unlink(missing_ok=True)
        out.seek(0)
        err.seek(0)
        return ChildResult(
            cmd=cmd,
            code=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            wall=wall,
            vm_hwm_kib=int(own.get("VmHWM", 0)),
            hwm_polled_kib=hwm,
            cpu=child_cpu,
            timed_out=timed_out,
            other_cpu=max(0.0, other),
        )


def child_env(emulator: Emulator | None = None) -> dict[str, str]:
    """The environment for a child: none of the developer's Spotify settings, this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "BACKFILL_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if emulator is not None:
        env |= {
            "SPOTIFY_CLIENT_ID": CLIENT_ID,
            "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
            "SPOTIFY_API_URL": emulator.api_url,
            "SPOTIFY_TOKEN_URL": emulator.token_url,
        }
    return env


def backfill_args(
    db: Path,
    *,
    rate: float,
    concurrency: int = 8,
    max_wait: float = 120,
    retries: int = 5,
    source: str | None = "api",
) -> list[str]:
    """Arguments of `python -m backfill` for one run; --json so the result can be read.

    `source` defaults to the Web API: scenarios 1-5 measure that path (as before oEmbed existed); None leaves
    the choice to the tool."""
    return [
        "run", "--db", str(db), "--rate", f"{rate:g}", "--concurrency", str(concurrency),
        "--max-wait", f"{max_wait:g}", "--retries", str(retries), "--json",
        *(["--source", source] if source else []),
    ]  # fmt: skip


# -- the emulator ---------------------------------------------------------------------------------------------


@web.middleware
def run_backfill(ctx: Context, db: Path, emulator: Emulator, *, rate: float, concurrency: int) -> ChildResult:
    """`backfill run` on `db` against `emulator`, as a separate measured process."""
    return run_module(
        "backfill",
        backfill_args(db, rate=rate, concurrency=concurrency),
        env=child_env(emulator),
        cwd=ctx.workdir,
        timeout=900,
    )


@contextlib.contextmanager
def serve(world: World, **settings: Any) -> Iterator[Emulator]:
    """The emulator over the world's catalog, served from a daemon thread of this process."""
    emulator = Emulator(world.catalog, EmulatorConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **settings))
    with emulator.running_in_thread():
        yield emulator


def statuses(records: Sequence[Received]) -> Counter[int]:
    return Counter(r.status for r in records)


USEFUL = frozenset({200, 404})  # an answer about the ids asked for; 429, 403 (batch probe), 5xx, drops are not


# -- sample worlds and database files -------------------------------------------------------------------------


@dataclass
class Context:
    quick: bool
    workdir: Path
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)  # figures one scenario leaves for another
    options: dict[str, Any] = field(default_factory=dict)
    _worlds: dict[SampleSpec, tuple[World, Path]] = field(default_factory=dict)

    def add(self, scenario: str, figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        row = Row(scenario, figure, value, target, "" if ok is None else verdict(ok))
        self.rows.append(row)
        say(f"  {scenario}: {figure} = {value}" + (f"  (target {target}: {row.verdict})" if target else ""))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def world(self, spec: SampleSpec) -> tuple[World, Path]:
        """The world for `spec` and a pristine history file of it, built once per run of the bench."""
        if spec not in self._worlds:
            say(f"building the sample world: {spec.tracks:,} tracks, {spec.artists:,} artists (seed {spec.seed})")
            started = time.perf_counter()
            world = build_world(spec)
            path = self.workdir / f"history-{spec.seed}-{spec.tracks}-{spec.artists}.duckdb"
            path.unlink(missing_ok=True)
            write_history(world, path)
            # Millions of long-lived objects: keep them out of the cyclic GC, whose full collections would
            # otherwise stall the emulator thread in the middle of a measurement.
            gc.collect()
            gc.freeze()
            say(f"  built and written in {time.perf_counter() - started:.1f} s")
            self._worlds[spec] = (world, path)
        return self._worlds[spec]

    def copy(self, pristine: Path, name: str) -> Path:
        """A fresh copy of a history file for one run (runs write to it)."""
        target = self.workdir / name
        for stale in (target, target.with_name(target.name + ".wal")):
            stale.unlink(missing_ok=True)
        shutil.copyfile(pristine, target)
        return target


# -- the machine ----------------------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _revision() -> str:
    """The commit of this checkout, marked when the work tree differs from it."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GB"
                break
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "duckdb": _version("duckdb"),
        "aiohttp": _version("aiohttp"),
        "aiolimiter": _version("aiolimiter"),
        "spotipy": _version("spotipy"),
        "revision": _revision(),
    }
