"""Atomic file output: write to a hidden temporary name, rename on success, delete on failure.

A reader therefore never sees a half-written file, and an interrupted run leaves nothing that
looks finished.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import yaml

from .errors import ConfigError

TMP_MARK = ".tmp-"


def temp_name(path: Path) -> Path:
    """A new, empty temporary file next to `path`, created with O_CREAT | O_EXCL under an
    unpredictable name (`tempfile.mkstemp`): nothing planted in the folder (a symlink at a
    guessable name) can redirect the write to another file."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent)
    os.close(fd)
    return Path(name)


def make_folders(folder: str | os.PathLike) -> list[Path]:
    """``mkdir -p folder``; returns the folders it created, deepest first, so that a failed
    job can take them back with :func:`remove_empty_folders`."""
    folder = Path(folder)
    made = [d for d in (folder, *folder.parents) if not d.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return made


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty; keep any that is not."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable_folder(folder: str | os.PathLike, option: str = "--out") -> Path:
    """ConfigError (naming the option) unless `folder` is, or can be made, a writable folder.
    Nothing is created."""
    folder = Path(folder)
    for d in (folder, *folder.parents):
        if d.exists():
            if not d.is_dir():
                what = "exists and is not a folder" if d == folder else f"{d} is a file"
                raise ConfigError(f"{option} {folder}: {what}")
            if not os.access(d, os.W_OK | os.X_OK):
                raise ConfigError(f"{option} {folder}: {d} is not writable (permission denied)")
            return folder
    return folder


def make_output_folder(folder: str | os.PathLike, option: str = "--out") -> list[Path]:
    """Check (see `check_writable_folder`), then ``mkdir -p``; returns the folders it made,
    deepest first (for :func:`remove_empty_folders` after a failure)."""
    check_writable_folder(folder, option)
    try:
        return make_folders(folder)
    except OSError as exc:
        raise ConfigError(f"{option} {folder}: cannot create it ({exc.strerror})") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; rename it to `path` if the block succeeds.
    On failure the temporary file and any folder made for it are removed."""
    path = Path(path)
    made = make_folders(path.parent)
    tmp = None
    try:
        tmp = temp_name(path)
        yield tmp
        if tmp.is_file():   # the usual 0644 (umask), whatever mode the writer chose
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        remove_empty_folders(made)
        raise


def remove_stale_temps(folder: Path, final_names) -> int:
    """Delete temp files left by a killed run for the given final file names."""
    removed = 0
    for name in final_names:
        for stale in folder.glob(f".{name}{TMP_MARK}*"):
            stale.unlink(missing_ok=True)
            removed += 1
    return removed


def read_text(path: str | os.PathLike, what: str) -> str:
    """A user's text file (config, card, counts) as UTF-8; a missing, unreadable, binary or
    non-UTF-8 file is one ConfigError line naming `what` and the file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        if b"\0" in raw:       # valid UTF-8 can still be binary: no text file holds NUL
            raise UnicodeDecodeError("utf-8", raw, raw.index(b"\0"), raw.index(b"\0") + 1,
                                     "NUL byte")
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: not a UTF-8 text file (binary or another "
                          f"encoding: not a text file jetfm reads; byte {exc.start}: "
                          f"{exc.reason})") from None


def load_yaml(path: str | os.PathLike, what: str):
    """`read_text`, then YAML data (safe_load: never code); errors are one line."""
    text = read_text(path, what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path}: not valid YAML ({exc})".replace("\n", " ")) from None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_config(path: str | os.PathLike, config: dict) -> None:
    """The resolved configuration of a run, as YAML (data only; read back with safe_load)."""
    write_text_atomic(path, yaml.safe_dump(config, sort_keys=False))


def write_json(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def quiet_stdout():
    """Silence C++ libraries (Pythia, FastJet) that print banners and warnings to fd 1."""
    if os.environ.get("JETFM_PYTHIA_VERBOSE"):
        yield
        return
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class FolderLock:
    """An exclusive lock on an output folder (`fcntl.flock` on FOLDER/.jetfm.lock).

    The kernel releases it when the holder exits, however it exits (kill -9 too), so a stale
    lock file never blocks: only a live holder does. The file holds the holder's PID and
    command for the refusal message.
    """
    NAME = ".jetfm.lock"

    def __init__(self, folder: str | os.PathLike, what: str = "jetfm"):
        self.path = Path(folder) / self.NAME
        self.what = what
        self._fh = None

    def acquire(self) -> "FolderLock":
        import fcntl
        import sys
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown process"
            fh.close()
            raise ConfigError(f"{self.path.parent} is in use by another {self.what} run "
                              f"({holder}); wait for it to finish or use another --out") from None
        fh.seek(0)
        fh.truncate()
        # argv may hold undecodable bytes (a non-UTF-8 folder name): never fail on them
        command = " ".join(sys.argv)[:200].encode("utf-8", "backslashreplace").decode()
        fh.write(f"PID {os.getpid()}: {command}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        # the file stays (hidden): unlinking it would let two later runs lock different inodes
        if self._fh is not None:
            self._fh.close()   # closing drops the flock
            self._fh = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
