"""Online probe and collapse diagnostics, for every strategy, at every validation.

On the validation jets (first view), with the exported backbone in eval mode:
- `probe/acc`: a logistic-regression probe (scikit-learn) fitted on the embeddings of half the
  jets and scored on the other half (split within each class), against the data config's
  labels;
- `embed/std_mean`, `embed/std_min`: per-dimension standard deviation of the embeddings;
- `embed/eff_rank`: effective rank, exp(entropy of the normalised singular values);
- `embed/uniformity`: log E exp(−2‖u − v‖²) of the normalised embeddings (Wang & Isola).
- `probe/random_acc`: the same probe on a frozen, randomly initialised backbone of the same
  architecture (computed once per run, on the same jets), and `probe/gain` = `probe/acc` −
  `probe/random_acc`: a random transformer already separates jets by what its inputs carry,
  so only a positive gain says the strategy taught the backbone something. A run that ends
  with gain ≤ 0 prints a warning.
A run whose mean std falls below `COLLAPSE_STD` logs `embed/collapsed = 1` and a warning.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
import torch.nn as nn
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
    """Fit on half the jets, score on the other half, split alternately within each class
    (stratified, so a few validation jets still give both halves every class seen twice);
    None if the fitting half has < 2 classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    order = np.argsort(labels, kind="stable")
    fit, test = order[0::2], order[1::2]
    if len(np.unique(labels[fit])) < 2 or len(labels[test]) == 0:
        return None
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=seed))
    with warnings.catch_warnings():
        # a few validation jets of up to 188 labels: sklearn then calls the labels "a
        # regression problem", a warning per validation that tells the user nothing
        warnings.filterwarnings("ignore", message="The number of unique classes is greater")
        clf.fit(emb[fit], labels[fit])
    return float(clf.score(emb[test], labels[test]))


def random_backbone(model: nn.Module, seed: int = 0) -> nn.Module:
    """A fresh initialisation of `model`'s architecture, frozen (no gradient, eval mode),
    drawn without touching the global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = type(model)(model.config)
    return fresh.to(next(model.parameters()).device).requires_grad_(False).eval()


class OnlineProbe(Callback):
    def __init__(self, max_jets: int = 4096):
        self.max_jets = max_jets
        self._emb: list[np.ndarray] = []
        self._rnd: list[np.ndarray] = []
        self._lab: list[np.ndarray] = []
        self._random: nn.Module | None = None
        self.random_acc: float | None = None     # computed once per run
        self.gain: float | None = None           # at the last validation

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._emb, self._rnd, self._lab = [], [], []
        if self.random_acc is None and self._random is None:
            self._random = random_backbone(pl_module.export_backbone())

    @torch.no_grad()
    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx,
                                dataloader_idx=0) -> None:
        if sum(len(e) for e in self._emb) >= self.max_jets or "label" not in batch:
            return
        x, v, mask = batch["x"], batch["v"], batch["mask"]
        self._emb.append(pl_module.export_backbone()(x, v, mask).embedding.float().cpu().numpy())
        if self._random is not None:
            self._rnd.append(self._random(x, v, mask).embedding.float().cpu().numpy())
        self._lab.append(batch["label"].cpu().numpy())

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not self._emb:
            return
        emb, lab = np.concatenate(self._emb), np.concatenate(self._lab)
        metrics = embedding_diagnostics(emb)
        labelled = lab >= 0                       # unlabelled jets (−1) have nothing to probe
        acc = probe_accuracy(emb[labelled], lab[labelled])
        if self._rnd:
            self.random_acc = probe_accuracy(np.concatenate(self._rnd)[labelled], lab[labelled])
            self._random, self._rnd = None, []    # once per run: same jets every validation
        if acc is not None:
            metrics["probe/acc"] = acc
            if self.random_acc is not None:
                self.gain = acc - self.random_acc
                metrics.update({"probe/random_acc": self.random_acc, "probe/gain": self.gain})
        for key, value in metrics.items():
            pl_module.log(key, value, batch_size=len(emb))
        if metrics["embed/collapsed"]:
            log.warning("step %d: the embeddings have collapsed (mean per-dimension std %.2e "
                        "< %.0e)", trainer.global_step, metrics["embed/std_mean"], COLLAPSE_STD)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.gain is not None and self.gain <= 0:
            log.warning("the linear probe on this backbone (%.3f) does not beat the same probe "
                        "on a frozen random initialisation (%.3f): probe/gain %.3f <= 0, the "
                        "pre-training has not taught the backbone anything a probe can use yet",
                        self.random_acc + self.gain, self.random_acc, self.gain)


__all__ = ["OnlineProbe", "embedding_diagnostics", "probe_accuracy"]
