"""How many CPU threads torch computes with in this process: the cores it may use, shared among
the processes it runs, unless `--threads` says otherwise.

The cores a process may use are its affinity mask (`os.sched_getaffinity`: taskset, SLURM's
cgroups), capped by a cgroup v2 CPU quota (`cpu.max`, a container's `--cpus`), which the mask does
not show. A sweep with `--jobs N` runs N worker processes, each with cores // N threads; a streamed
folder's decoding workers are processes too, so the trainer beside them keeps the cores they leave.
An `OMP_NUM_THREADS` the user set is their choice and is kept; `--threads` overrides both.

Threads count only where they can run. On a machine that others load, OpenMP threads that spin
while they wait for a descheduled sibling made a 1-epoch demo pretraining ~5x slower with 2 threads
spinning than with the same 2 waiting passively, on 2 cores under a load of ~9 (benchmarks/RESULTS.md,
threads). So the CLI asks OpenMP to wait passively
(`OMP_WAIT_POLICY=PASSIVE`, read once, when torch loads its OpenMP runtime: `quiet_waiting` runs
before torch is imported); a user's own setting is kept.

The thread count changes the order of floating-point sums, so runs with different counts agree
to rounding, not bit for bit; the count depends on the machine, never on its load, so the same
command on the same machine computes the same numbers.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
# this process's --threads (for the processes it starts), and the OMP_NUM_THREADS it wrote itself
_chosen: dict[str, int | str | None] = {"given": None, "written": None}


def cgroup_cpus(path: Path = CPU_MAX) -> int | None:
    """The CPUs a cgroup v2 quota allows ("200000 100000" -> 2, rounded up), None without one."""
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def cores() -> int:
    """The CPU cores this process may run on."""
    mask = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpus()
    return max(1, min(mask, quota) if quota else mask)


def user_choice() -> int | None:
    """OMP_NUM_THREADS when the user set it (not `apply`) to a whole number of threads."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    if text == _chosen["written"]:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def choose(given: int | None = None, processes: int = 1) -> int:
    """Threads for one of `processes` processes: `given` (--threads), else OMP_NUM_THREADS, else
    an even share of the cores (at least one)."""
    return given or user_choice() or max(1, cores() // max(1, processes))


def apply(given: int | None = None, processes: int = 1) -> int:
    """Set torch's threads for this process (one of `processes`); returns the number. Before torch
    is imported this costs nothing: the number goes into OMP_NUM_THREADS, which torch reads when it
    loads (so a command that fails on a typo never waits for torch)."""
    _chosen["given"] = given
    threads = choose(given, processes)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    elif user_choice() is None:
        os.environ["OMP_NUM_THREADS"] = _chosen["written"] = str(threads)
    return threads


def per_process(processes: int) -> int:
    """Threads for each of `processes` worker processes this one starts (a sweep's `--jobs N`)."""
    return choose(_chosen["given"], processes)


def leave_for(workers: int) -> int:
    """`workers` processes now run beside this one (a streamed folder's decoders): unless the user
    chose the threads, this process keeps the cores they leave (at least one). Returns its threads."""
    import torch

    if workers > 0 and _chosen["given"] is None and user_choice() is None:
        torch.set_num_threads(max(1, cores() - workers))
    return torch.get_num_threads()


def quiet_waiting() -> None:
    """Ask OpenMP to put waiting threads to sleep instead of spinning: call before torch loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
