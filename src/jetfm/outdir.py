"""One contract for every command's `--out` folder (pretrain's run folder has its own, `RunDir`,
and generate's data folder `sim/folder_record.py`; both follow the same rules):

- an absent or empty folder is made and claimed: `FOLDER/.jetfm-owner.json` records the
  command and the job's *identity* (the settings that decide its results);
- a folder claimed by the same command with the same identity is reused: a re-run of the
  same job replaces its own results, nothing else;
- anything else is refused with one line, before anything is written: a user's files,
  another command's results, or another job's results (the line names the differing settings);
- a second live process on the folder is refused with the holder's PID (`io.FolderLock`);
- a job that fails in a folder it made takes the folder back (when nothing else is in it).

    with OutputFolder(out, "transfer", identity={"backbone": ..., "task": ...}):
        ...write results atomically, the file readers trust last...
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from .errors import ConfigError
from .io import FolderLock, TMP_MARK, check_writable_folder, make_folders, remove_empty_folders, write_json

OWNER_NAME = ".jetfm-owner.json"
_OURS = (OWNER_NAME, FolderLock.NAME)


def _canonical(obj):
    """The identity as it reads back from JSON (tuples become lists, paths strings)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=os.fspath))


def _read_owner(folder: Path) -> dict | None:
    try:
        owner = json.loads((folder / OWNER_NAME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _differing(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


class OutputFolder:
    def __init__(self, folder: str | os.PathLike, command: str, identity: dict | None = None,
                 option: str = "--out"):
        self.path = Path(folder).absolute()
        self.command = command
        self.identity = _canonical(identity or {})
        self.option = option
        self._lock: FolderLock | None = None
        self._made: list[Path] = []

    def check(self) -> None:
        """Refuse (ConfigError) a folder this job may not write into; writes nothing."""
        check_writable_folder(self.path, self.option)
        if not self.path.is_dir():
            return
        others = [p.name for p in self.path.iterdir()
                  if p.name not in _OURS and TMP_MARK not in p.name]
        owner = _read_owner(self.path)
        where = f"{self.option} {self.path}"
        if owner is None:
            if others:
                raise ConfigError(f"{where}: folder is not empty and was not written by jetfm "
                                  f"{self.command} (holds {others[0]!r}); give a new or "
                                  "empty folder")
            return
        if owner.get("command") != self.command:
            raise ConfigError(f"{where}: holds the results of jetfm "
                              f"{owner.get('command', 'another command')}; give a new or empty "
                              "folder")
        if owner.get("identity") != self.identity:
            old = owner.get("identity") if isinstance(owner.get("identity"), dict) else {}
            diff = ", ".join(_differing(old, self.identity)) or "settings"
            raise ConfigError(f"{where}: holds the results of another jetfm {self.command} job "
                              f"(different {diff}); give a new folder or remove this one")

    def __enter__(self) -> "OutputFolder":
        self.check()
        try:
            self._made = make_folders(self.path)
        except OSError as exc:
            raise ConfigError(f"{self.option} {self.path}: cannot create it ({exc.strerror})") \
                from None
        try:
            self._lock = FolderLock(self.path, f"jetfm {self.command}").acquire()
            self.check()    # what the holder of the lock wrote before we got it
            write_json(self.path / OWNER_NAME, {"command": self.command,
                                                "identity": self.identity})
        except BaseException:
            self._release(failed=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._release(failed=exc_type is not None)

    def _release(self, failed: bool) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if failed and self._made:
            # a folder this job made and left with only its own marks is taken back
            left = [p.name for p in self.path.iterdir()] if self.path.is_dir() else []
            if all(name in _OURS for name in left):
                for name in left:
                    with contextlib.suppress(OSError):
                        (self.path / name).unlink()
                remove_empty_folders(self._made)


__all__ = ["OutputFolder", "OWNER_NAME"]
