"""Measurement helpers for the bench scripts: peak memory of one step, CPU time split.

CPU memory: there is no allocator high-water mark, so the peak *resident set size* during a
step is read from Linux's ``VmHWM`` after resetting it via ``/proc/self/clear_refs``
(``malloc_trim`` first so freed pages are not silently reused), minus the RSS before the step.
It includes allocator slack: compare rows, not absolute values. Without /proc it falls back
to ``ru_maxrss`` deltas, which only register new peaks. CUDA: ``max_memory_allocated``.
"""
from __future__ import annotations

import ctypes
import resource
from typing import Callable

import torch

_libc = None
# CPU time of the calling thread (Linux); the process elsewhere
_WHO = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)


def _malloc_trim() -> None:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6")
        _libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def peak_memory_mb(step: Callable[[], object], device: torch.device) -> float:
    """Peak memory of ``step()`` above what was in use before it (MB)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    _malloc_trim()
    if _reset_hwm():
        base = _status_kb("VmRSS")
        step()
        return (_status_kb("VmHWM") - base) / 1024
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024


class CpuClock:
    """User and system CPU seconds of a block (system time is mostly page faults on
    freshly mapped memory: allocations above glibc's mmap threshold are returned to the OS
    when freed and faulted in again on the next use)."""

    def __enter__(self) -> "CpuClock":
        self._start = resource.getrusage(_WHO)
        return self

    def __exit__(self, *exc) -> None:
        end = resource.getrusage(_WHO)
        self.user = end.ru_utime - self._start.ru_utime
        self.sys = end.ru_stime - self._start.ru_stime
        self.faults = end.ru_minflt - self._start.ru_minflt
