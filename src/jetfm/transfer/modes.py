"""How a backbone is adapted to a task: one function per family of modes.

- on frozen embeddings (computed once, `jetfm.embeddings.cached_embeddings`): `linear` (logistic
  regression), `frozen` (MLP head), `knn` (cosine kNN, k chosen on the validation split);
- through the network (Lightning, `network.py`): `finetune` (whole model), `lora` (peft LoRA
  adapters on every attention projection and feed-forward linear of the particle and class
  blocks, base weights frozen), `scratch` (same architecture, random initialisation); all
  three under the same LP-FT schedule (head first on the frozen backbone, then everything).
"""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .network import (LORA_TARGETS, Schedule, TransferModule, add_lora,  # noqa: F401
                      predict_network, train_network, trainable_parameters)

EMBEDDING_MODES = ("linear", "frozen", "knn")
NETWORK_MODES = ("finetune", "lora", "scratch")
MODES = EMBEDDING_MODES + NETWORK_MODES
KNN_CANDIDATES = (11, 15, 21, 31, 51, 101)


def fit_on_embeddings(mode: str, emb: np.ndarray, y: np.ndarray, train: np.ndarray,
                      val: np.ndarray, seed: int):
    """(fitted classifier with predict_proba, trainable parameters, chosen settings)."""
    d, c = emb.shape[1], int(y.max()) + 1
    if mode == "linear":
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
        clf.fit(emb[train], y[train])
        return clf, (d + 1) * (c if c > 2 else 1), {}
    if mode == "frozen":
        clf = make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(128,), max_iter=400, random_state=seed, alpha=1e-3))
        clf.fit(emb[train], y[train])
        return clf, (d + 1) * 128 + 129 * (c if c > 2 else 1), {}
    if mode == "knn":
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
    raise ValueError(mode)
