"""Jet records (ak.Array batches from the readers) -> ParT inputs, vectorised over particles.

Two stages, so the shuffle buffer can hold compact jagged data rather than padded arrays:

1. `compute_flat` -> `FlatJets`: every feature/4-vector as one row per *particle* (numpy over
   the flattened lists; jet-level columns are broadcast with `np.repeat`), jets longer than
   `max_particles` cut to their leading-pT particles, labels mapped, optional weights.
   Errors name the file here, where it is still known.
2. `FlatJets.pad()` -> `x` (N, F, P) float32, `v` (N, 4, P) float32, `mask` (N, 1, P) bool,
   `label` (N,) int64, [`weight` (N,) float32], extras (N,); P = min(max_particles, longest
   jet) so each batch is trimmed to what it needs. Padded slots are 0 (ParT zeroes them
   anyway; weaver's `wrap` padding only matters for training-time BatchNorm statistics).

`build_inputs` does both. Selection cuts are *not* applied here (see `apply_selection`), so
N always equals the number of jets passed in. Jets with no particles are allowed: their mask
is all False (the model must cope, ParT does). Particles keep their stored order (pT-sorted
in JetClass-II) unless a jet is truncated, when its kept particles are ordered by pT.

Non-finite *input* values raise DataError (file + column). Values a transform makes
non-finite (log of a zero momentum -> -inf) are clipped; NaN from logs of negative values,
which real data never has, become 0 with a logged warning, as weaver does.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import awkward as ak
import numpy as np

from jetfm.data.config import KNOWN_COLUMNS, OPS, DataConfig
from jetfm.data.parquet import check_finite
from jetfm.errors import DataError

if TYPE_CHECKING:
    from jetfm.data.reweight import Reweighter

log = logging.getLogger(__name__)
RESERVED_KEYS = ("x", "v", "mask", "label", "weight")

Getter = Callable[[str], np.ndarray]  # column name -> float32 value per particle


def _hypot(g: Getter, a: str, b: str) -> np.ndarray:
    return np.hypot(g(a), g(b))


# Op implementations; names and columns must match `jetfm.data.config.OPS`.
_IMPL: dict[str, Callable[[Getter, dict], np.ndarray]] = {
    "log_pt_scaled": lambda g, k: np.log(_hypot(g, "part_px", "part_py") * np.float32(k["scale"])
                                         / g("jet_pt")),
    "log_e_scaled": lambda g, k: np.log(g("part_energy") * np.float32(k["scale"]) / g("jet_pt")),
    "log_pt": lambda g, k: np.log(_hypot(g, "part_px", "part_py")),
    "log_e": lambda g, k: np.log(g("part_energy")),
    "log_ptrel": lambda g, k: np.log(_hypot(g, "part_px", "part_py") / g("jet_pt")),
    "log_erel": lambda g, k: np.log(g("part_energy") / g("jet_energy")),
    "delta_r": lambda g, k: _hypot(g, "part_deta", "part_dphi"),
    "copy": lambda g, k: g(k["column"]),
    "tanh": lambda g, k: np.tanh(g(k["column"])),
}
assert set(_IMPL) == set(OPS), "feature op registry and implementations disagree"


@dataclass
class FlatJets:
    """Jagged jets as flat per-particle arrays plus per-jet counts and per-jet columns."""
    feats: np.ndarray                      # (n_particles, F) float32
    vecs: np.ndarray                       # (n_particles, 4) float32
    counts: np.ndarray                     # (N,) int64, each <= max_particles
    jets: dict[str, np.ndarray] = field(default_factory=dict)  # label, weight, extras: (N,)

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)])

    def take(self, idx: np.ndarray) -> "FlatJets":
        """Jets `idx` (any order, no Python loop): gather their particle rows."""
        idx = np.asarray(idx, np.int64)
        counts = self.counts[idx]
        starts = self.offsets[:-1][idx]
        new_starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rows = np.arange(int(counts.sum())) + np.repeat(starts - new_starts, counts)
        return FlatJets(self.feats[rows], self.vecs[rows], counts,
                        {k: v[idx] for k, v in self.jets.items()})

    @staticmethod
    def concat(parts: Sequence["FlatJets"]) -> "FlatJets":
        if len(parts) == 1:
            return parts[0]
        return FlatJets(np.concatenate([p.feats for p in parts]),
                        np.concatenate([p.vecs for p in parts]),
                        np.concatenate([p.counts for p in parts]),
                        {k: np.concatenate([p.jets[k] for p in parts]) for k in parts[0].jets})

    def pad(self, max_particles: int) -> dict[str, np.ndarray]:
        """Padded model inputs; P = min(max_particles, longest jet), at least 1."""
        n = len(self)
        p = max(1, min(max_particles, int(self.counts.max(initial=0))))
        rows = np.repeat(np.arange(n), self.counts)
        cols = np.arange(len(rows)) - np.repeat(self.offsets[:-1], self.counts)
        x = np.zeros((n, self.feats.shape[1], p), np.float32)
        v = np.zeros((n, 4, p), np.float32)
        mask = np.zeros((n, 1, p), bool)
        x[rows, :, cols] = self.feats
        v[rows, :, cols] = self.vecs
        mask[rows, 0, cols] = True
        return {"x": x, "v": v, "mask": mask, **self.jets}



@dataclass
class LockstepJets:
    """Two FlatJets in lockstep, item i = (a[i], b[i]): two views of one jet or one shower
    that must stay together through shuffling. `SECOND_KEYS` names the second view's padded
    inputs (subclasses: explicit pairs, reco + truth particles)."""
    a: FlatJets
    b: FlatJets
    SECOND_KEYS = {"x": "x2", "v": "v2", "mask": "mask2"}

    def __len__(self) -> int:
        return len(self.a)

    def take(self, idx: np.ndarray):
        return type(self)(self.a.take(idx), self.b.take(idx))

    @classmethod
    def concat(cls, parts: Sequence["LockstepJets"]):
        return cls(FlatJets.concat([p.a for p in parts]), FlatJets.concat([p.b for p in parts]))

    def pad(self, max_particles: int) -> dict[str, np.ndarray]:
        """The first view's inputs under the usual keys, the second's under SECOND_KEYS."""
        out = self.a.pad(max_particles)
        second = self.b.pad(max_particles)
        out.update({new: second[old] for old, new in self.SECOND_KEYS.items()})
        return out

def apply_selection(batch: ak.Array, cfg: DataConfig) -> ak.Array:
    """Jets passing every cut of `cfg.selection` (min/max inclusive, gt/lt strict)."""
    if not cfg.selection or len(batch) == 0:
        return batch
    keep = np.ones(len(batch), bool)
    for c in cfg.selection:
        val = ak.to_numpy(batch[c.column])
        for bound, ok in ((c.min, np.greater_equal), (c.max, np.less_equal),
                          (c.gt, np.greater), (c.lt, np.less)):
            if bound is not None:
                keep &= ok(val, bound)
    return batch if keep.all() else batch[keep]


def _particle_columns(cfg: DataConfig) -> list[str]:
    return [c for c in cfg.required_columns() if KNOWN_COLUMNS.get(c)]


def _positions(counts: np.ndarray, pt: np.ndarray, max_particles: int):
    """(order, keep): particle permutation putting truncated jets in pT order, and a keep mask.

    Only jets with more than `max_particles` particles are reordered (by pT, descending, ties
    in stored order); the others keep their stored order untouched.
    """
    long = counts > max_particles
    if not long.any():
        return None, None
    total = int(counts.sum())
    rows = np.repeat(np.arange(len(counts)), counts)
    starts = np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    local = np.arange(total) - starts
    # Sort only the particles of long jets (rows first, so each stays in its jet's segment).
    idx = np.flatnonzero(long[rows])
    order = np.arange(total)
    order[idx] = idx[np.lexsort((local[idx], -pt[idx].astype(np.float64), rows[idx]))]
    return order, local < max_particles


def compute_flat(batch: ak.Array, cfg: DataConfig, *, path="<batch>", row_offset: int = 0,
                 reweighter: "Reweighter | None" = None, extra_columns: Sequence[str] = (),
                 select: bool = False) -> FlatJets:
    """Features, 4-vectors, labels (and weights / extra per-jet columns) as `FlatJets`.

    `select=True` applies `cfg.selection` after the finiteness check (so a NaN in a cut
    column is an error, not a silently failed cut; that error counts rows from `row_offset`
    in the unselected batch, later messages count rows among the selected jets).
    """
    fields = set(ak.fields(batch))
    used = cfg.required_columns()
    if reweighter is not None:
        used += list(reweighter.vars) + [cfg.labels.column]
    for col in used + list(extra_columns):
        if col not in fields:
            raise DataError(f"{path}: column '{col}' is missing")
    check_finite(batch, list(dict.fromkeys(used)), path, row_offset)
    pcols = _particle_columns(cfg)
    empty = np.flatnonzero(ak.to_numpy(ak.num(batch[pcols[0]], axis=1)) == 0)
    if len(empty):  # JetClass jets have >= 1 constituent; a model cannot score an empty one
        raise DataError(f"{path}: {len(empty)} jet(s) without particles (empty '{pcols[0]}'), "
                        f"first at row {row_offset + int(empty[0])}")
    if select:
        batch = apply_selection(batch, cfg)

    counts = ak.to_numpy(ak.num(batch[pcols[0]], axis=1)).astype(np.int64)
    for col in pcols[1:]:
        if not np.array_equal(ak.to_numpy(ak.num(batch[col], axis=1)), counts):
            raise DataError(f"{path}: column '{col}' has a different number of particles "
                            f"than '{pcols[0]}'")
    rows = np.repeat(np.arange(len(batch)), counts)
    cache: dict[str, np.ndarray] = {}

    def get(col: str) -> np.ndarray:
        if col not in cache:
            arr = batch[col]
            flat = ak.to_numpy(ak.flatten(arr, axis=1)) if arr.ndim > 1 \
                else ak.to_numpy(arr)[rows]  # per-jet value broadcast to its particles
            cache[col] = flat.astype(np.float32, copy=False)
        return cache[col]

    feats = np.empty((len(rows), cfg.num_features), np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for j, f in enumerate(cfg.features):
            val = _IMPL[f.op](get, f.kwargs)
            if f.subtract or f.multiply != 1:
                val = (val - np.float32(f.subtract)) * np.float32(f.multiply)
            if f.clip is not None:
                val = np.clip(val, f.clip[0], f.clip[1])
            feats[:, j] = val
        vecs = np.stack([get(c) for c in cfg.vector_columns], axis=1)
        if cfg.vector_scale:
            vecs *= (np.float32(cfg.vector_scale) / get("jet_pt"))[:, None]
    for name, arr in (("feature", feats), ("vector", vecs)):
        bad = ~np.isfinite(arr)
        if bad.any():
            cols = np.flatnonzero(bad.any(axis=0))
            names = cfg.feature_names if name == "feature" else cfg.vector_columns
            log.warning("%s: %d non-finite %s values (%s) set to 0, first in row %d", path,
                        int(bad.sum()), name, ", ".join(names[c] for c in cols),
                        row_offset + int(rows[np.flatnonzero(bad.any(axis=1))[0]]))
            arr[bad] = 0.0

    jets = {}
    if cfg.labels is not None:
        src = ak.to_numpy(batch[cfg.labels.column]).astype(np.int64)
        n_src = len(cfg.labels.source_names)
        # −1: no JetClass-II label (tau, dark jets); kept as −1 for self-supervised runs, which
        # alone are let through to here (check_files refuses them for classifiers)
        unlabelled = src == -1
        bad = (src < -1) | (src >= n_src) | (unlabelled & (reweighter is not None))
        if bad.any():
            raise DataError(f"{path}: column '{cfg.labels.column}' has values outside "
                            f"[0, {n_src}) for label space {cfg.labels.space!r}, first "
                            f"{src[bad][0]} at row {row_offset + np.flatnonzero(bad)[0]}")
        jets["label"] = np.where(unlabelled, -1, cfg.labels.mapping()[np.maximum(src, 0)])
        if reweighter is not None:
            jets["weight"] = reweighter.weights(
                *(ak.to_numpy(batch[c]) for c in reweighter.vars), src)
    for col in extra_columns:
        if col in RESERVED_KEYS:
            raise DataError(f"extra column {col!r} clashes with a batch key")
        jets[col] = ak.to_numpy(batch[col])

    order, keep = _positions(counts, np.hypot(get(cfg.vector_columns[0]),
                                              get(cfg.vector_columns[1])),
                             cfg.max_particles)
    if order is not None:
        sel = order[keep]
        feats, vecs = feats[sel], vecs[sel]
        counts = np.minimum(counts, cfg.max_particles)
    return FlatJets(feats, vecs, counts, jets)


def build_inputs(batch: ak.Array, cfg: DataConfig, *, path="<batch>", row_offset: int = 0,
                 reweighter: "Reweighter | None" = None,
                 extra_columns: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Model inputs for every jet of `batch` (no selection applied), see the module doc."""
    return compute_flat(batch, cfg, path=path, row_offset=row_offset, reweighter=reweighter,
                        extra_columns=extra_columns).pad(cfg.max_particles)


__all__ = ["FlatJets", "apply_selection", "compute_flat", "build_inputs"]
