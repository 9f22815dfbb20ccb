"""Run `python -m MODULE ARGS...` in this very process, then record its own peak memory.

    python -m bench.measured OUTFILE MODULE [ARGS...]

The module runs exactly as under `python -m` (runpy, `__main__`, the same sys.argv), and its exit status is
passed on. Afterwards (also after an exception or a signal the module handles) VmHWM and VmRSS from
/proc/self/status go to OUTFILE as JSON.

Why not wait4()'s ru_maxrss: Python starts children with vfork+exec, and Linux carries the high-water RSS
of the pre-exec memory (the parent's!) into the child's ru_maxrss, so a bench process holding a million-track
catalog would be reported as the child's peak. VmHWM belongs to the memory map that exec created.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path


def status_kib(*fields: str) -> dict[str, int]:
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii", errors="replace") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in fields:
                found[name] = int(rest.split()[0])
    return found


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: python -m bench.measured OUTFILE MODULE [ARGS...]")
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        Path(out).write_text(json.dumps(status_kib("VmHWM", "VmRSS")), encoding="ascii")


if __name__ == "__main__":
    main()
