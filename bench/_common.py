"""Shared set-up of the benchmarks: one measurement discipline for all of them.

``pin_cpus(threads)`` must run before JAX is imported. XLA:CPU sizes its thread pool by the CPUs the process
may use and ignores the intra-op flags for some kernels, so on this 2-core machine JAX silently took the
second core whenever it was idle while torch ran on one thread: the ratios then measured the neighbours.
Pinning the process to ``threads`` CPUs (and torch to as many threads) makes JAX-vs-torch ratios fair.
"""

from __future__ import annotations

import os
import sys


def pin_cpus(threads: int = 1) -> list[int] | None:
    """Restrict this process to ``threads`` CPUs and XLA / torch to as many threads; returns the CPUs."""
    if "jax" in sys.modules:
        raise SystemExit("benchmark: pin_cpus() must run before JAX is imported (run the file as a script)")
    multi = "true" if threads > 1 else "false"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen={multi} "
                               f"intra_op_parallelism_threads={threads}").strip()
    os.environ["PARITY_TORCH_THREADS"] = str(threads)
    pinned = None
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        if threads < len(allowed):
            pinned = allowed[-threads:]
            os.sched_setaffinity(0, set(pinned))
    return pinned


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")
