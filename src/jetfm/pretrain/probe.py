"""Online probe and collapse diagnostics, for every strategy, at every validation.

On the validation jets (first view), with the exported backbone in eval mode:
- `probe/acc`: a logistic-regression probe (scikit-learn) fitted on the embeddings of half the
  jets and scored on the other half, against the data config's labels;
- `embed/std_mean`, `embed/std_min`: per-dimension standard deviation of the embeddings;
- `embed/eff_rank`: effective rank, exp(entropy of the normalised singular values);
- `embed/uniformity`: log E exp(−2‖u − v‖²) of the normalised embeddings (Wang & Isola).
A run whose mean std falls below `COLLAPSE_STD` logs `embed/collapsed = 1` and a warning.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

log = logging.getLogger(__name__)
COLLAPSE_STD = 1e-3


def embedding_diagnostics(emb: np.ndarray) -> dict[str, float]:
    std = emb.std(axis=0)
    centred = emb - emb.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    p = s / s.sum() if s.sum() > 0 else np.ones_like(s) / len(s)
    p = p[p > 0]
    u = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    d2 = np.maximum(2 - 2 * u @ u.T, 0)[np.triu_indices(len(u), 1)]
    return {"embed/std_mean": float(std.mean()), "embed/std_min": float(std.min()),
            "embed/eff_rank": float(np.exp(-(p * np.log(p)).sum())),
            "embed/uniformity": float(np.log(np.exp(-2 * d2).mean())) if len(d2) else 0.0,
            "embed/collapsed": float(std.mean() < COLLAPSE_STD)}


def probe_accuracy(emb: np.ndarray, labels: np.ndarray, seed: int = 0) -> float | None:
    """Fit on even-indexed jets, score on odd ones; None if either half has < 2 classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    fit, test = slice(0, None, 2), slice(1, None, 2)
    if len(np.unique(labels[fit])) < 2 or len(labels[test]) == 0:
        return None
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=seed))
    clf.fit(emb[fit], labels[fit])
    return float(clf.score(emb[test], labels[test]))


class OnlineProbe(Callback):
    def __init__(self, max_jets: int = 4096):
        self.max_jets = max_jets
        self._emb: list[np.ndarray] = []
        self._lab: list[np.ndarray] = []

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._emb, self._lab = [], []

    @torch.no_grad()
    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx,
                                dataloader_idx=0) -> None:
        if sum(len(e) for e in self._emb) >= self.max_jets or "label" not in batch:
            return
        out = pl_module.export_backbone()(batch["x"], batch["v"], batch["mask"])
        self._emb.append(out.embedding.float().cpu().numpy())
        self._lab.append(batch["label"].cpu().numpy())

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not self._emb:
            return
        emb, lab = np.concatenate(self._emb), np.concatenate(self._lab)
        metrics = embedding_diagnostics(emb)
        labelled = lab >= 0                       # unlabelled jets (−1) have nothing to probe
        acc = probe_accuracy(emb[labelled], lab[labelled])
        if acc is not None:
            metrics["probe/acc"] = acc
        for key, value in metrics.items():
            pl_module.log(key, value, batch_size=len(emb))
        if metrics["embed/collapsed"]:
            log.warning("step %d: the embeddings have collapsed (mean per-dimension std %.2e "
                        "< %.0e)", trainer.global_step, metrics["embed/std_mean"], COLLAPSE_STD)


__all__ = ["OnlineProbe", "embedding_diagnostics", "probe_accuracy"]
