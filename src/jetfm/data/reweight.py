"""Flat reweighting in (jet_pt, jet_sdmass) per label group, as weaver's `reweight_method: flat`.

Sophon trains on JetClass-II with per-jet weights that make every label group flat in
(jet_pt, jet_sdmass) and give groups fixed relative totals, so the classifier cannot learn
the generator's pT / mass priors. The recipe (weaver `WeightMaker`, flat method):

  h_g      = 2D histogram of group g (bins from the config)
  ref_g    = `threshold`-th percentile of h_g over populated bins (bins below 1% of the
             median count ignored), so sparse bins are not blown up
  w_g(bin) = min(ref_g / h_g, 1)   (bins with fewer than ref_g jets are left at 1)
  then each group is scaled to total `class_weight_g`, and all weights so that the mean
  weight over the fitted jets is 1.

How the weights are used (`mode`):
  sample (default, weaver's `_get_reweight_indices`): each jet is repeated `n_repeats` times
         and each copy kept with probability w / max(w); training is unweighted. The mean
         acceptance is 1 / max(w), so n_repeats = min(max_resample, floor(max(w))) keeps
         about as many jets as were read, or n_repeats / max(w) of them when the cap bites
         (weaver: at most 10 repeats; full-range JetClass-II: max(w) = 33, so 0.3x).
  loss:  every jet kept, w enters the loss as a weighted mean (the same expectation, but on
         full-range JetClass-II the effective sample size of w is 11 % of the jets, so a
         batch's loss rests on its few heavy jets).

Jets outside the bin range get weight 0 when `discard_under_overflow` (weaver's default;
jetclass2's selection matches the bin range so none occur), else the edge bin's weight.
Groups: `label` (one per class), `family`, `sophon30` (Sophon's 30 groups: quark flavours
merged within each decay topology, e.g. X_YY_QQQQ, QCD as one group) or an explicit
{group: [label names / patterns]} mapping covering every label.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from .label_groups import group_of_label

if TYPE_CHECKING:
    from .config import DataConfig

log = logging.getLogger(__name__)

@dataclass
class Reweighter:
    """Per-jet weights from a (group, x bin, y bin) table. `to_dict()` for the run config."""
    vars: tuple[str, str]
    edges: tuple[np.ndarray, np.ndarray]
    group_names: tuple[str, ...]
    group_of_label: np.ndarray          # (n source labels,) -> group index
    table: np.ndarray                   # (groups, nx, ny) float32 weights
    discard_under_overflow: bool = True
    mode: str = "sample"                # "sample" (weaver) or "loss"; see the module doc
    max_resample: int = 10
    stats: dict = field(default_factory=dict)   # fit summary: jets, ess, max_weight

    @property
    def n_repeats(self) -> int:
        """Copies of each jet offered to accept-reject when sampling (weaver's up-sampling)."""
        return int(min(self.max_resample, max(1, np.floor(float(self.table.max())))))

    def sample(self, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Indices of the jets drawn by weight: each jet `n_repeats` times, each copy kept
        with probability weight / max(table) (weaver `_get_reweight_indices`)."""
        w = np.asarray(weights, np.float64) / max(float(self.table.max()), 1e-30)
        idx = np.repeat(np.arange(len(w)), self.n_repeats)
        return idx[rng.random(len(idx)) < w[idx]]

    def _bins(self, x, y):
        idx, ok = [], np.ones(len(x), bool)
        for v, e in zip((x, y), self.edges):
            i = np.searchsorted(e, np.asarray(v, np.float64), side="right") - 1
            ok &= (i >= 0) & (i < len(e) - 1)
            idx.append(np.clip(i, 0, len(e) - 2))
        return idx[0], idx[1], ok

    def weights(self, x, y, labels) -> np.ndarray:
        """float32 weight per jet from the two reweighting variables and source labels."""
        ix, iy, ok = self._bins(x, y)
        w = self.table[self.group_of_label[np.asarray(labels, np.int64)], ix, iy]
        if self.discard_under_overflow:
            w = np.where(ok, w, 0)
        return w.astype(np.float32)

    def to_dict(self) -> dict:
        return {"vars": list(self.vars), "edges": [e.tolist() for e in self.edges],
                "group_names": list(self.group_names),
                "group_of_label": self.group_of_label.tolist(), "table": self.table.tolist(),
                "discard_under_overflow": self.discard_under_overflow, "mode": self.mode,
                "max_resample": self.max_resample, "stats": dict(self.stats)}

    @classmethod
    def from_dict(cls, d: dict) -> "Reweighter":
        return cls(tuple(d["vars"]), tuple(np.asarray(e, np.float64) for e in d["edges"]),
                   tuple(d["group_names"]), np.asarray(d["group_of_label"], np.int64),
                   np.asarray(d["table"], np.float32), bool(d["discard_under_overflow"]),
                   # runs written before sampling existed weighted the loss
                   str(d.get("mode", "loss")), int(d.get("max_resample", 10)),
                   dict(d.get("stats", {})))


def compute_reweighter(x, y, labels, cfg: DataConfig) -> Reweighter:
    """Fit flat weights from per-jet arrays (jet_pt-like, jet_sdmass-like, source label)."""
    spec = cfg.reweight
    names, gmap = group_of_label(cfg)
    edges = tuple(np.asarray(e, np.float64) for e in spec.bins)
    rw = Reweighter(spec.vars, edges, names, gmap,
                    np.zeros((len(names), len(edges[0]) - 1, len(edges[1]) - 1), np.float32),
                    spec.discard_under_overflow, spec.mode, spec.max_resample)
    ix, iy, ok = rw._bins(x, y)
    if not spec.discard_under_overflow:
        ok[:] = True
    g = gmap[np.asarray(labels, np.int64)]
    shape = rw.table.shape
    flat = np.ravel_multi_index((g[ok], ix[ok], iy[ok]), shape)
    hist = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(np.float64)
    cw = dict(spec.class_weights)
    table = np.zeros(shape)
    missing = []
    for k, name in enumerate(names):  # a loop over groups (<= 188), not jets
        h = hist[k]
        if not h.any():
            missing.append(name)
            continue
        populated = h[h > np.median(h[h > 0]) * 0.01]
        ref = np.percentile(populated, spec.threshold)
        w = np.where(h > 0, np.minimum(ref / np.maximum(h, 1), 1.0), 0.0)
        table[k] = w * cw.get(name, 1.0) / (h * w).sum()
    total = (hist * table).sum()
    if total <= 0:
        raise ConfigError("reweight: no jets inside the reweighting bins")
    table *= len(g) / total  # mean weight over the fitted jets = 1
    if missing:
        # Groups absent from the fitted sample are left unweighted rather than dropped.
        log.warning("reweight: no jets for groups %s in the fitted sample; weight 1 for them",
                    ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
        for name in missing:
            table[names.index(name)] = 1.0
    rw.table = table.astype(np.float32)
    w = rw.table[g, ix, iy] * ok
    rw.stats = {"jets": int(len(g)), "max_weight": float(rw.table.max()),
                # Kish effective sample size of the weights, as a fraction of the jets
                "ess": float(w.sum() ** 2 / max(len(g) * (w ** 2).sum(), 1e-30)),
                "zero_weight": float((w == 0).mean())}
    return rw


def describe(rw: Reweighter) -> str:
    """One line for the run's log: how much the weights cost in statistics."""
    s = rw.stats
    how = (f"sampled: each jet offered {rw.n_repeats}x, kept with probability "
           f"w/{s.get('max_weight', 0):.3g}, unweighted loss" if rw.mode == "sample"
           else "weighted loss")
    return (f"reweight ({how}): fitted on {s.get('jets', 0):,} jets, effective sample size "
            f"{100 * s.get('ess', 0):.1f} %, {100 * s.get('zero_weight', 0):.1f} % weight 0")


__all__ = ["Reweighter", "group_of_label", "compute_reweighter", "describe"]
