"""The configuration of one pre-training run: a YAML file (data only) plus CLI overrides.

Unknown keys and impossible values raise `ConfigError` naming the key; the resolved config is
written to `RUN_DIR/config.yaml` before training starts, so every run can be reproduced.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..io import load_yaml
from .optim import OPTIMIZERS, SCHEDULES
from .registry import REGISTRY, build_options

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")  # what Lightning runs without extras


@dataclass
class OptimConfig:
    # Unset keys of a config file take the strategy's defaults (`strategy_optimizer`):
    # linear warm-up over 5 % of the steps, then cosine decay, the strategy's learning rate.
    name: str = "adamw"                 # adamw | ranger (RAdam + Lookahead, weaver's choice)
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 0
    schedule: str = "cosine"            # flat_decay | cosine | constant
    decay_start: float = 0.7            # fraction of max_steps where the decay begins
    final_lr_factor: float = 0.01


@dataclass
class TrainConfig:
    strategy: str = "supervised"
    data: list[str] = field(default_factory=list)       # files, folders or globs
    data_config: str = "jetclass2"                     # builtin name or YAML path
    val_fraction: float = 0.1                          # split by file
    test_fraction: float = 0.1
    preset: str = "small"
    model: dict = field(default_factory=dict)          # ParTConfig overrides
    batch_size: int = 256
    max_steps: int = 1000
    num_workers: int = 0
    shuffle_buffer: int = 10_000
    reweight: bool = False                             # flat (pT, m_SD) per label group
    seed: int = 1
    accelerator: str = "auto"                          # one of ACCELERATORS
    devices: Any = "auto"                              # int, list or "auto"
    num_nodes: int = 1
    precision: str = "auto"                            # auto: bf16-mixed on GPU, 32-true on CPU
    compile: bool = False
    val_every_steps: int = 200
    val_batches: int = 20
    checkpoint_every_steps: int = 100
    log_every_steps: int = 10
    verify_data: bool = True     # read every page of every split before training (off: footers)
    strategy_options: dict = field(default_factory=dict)   # the strategy's settings (registry)
    optimizer: OptimConfig = field(default_factory=OptimConfig)

    def validate(self) -> None:
        if self.strategy not in REGISTRY:
            raise ConfigError(f"strategy (--strategy) {self.strategy!r} is not one of "
                              f"{sorted(REGISTRY)}")
        build_options(self.strategy, self.strategy_options)
        if not self.data:
            raise ConfigError("data: give at least one Parquet/ROOT file or folder (--data)")
        positive = ["batch_size", "max_steps", "val_every_steps", "checkpoint_every_steps",
                    "log_every_steps", "num_nodes"]
        for name in positive:
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        for name in ("val_fraction", "test_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {v}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError("val_fraction + test_fraction must leave files for training")
        if self.num_workers < 0 or self.val_batches < 0 or self.shuffle_buffer < 0:
            raise ConfigError("num_workers, val_batches and shuffle_buffer must be >= 0")
        o = self.optimizer
        if o.name not in OPTIMIZERS:
            raise ConfigError(f"optimizer.name {o.name!r} is not one of {OPTIMIZERS}")
        if o.schedule not in SCHEDULES:
            raise ConfigError(f"optimizer.schedule {o.schedule!r} is not one of {SCHEDULES}")
        if not (o.lr > 0 and math.isfinite(o.lr)):
            raise ConfigError(f"optimizer.lr (--lr) must be a finite number > 0, got {o.lr}")
        if o.weight_decay < 0:
            raise ConfigError(f"optimizer.weight_decay must be >= 0, got {o.weight_decay}")
        if o.warmup_steps < 0:
            raise ConfigError(f"optimizer.warmup_steps (--warmup-steps) must be >= 0, "
                              f"got {o.warmup_steps}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be an integer in [0, 2^32), got {self.seed!r}")
        if self.accelerator not in ACCELERATORS:
            raise ConfigError(f"accelerator {self.accelerator!r} is not one of {ACCELERATORS}")
        devices = self.devices
        ok = devices == "auto" or devices == -1 or (isinstance(devices, int) and devices > 0) \
            or (isinstance(devices, list) and devices
                and all(isinstance(d, int) and d >= 0 for d in devices))
        if isinstance(devices, bool) or not ok:
            raise ConfigError(f"devices must be 'auto', -1 (all), a positive count or a list of "
                              f"device indices, got {devices!r}")
        if self.precision not in ("auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true"):
            raise ConfigError(f"precision {self.precision!r} is not supported")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _typed(key: str, typ, value):
    """Check (and for numbers, convert) a config value against its field's type. YAML 1.1
    reads `2e-3` as a string, so numeric strings are accepted for float fields."""
    if typ is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if typ is bool and not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if typ is str and not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    types = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"unknown config key '{where}{key}'; known: {sorted(names)}")
        if key == "optimizer":
            value = _build(OptimConfig, value, "optimizer.")
        kwargs[key] = _typed(f"{where}{key}", types[key], value)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def set_dotted(data: dict, key: str, value: Any) -> None:
    """data["a"]["b"] = value for key "a.b" (made as needed); ConfigError if "a" is no mapping."""
    *parents, last = key.split(".")
    node = data
    for i, part in enumerate(parents):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{'.'.join(parents[:i + 1])} is not a mapping; cannot set {key}")
    node[last] = value


def parse_set(items: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` overrides: VALUE is read as YAML data (numbers, booleans, lists), never
    evaluated as code."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. optimizer.lr=1e-3")
        try:
            out[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: VALUE is not valid YAML") from None
    return out


WARMUP_FRACTION = 0.05


def _strategy_optimizer(data: dict) -> None:
    """Fill the optimizer keys the user left unset from the strategy's defaults (registry):
    its learning rate, a linear warm-up over 5 % of max_steps, cosine decay. The resolved
    values land in the run's config.yaml."""
    strategy = REGISTRY.get(data.get("strategy", TrainConfig.strategy))
    optimizer = data.setdefault("optimizer", {})
    if strategy is None or not isinstance(optimizer, dict):
        return                                   # _build/validate name the problem
    steps = data.get("max_steps", TrainConfig.max_steps)
    warmup = round(WARMUP_FRACTION * steps) if isinstance(steps, int) else 0
    defaults = {"lr": strategy.lr, "warmup_steps": warmup, "schedule": "cosine"}
    for key, value in defaults.items():
        optimizer.setdefault(key, value)


def load_train_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """YAML file (optional) then overrides (CLI); `None` overrides are ignored."""
    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        data = load_yaml(p, "--config") or {}
        if not isinstance(data, dict):
            raise ConfigError(f"--config {p}: expected a mapping of settings, got "
                              f"{type(data).__name__}")
    for key, value in overrides.items():
        if value is not None:
            set_dotted(data, key, value)
    _strategy_optimizer(data)
    cfg = _build(TrainConfig, data, "")
    cfg.validate()
    return cfg
