"""A `jetfm pretrain` run directory and the files it owns.

```
RUN/config.yaml            resolved run, data and model config; file splits as absolute paths
RUN/model.safetensors      weights + config (what evaluate / export / transfer read)
RUN/checkpoints/last.ckpt  full training state (resume)
RUN/logs/csv-N/metrics.csv one per invocation; logs/tb TensorBoard
```

`RunDir` is the one place that knows this layout. Paths inside `config.yaml` are absolute, so
a run works from any working directory; a relative path (older runs) is taken relative to
the run directory, never to the current directory.

`jetfm.pretrained.open_run(path)` opens a trained run for every reader (a PretrainedRun); it
sits above this module, so `import jetfm.runs` stays light (no torch) for the report, the
logs reader and pretrain's folder checks.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from .errors import ConfigError
from .io import FolderLock, check_writable_folder

CONFIG_NAME = "config.yaml"
WEIGHTS_NAME = "model.safetensors"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
LOGS_DIR = "logs"
_RUN_KEYS = ("train", "data", "model")   # what makes a config.yaml a jetfm run's


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).absolute()

    # --- layout ---
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_NAME

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoint_dir / LAST_CHECKPOINT

    @property
    def logs_dir(self) -> Path:
        return self.path / LOGS_DIR

    def __str__(self) -> str:
        return str(self.path)

    # --- what is there ---
    def is_run(self) -> bool:
        """True if the folder holds a jetfm run's config.yaml."""
        try:
            cfg = yaml.safe_load(self.config_path.read_text())
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            return False
        return isinstance(cfg, dict) and all(k in cfg for k in _RUN_KEYS)

    def config(self) -> dict:
        if not self.config_path.is_file():
            raise ConfigError(f"{self.path}: no {CONFIG_NAME}; is it a `jetfm pretrain` run "
                              "directory?")
        try:
            cfg = yaml.safe_load(self.config_path.read_text())
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.config_path}: unreadable ({exc})".replace("\n", " ")) from None
        if not isinstance(cfg, dict) or not all(k in cfg for k in _RUN_KEYS):
            raise ConfigError(f"{self.config_path}: not a jetfm run config "
                              f"(needs {', '.join(_RUN_KEYS)})")
        return cfg

    def resolve(self, p: str | os.PathLike) -> Path:
        """A path stored in the run's config: absolute as is, relative to the run directory."""
        p = Path(p)
        return p if p.is_absolute() else self.path / p

    def split(self, name: str) -> list[Path]:
        """The run's `train` / `val` / `test` files (absolute)."""
        files = (self.config().get("splits") or {}).get(name) or []
        return [self.resolve(f) for f in files]

    # --- opening ---
    @classmethod
    def existing(cls, path: str | os.PathLike) -> "RunDir":
        """A run directory that must already hold a run (evaluate, export)."""
        run = cls(path)
        if not run.path.is_dir():
            raise ConfigError(f"{path}: no such run directory")
        run.config()   # raises with a clear message if it is not a run
        return run

    @classmethod
    def for_training(cls, path: str | os.PathLike) -> "RunDir":
        """A folder pretrain may write into: absent, empty, or a jetfm run (resumed). A
        non-empty folder that is not a run is refused, so a user's files are never replaced."""
        run = cls(path)
        check_writable_folder(run.path)
        content = [p for p in run.path.iterdir() if p.name != FolderLock.NAME] \
            if run.path.is_dir() else []
        if content and not run.is_run():
            raise ConfigError(f"--out {path}: folder is not empty and is not a jetfm run; "
                              "give a new or empty folder")
        return run


__all__ = ["RunDir", "CONFIG_NAME", "WEIGHTS_NAME"]
