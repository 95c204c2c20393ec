"""Pre-training strategies by name. A strategy is one file (a `PretrainModule` subclass that
implements `compute_loss`, plus an options dataclass if it has settings); adding one is that
file plus one line here — `run.py`, the config and the CLI pick it up by name
(`jetfm pretrain --strategy NAME`, options via `strategy_options:` / `--set
strategy_options.KEY=VALUE`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .autoencoder import AutoencoderModule, AutoencoderOptions
from .clip import ClipModule, ClipOptions
from .jepa import JepaModule, JepaOptions
from .module import PretrainModule
from .mpm import MpmModule, MpmOptions
from .resim import ResimModule, ResimOptions
from .supervised import SupervisedModule


@dataclass(frozen=True)
class Strategy:
    module: type[PretrainModule]
    summary: str
    options: type | None = None      # dataclass of the strategy's settings
    head: bool = False               # the backbone keeps its classification head
    pair_by: str | None = None       # batches of explicit pairs sharing this column
    gen_particles: bool = False      # batches carry the jets' truth particles (gx, gv, gmask)
    lr: float = 1e-3                 # default peak learning rate (warm-up + cosine decay)
    representation: str = "cls"      # what downstream tasks read by default (models/heads.py)


REGISTRY: dict[str, Strategy] = {
    "supervised": Strategy(SupervisedModule, "Sophon: 188-class cross-entropy on jet_label",
                           head=True),
    "resim": Strategy(ResimModule, "RS3L: NT-Xent on the same jet in two re-hadronised "
                                   "replicas of one parton shower", ResimOptions,
                      pair_by="resim_group", lr=5e-4, representation="projection"),
    "autoencoder": Strategy(AutoencoderModule, "AE(vc): reconstruct the leading particles "
                                               "through a variance/covariance-regularised "
                                               "bottleneck", AutoencoderOptions,
                            representation="bottleneck"),
    "clip": Strategy(ClipModule, "Sophon++: jet ↔ truth-particle InfoNCE + 188-class "
                                 "cross-entropy", ClipOptions, head=True, gen_particles=True),
    # ijepa and jetssl train at <= 5e-4 after a warm-up
    "jepa": Strategy(JepaModule, "P-JEPA: predict masked particles' embeddings of an EMA "
                                 "target encoder", JepaOptions, lr=5e-4),
    "mpm": Strategy(MpmModule, "masked particle modelling: predict masked particles' input "
                               "features and type", MpmOptions, lr=5e-4),
}


def build_options(name: str, values: dict[str, Any]):
    """The strategy's options from `strategy_options` (ConfigError naming a bad key)."""
    strategy = REGISTRY[name]
    if strategy.options is None:
        if values:
            raise ConfigError(f"strategy_options: strategy {name!r} has no options, got "
                              f"{sorted(values)}")
        return None
    if not isinstance(values, dict):
        raise ConfigError(f"strategy_options: expected a mapping, got {values!r}")
    known = {f.name: f for f in dataclasses.fields(strategy.options)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown option 'strategy_options.{key}' for strategy {name!r};"
                              f" known: {sorted(known)}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return strategy.options(**fixed)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"strategy_options ({name}): {exc}") from None


__all__ = ["Strategy", "REGISTRY", "build_options"]
