"""A trained `jetfm pretrain` run, opened in one place for every reader: `open_run(path)`.

evaluate, export, transfer, anomaly and the report all open a run through this module, so a
run means the same to each of them: the same strict weights check, the same strategy, default
representation, data config, splits and label names.

The settings (strategy, representation, data config, label names) come from the copy stored
*with the weights* (model.safetensors' `jetfm.config`, covered by its checksum): they are what
trained those weights, and a hand-edited setting is refused like a flipped weight. The splits
are config.yaml's record (`RunDir.split`), the one pretrain's resume keeps and evaluate's
default test set reads before any weights are. `open_run(path, weights=False)` reads config.yaml alone
and no weights (the report: a run still training may have none yet).

Kept apart from `runs.py` so that `import jetfm.runs` stays light (yaml only): torch is
imported here, and only when weights are read.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .data.config import DataConfig, load_data_config
from .errors import ConfigError, DataError
from .run_logs import metric_curves
from .runs import RunDir

if TYPE_CHECKING:
    from .models.part import ParticleTransformer

SPLITS = ("train", "val", "test")
DEFAULT_REPRESENTATION = "cls"    # a strategy that names none: the class token


@dataclass(frozen=True, eq=False)
class PretrainedRun:
    """A run's model and what it was trained with. `model` is in eval mode on the device it
    was loaded to; None (and `heads` empty, `data_config` None) for `load(weights=False)`."""
    run: RunDir
    config: dict                         # the run's resolved config (see the module doc)
    strategy: str
    representation: str                  # the strategy's default for frozen transfer modes
    splits: dict[str, tuple[Path, ...]]  # train / val / test, absolute
    label_names: tuple[str, ...]
    data_config: DataConfig | None = None
    model: ParticleTransformer | None = None
    heads: dict = field(default_factory=dict)   # representation heads, name -> MLPHead

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def weights_path(self) -> Path:
        return self.run.weights_path

    def history(self) -> dict[str, list[tuple[int, float]]]:
        """metric -> [(step, value)] from the run's training logs; read when asked, so a
        reader that needs no curves never parses them."""
        return metric_curves(self.run.path)


def open_run(run: str | os.PathLike | RunDir, device: str = "cpu",
             weights: bool = True) -> PretrainedRun:
    """The trained run at `run` (a folder or a RunDir), its weights loaded strictly (every
    tensor, every representation head, both checksums) unless `weights=False`."""
    run = RunDir.existing(run.path if isinstance(run, RunDir) else run)
    record = run.config()
    if not weights:
        return _describe(run, record, record, run.config_path)
    path = run.weights_path
    if not path.is_file():
        raise ConfigError(f"{path}: missing; the run has not saved weights yet")
    from .models.checkpoint import load_checkpoint   # torch: only for a reader of weights
    model, config, heads = load_checkpoint(path, device, with_heads=True)
    if not isinstance(config.get("data"), dict):
        raise ConfigError(f"{path}: checkpoint has no data configuration; was it written by "
                          "`jetfm pretrain`?")
    try:
        data_config = load_data_config(config["data"])
    except ConfigError as exc:
        raise ConfigError(f"{path}: its data configuration is invalid: {exc}") from None
    return replace(_describe(run, config, record, path, data_config), data_config=data_config,
                   model=model, heads=heads)


def _describe(run: RunDir, config: dict, record: dict, source: Path,
              data_config: DataConfig | None = None) -> PretrainedRun:
    """The run as `config` (read from `source`) and config.yaml's `record` of its files
    describe it, without weights."""
    train = config.get("train")
    strategy = train.get("strategy") if isinstance(train, dict) else None
    if not isinstance(strategy, str) or not strategy:
        raise ConfigError(f"{source}: no train.strategy; was it written by `jetfm pretrain`?")
    representation = config.get("representation") or DEFAULT_REPRESENTATION
    if not isinstance(representation, str):
        raise ConfigError(f"{source}: representation {representation!r} is not a name")
    stored = record.get("splits") or {}
    if not isinstance(stored, dict):
        raise ConfigError(f"{run.config_path}: splits is not a mapping of train/val/test files")
    splits = {name: tuple(run.resolve(f) for f in stored.get(name) or ()) for name in SPLITS}
    labels = config.get("label_names")
    if labels is None and data_config is not None and data_config.labels is not None:
        labels = data_config.labels.names
    return PretrainedRun(run, config, strategy, representation, splits,
                         tuple(str(n) for n in labels or ()))



def load_backbone(run_dir: str | os.PathLike, drop_head: bool = False, device: str = "cpu"):
    """The run's exported backbone (whatever the strategy: `jepa` saves its target encoder),
    loaded strictly through `open_run`, in eval mode: for your own code (bench/, notebooks).

    `drop_head=True` returns it without the classification head (an embedding-only model);
    every other tensor must still load, which is checked key by key."""
    from .models.part import ParticleTransformer
    run = open_run(run_dir, device)
    model = run.model
    if not drop_head or model.config.num_classes is None:
        return model
    bare = ParticleTransformer(model.config.replace(num_classes=None, fc_params=()))
    state = {k: v for k, v in model.state_dict().items() if k in bare.state_dict()}
    missing, unexpected = bare.load_state_dict(state, strict=False)
    dropped = set(model.state_dict()) - set(state)
    if missing or unexpected or not all(k.startswith("fc.") for k in dropped):
        raise DataError(f"{run.weights_path}: backbone keys do not match (missing "
                        f"{missing[:3]}, unexpected {unexpected[:3]}, dropped "
                        f"{sorted(dropped)[:3]})")
    return bare.to(device).eval()


__all__ = ["PretrainedRun", "open_run", "load_backbone"]
