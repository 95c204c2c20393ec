"""Run chunks ahead on a process pool, across file boundaries, and hand them back in order.

A file needs an unknown number of chunks (a chunk yields a random number of jets). Submitting
chunks of the current file only and dropping the look-ahead at each file boundary wastes most
of the pool on small files, so the scheduler estimates how many chunks each file needs from
the jets per chunk seen so far and keeps the pool busy with the *next* files' chunks. Results
are consumed strictly in (file, chunk) order, so the bytes never depend on the pool size.

Workers die with the parent: a worker whose parent is gone (kill -9 of `jetfm generate`)
exits instead of waiting forever for work.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable

from .chunk import ChunkResult, ChunkTask, run_chunk


def _die_with_parent(parent: int) -> None:
    """Pool initializer: leave when the parent process (PID `parent`) goes away."""
    try:   # Linux: the kernel sends SIGKILL when the parent dies
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:   # died while this worker was still importing
        os._exit(1)

    def watch() -> None:   # elsewhere (and as a fallback): poll the parent
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def make_pool(workers: int) -> ProcessPoolExecutor | None:
    # spawn, not fork: the parent holds a Pythia instance and tqdm's monitor thread.
    if workers <= 1:
        return None
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


class ChunkScheduler:
    """`result(file_pos, chunk)` for files `targets` (jets wanted per file, in order)."""

    def __init__(self, pool: ProcessPoolExecutor | None, targets: list[int],
                 make_task: Callable[[int, int], ChunkTask], window: int):
        self.pool, self.targets, self.make_task = pool, targets, make_task
        self.window = window
        self.futures: dict[tuple[int, int], Future] = {}
        self.submitted = [0] * len(targets)     # chunks submitted per file
        self.jets_seen = self.chunks_seen = 0

    def _rate(self) -> float | None:
        return self.jets_seen / self.chunks_seen if self.chunks_seen else None

    def _quota(self, pos: int, current: int, consumed: int, written: int) -> int:
        """Chunks worth having in flight for file `pos` while file `current` is being written."""
        rate = self._rate()
        if pos == current:
            if rate is None:    # nothing known yet: speculate within the current file only
                return consumed + self.window
            return consumed + max(1, math.ceil((self.targets[pos] - written) / max(rate, 1e-3)))
        if rate is None:
            return 0
        return max(1, math.ceil(self.targets[pos] / max(rate, 1e-3)))

    def _submit(self, pos: int) -> None:
        c = self.submitted[pos]
        self.futures[(pos, c)] = self.pool.submit(run_chunk, self.make_task(pos, c))
        self.submitted[pos] += 1

    def _top_up(self, current: int, consumed: int, written: int) -> None:
        for pos in range(current, len(self.targets)):
            quota = self._quota(pos, current, consumed, written)
            while self.submitted[pos] < quota and len(self.futures) < self.window:
                self._submit(pos)
            if len(self.futures) >= self.window or self.submitted[pos] < quota:
                return

    def result(self, pos: int, chunk: int, written: int) -> ChunkResult:
        """The result of chunk `chunk` of file `pos`, `written` jets of that file done."""
        if self.pool is None:
            res = run_chunk(self.make_task(pos, chunk))
        else:
            if (pos, chunk) not in self.futures:
                while self.submitted[pos] <= chunk:
                    self._submit(pos)
            self._top_up(pos, chunk, written)
            res = self.futures.pop((pos, chunk)).result()
        self.jets_seen += res.table.num_rows
        self.chunks_seen += 1
        return res

    def file_done(self, pos: int) -> None:
        """Drop the chunks of a finished file that were submitted but are not needed."""
        for key in [k for k in self.futures if k[0] == pos]:
            self.futures.pop(key).cancel()


__all__ = ["ChunkScheduler", "make_pool"]
