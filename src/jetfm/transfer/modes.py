"""How a backbone is adapted to a task: one `TransferMode` record per mode, in `MODES`.

- on frozen embeddings (computed once, `jetfm.embeddings.cached_embeddings`): `linear` (logistic
  regression), `frozen` (MLP head), `knn` (cosine kNN, k chosen on the validation split);
- through the network (Lightning, `network.py`): `finetune` (whole model), `lora` (peft LoRA
  adapters on every attention projection and feed-forward linear of the particle and class
  blocks, base weights frozen), `scratch` (same architecture, random initialisation); all
  three under the same LP-FT schedule (head first on the frozen backbone, then everything).

The runner (`run.py`) and the CLI ask a mode's record, never its name: a new mode is one entry
(`register`) and its function (tests/transfer/test_toy_mode.py adds one inside a test).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ConfigError
from .network import (LORA_TARGETS, Schedule, TransferModule, add_lora,
                      predict_network, train_network, trainable_parameters)

# the network pieces are re-exported: callers and tests reach every mode's machinery here
__all__ = ["EMBEDDING", "NETWORK", "RUN", "RANDOM", "SCRATCH", "TransferMode", "MODES",
           "register", "get_mode", "modes_of", "modes_accepting", "fit_on_embeddings",
           "EMBEDDING_MODES", "NETWORK_MODES", "KNN_CANDIDATES", "LORA_TARGETS", "Schedule",
           "TransferModule", "add_lora", "predict_network", "train_network",
           "trainable_parameters"]

EMBEDDING, NETWORK = "embedding", "network"
# what `--backbone` names: a `jetfm pretrain` run, frozen random features, a fresh network
RUN, RANDOM, SCRATCH = "run", "random", "scratch"
KNN_CANDIDATES = (11, 15, 21, 31, 51, 101)


@dataclass(frozen=True)
class TransferMode:
    """One `--mode`. An embedding mode has `fit(emb, y, train, val, seed)` → (fitted classifier
    with predict_proba, trainable parameters, chosen settings); a network mode has
    `start(model, fresh, cfg)` → the backbone to train (`fresh()` builds a randomly initialised
    one of the same architecture; `cfg` is the TransferConfig)."""
    name: str
    kind: str                              # EMBEDDING or NETWORK
    backbones: tuple[str, ...]             # the --backbone kinds it accepts (RUN, RANDOM, SCRATCH)
    fit: Callable | None = None            # EMBEDDING
    start: Callable | None = None          # NETWORK
    baseline: str | None = None            # the mode is itself a baseline (results.json)
    representation: str | None = None      # None: --representation or the run's default
    options: tuple[str, ...] = ()          # mode-specific options it reads

    def __post_init__(self):
        # a malformed entry is a programming error, caught when it is registered
        if self.kind not in (EMBEDDING, NETWORK):
            raise ValueError(f"mode {self.name!r}: kind {self.kind!r}")
        if (self.fit if self.kind == EMBEDDING else self.start) is None:
            raise ValueError(f"mode {self.name!r}: a {self.kind} mode needs "
                             f"{'fit' if self.kind == EMBEDDING else 'start'}")
        if not self.backbones or set(self.backbones) - {RUN, RANDOM, SCRATCH}:
            raise ValueError(f"mode {self.name!r}: backbones {self.backbones!r}")

    @property
    def on_embeddings(self) -> bool:
        return self.kind == EMBEDDING


MODES: dict[str, TransferMode] = {}


def register(mode: TransferMode) -> TransferMode:
    if mode.name in MODES:
        raise ValueError(f"transfer mode {mode.name!r} is registered twice")
    MODES[mode.name] = mode
    return mode


def get_mode(name: str) -> TransferMode:
    try:
        return MODES[name]
    except KeyError:
        raise ConfigError(f"--mode {name!r}: choose one of {', '.join(MODES)}") from None


def modes_of(kind: str) -> tuple[str, ...]:
    return tuple(n for n, m in MODES.items() if m.kind == kind)


def modes_accepting(backbone: str) -> tuple[str, ...]:
    """The modes that take a --backbone of this kind (RUN, RANDOM or SCRATCH)."""
    return tuple(n for n, m in MODES.items() if backbone in m.backbones)


def fit_on_embeddings(mode: str, emb: np.ndarray, y: np.ndarray, train: np.ndarray,
                      val: np.ndarray, seed: int):
    """(fitted classifier with predict_proba, trainable parameters, chosen settings)."""
    return get_mode(mode).fit(emb, y, train, val, seed)


# ---------------------------------------------------------------------------------------------
# the built-in modes; sklearn is imported when a mode fits, so that the CLI starts without it

def _outputs(y: np.ndarray) -> int:
    c = int(y.max()) + 1
    return c if c > 2 else 1


def _fit_linear(emb, y, train, val, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    clf.fit(emb[train], y[train])
    return clf, (emb.shape[1] + 1) * _outputs(y), {}


def _fit_mlp(emb, y, train, val, seed):
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(128,), max_iter=400, random_state=seed, alpha=1e-3))
    clf.fit(emb[train], y[train])
    return clf, (emb.shape[1] + 1) * 128 + 129 * _outputs(y), {}


def _fit_knn(emb, y, train, val, seed):
    from sklearn.neighbors import KNeighborsClassifier
    best = None
    for k in KNN_CANDIDATES:
        if k >= len(train):
            break
        knn = KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(emb[train], y[train])
        acc = float((knn.predict(emb[val]) == y[val]).mean())
        if best is None or acc > best[0]:
            best = (acc, k, knn)
    if best is None:     # fewer training jets than the smallest k: use them all
        k = len(train)
        best = (None, k, KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(
            emb[train], y[train]))
    return best[2], 0, {"k": best[1]}


def _start_copy(model, fresh, cfg):
    return copy.deepcopy(model)     # a fresh copy per run, so runs never share weights


def _start_lora(model, fresh, cfg):
    return add_lora(copy.deepcopy(model), cfg.lora_rank)


def _start_fresh(model, fresh, cfg):
    return fresh()


for _mode in (
        TransferMode("linear", EMBEDDING, (RUN, RANDOM), fit=_fit_linear),
        TransferMode("frozen", EMBEDDING, (RUN, RANDOM), fit=_fit_mlp),
        TransferMode("knn", EMBEDDING, (RUN, RANDOM), fit=_fit_knn),
        TransferMode("finetune", NETWORK, (RUN,), start=_start_copy, representation="cls",
                     options=("--backbone-lr-factor",)),
        TransferMode("lora", NETWORK, (RUN,), start=_start_lora, representation="cls",
                     options=("--lora-rank",)),
        TransferMode("scratch", NETWORK, (RUN, SCRATCH), start=_start_fresh,
                     representation="cls", baseline="scratch")):
    register(_mode)

# the built-in names by kind (`jetfm study` checks plans against them); run.py asks MODES
EMBEDDING_MODES = modes_of(EMBEDDING)
NETWORK_MODES = modes_of(NETWORK)
