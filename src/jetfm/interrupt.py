"""SIGTERM, what a batch system's time limit sends, as an exception a command can act on.

Inside `jetfm` commands SIGTERM raises :class:`Interrupted` (a BaseException, so no
``except Exception`` swallows it): atomic writers drop their temporary files, generate keeps
its finished files, and the CLI prints one line and exits 143 (128 + SIGTERM), so a time-limit
kill never looks like success. Code that must stop at a safe point instead (pre-training:
Lightning finishes the step, then jetfm saves a checkpoint) runs under :func:`deferred`,
where the signal only sets a flag that Lightning's own handler also sees.
"""
from __future__ import annotations

import contextlib
import signal
import threading

EXIT_CODE = 128 + signal.SIGTERM


class Interrupted(BaseException):
    """The process received SIGTERM. `step` is where a training run stopped (None else)."""

    def __init__(self, step: int | None = None, saved: bool = False):
        super().__init__(step)
        self.step, self.saved = step, saved


_defer = threading.local()


def _raise(signum, frame) -> None:
    if not getattr(_defer, "on", False):
        raise Interrupted()


@contextlib.contextmanager
def sigterm_raises():
    """Install the SIGTERM → Interrupted handler for the block (main thread only; restores
    the previous handler, so in-process callers such as tests are left as they were)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred():
    """SIGTERM does not raise inside the block (the caller stops at a safe point itself)."""
    before = getattr(_defer, "on", False)
    _defer.on = True
    try:
        yield
    finally:
        _defer.on = before


__all__ = ["Interrupted", "sigterm_raises", "deferred", "EXIT_CODE"]
