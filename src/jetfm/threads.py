"""How many threads torch may use: the CPUs this process may really run on.

torch's default is the machine's core count, which ignores a CPU affinity mask and a cgroup
(container, batch slot) quota: a job given 2 CPUs on a 64-core node then runs 64 threads that
fight over 2 cores, many times slower than one thread. jetfm counts the CPUs it may use
(affinity, then the cgroup v2 / v1 quota), leaves one per DataLoader worker, and uses the rest;
`--threads N` (every command) overrides.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def _cgroup_quota(root: Path = CGROUP) -> float | None:
    """CPUs allowed by the cgroup's quota (None: no quota)."""
    try:     # v2: "max 100000" or "200000 100000"
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:     # v1
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cpus(cgroup: Path = CGROUP) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    quota = _cgroup_quota(cgroup)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return cpus


def default_threads(workers: int = 0, cgroup: Path = CGROUP) -> int:
    """Intra-op threads: the available CPUs minus one per DataLoader worker, at least 1."""
    return max(1, available_cpus(cgroup) - max(0, workers))


def set_threads(threads: int | None, workers: int = 0) -> int:
    """Apply `threads` to torch now if it is loaded, and to the OpenMP/MKL pools of anything
    loaded later. None: $OMP_NUM_THREADS when set, else `default_threads`, and never more
    than torch already uses (a caller that chose fewer keeps its choice). Returns the number."""
    import sys
    torch = sys.modules.get("torch")
    n = threads
    if n is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        n = int(env) if env.isdigit() and int(env) > 0 else default_threads(workers)
        if torch is not None:
            n = min(n, torch.get_num_threads())
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    if torch is not None:
        torch.set_num_threads(n)
    return n


__all__ = ["available_cpus", "default_threads", "set_threads"]
