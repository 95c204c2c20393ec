"""Atomic file output: write to a hidden temporary name, rename on success, delete on failure.

A reader therefore never sees a half-written file, and an interrupted run leaves nothing that
looks finished.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import yaml

TMP_MARK = ".tmp-"


def temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; rename it to `path` if the block succeeds.
    On failure the temporary file and any folder made for it are removed."""
    path = Path(path)
    made = make_folders(path.parent)
    tmp = temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
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
