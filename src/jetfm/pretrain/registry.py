"""Pre-training strategies by name. A strategy is one file (a `PretrainModule` subclass that
implements `compute_loss`); adding one is that file plus one line here — `run.py`, the config
and the CLI pick it up by name (`jetfm pretrain --strategy NAME`)."""
from __future__ import annotations

from dataclasses import dataclass

from .module import PretrainModule
from .supervised import SupervisedModule


@dataclass(frozen=True)
class Strategy:
    module: type[PretrainModule]
    summary: str


REGISTRY: dict[str, Strategy] = {
    "supervised": Strategy(SupervisedModule, "Sophon: 188-class cross-entropy on jet_label"),
}

__all__ = ["Strategy", "REGISTRY"]
