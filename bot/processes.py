"""How the stack's processes run: BLAS settings for this CPU, the niceness of a process tree, and the
signals that stop a command together with the stacks it started (``bot.stack`` starts the processes).
"""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: CPU features each OpenBLAS kernel set needs, best first (OPENBLAS_CORETYPE names)
OPENBLAS_KERNELS = (
    ("SkylakeX", frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})),
    ("Haswell", frozenset({"avx2", "fma"})),
)


@functools.lru_cache(maxsize=4)
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as the kernel reports them (empty where there is no /proc/cpuinfo); read once."""
    try:
        with cpuinfo.open() as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def openblas_coretype(flags: frozenset[str]) -> str | None:
    """The OpenBLAS kernels this CPU can run (``OPENBLAS_CORETYPE``), or None: let OpenBLAS choose.

    The Rasa environment's numpy 1.23 ships OpenBLAS 0.3.20, which does not know recent server CPU
    models and falls back to its SSE3 kernels ("Prescott"; seen on this machine kind, whose CPU
    reports itself as "Intel Xeon Processor" with AVX-512): the sentence encoder in the Rasa server
    took 3.7 ms per message instead of 2.5 ms, and its vectors differed from the action server's
    (numpy 2, OpenBLAS 0.3.31, which picks SkylakeX) by up to 2.4e-7. With the same kernels in both
    environments they are bit-identical (checked by ``tests/unit/test_query_vectors.py``).
    """
    for name, needs in OPENBLAS_KERNELS:
        if needs <= flags:
            return name
    return None


def blas_env() -> dict[str, str]:
    """BLAS settings of every process of the stack (each can be overridden by the environment)."""
    env = {var: os.environ.get(var, "1") for var in BLAS_THREAD_VARS}
    coretype = os.environ.get("OPENBLAS_CORETYPE") or openblas_coretype(cpu_flags())
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    return env


def process_threads(pid: int) -> list[int]:
    """Thread ids of a process and of all its descendants (Linux ``/proc``; empty if it is gone)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{p}/task")]
        except OSError:
            continue
        out += tids
        for tid in tids:
            try:
                todo += [int(c) for c in Path(f"/proc/{p}/task/{tid}/children").read_text().split()]
            except OSError:
                continue
    return out


def renice(pid: int, nice: int) -> None:
    """Set the niceness of a process tree, every thread (on Linux each thread has its own).

    Raising niceness needs no privilege; a thread that is gone is skipped.
    """
    for tid in process_threads(pid) or [pid]:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except (ProcessLookupError, PermissionError):
            continue


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt in a command's main thread, so that the ``finally`` of
    every stack it started runs: its processes are stopped and its Redis keys deleted (the default SIGTERM
    ends Python at once and leaves them running). Explicit for SIGINT too: a background job inherits it as
    ignored."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
