"""Facts about the machine and the code a figure was measured with, and how to time a call.

Shared by the benchmark and the runs' summaries: a speed means little without the cores,
the BLAS kernel and the commit it came from.
"""

import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info


def usable_cores():
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def blas_info():
    """Which BLAS numpy calls, its version and the CPU kernel it chose (threadpoolctl)."""
    for lib in threadpool_info():
        if lib["user_api"] == "blas":
            return {"library": lib["internal_api"], "version": lib["version"],
                    "kernel": lib.get("architecture"), "threads": lib["num_threads"]}
    return {"library": None, "version": None, "kernel": None, "threads": None}


def commit():
    """``git describe`` of the checkout the package runs from (``-dirty`` with local changes), or None."""
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent,
                                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return described.stdout.strip() if described.returncode == 0 and described.stdout.strip() else None


def cpu_name():
    """The processor's model name (Linux's /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts():
    """Cores, processor and BLAS: what a run's speed depends on besides the code."""
    blas = blas_info()
    return {"cores": usable_cores(), "cpu": cpu_name(),
            "blas": f"{blas['library']} {blas['version']} ({blas['kernel']} kernel)" if blas["library"]
                    else None}


def timed(fn, repeats, warmup):
    """Call ``fn()`` ``warmup`` times, then time ``repeats`` calls: ``(median_ms, spread_ms)``.

    The spread is the interquartile range: robust to the odd call that another process slows.
    """
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        ms.append(1e3 * (time.perf_counter() - started))
    q25, median, q75 = np.percentile(ms, [25, 50, 75])
    return float(median), float(q75 - q25)
