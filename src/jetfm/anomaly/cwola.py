"""CWoLa hunting (Collins, Howe, Nachman 2018/19): a classifier learns signal region vs sidebands
in m_JJ on unlabelled events; if a localised signal is there, selecting the most SR-like events
enhances it, and the bump hunt on the selected spectrum finds it.

- m_JJ in 15 log bins 2001–4350 GeV (settable); signal region = `sr_bins` (3) bins around a
  centre bin, sidebands = `sb_bins` (2) bins on each side.
- Nested k-fold: the events of the fit range get a fold 0…k−1. For each test fold, each other
  fold takes its turn as validation while the rest train; the model is selected on the
  validation fold (best boosting iteration by weighted log-loss, best of `models` seeds); the
  test fold is scored by the mean of those k−1 models. No event is scored by a model that saw
  it in training.
- SR and SB events are weighted so both count equally.
- In each test fold the top ε of its events in the fit range are selected (threshold per fold,
  ties broken at random); the selected spectrum goes to the bump hunt (`bumpfit`).
- Every selection reports its sculpting, the background's efficiency in the signal region over
  that in the sidebands (`sculpting`; background = every event not injected as signal), and is
  flagged (`sculpted`) above 1.2.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError, DataError
from . import classifiers as C
from .bumpfit import SQRT_S, BumpResult, Spectrum, bump_hunt, check_sqrt_s, log_bins
from .inputs import require_unweighted
from .sculpting import is_sculpted, sculpting_ratio

EFFICIENCIES = (1.0, 0.1, 0.01, 0.002, 0.001)


@dataclass
class CwolaConfig:
    edges: np.ndarray = field(default_factory=log_bins)
    sr_bins: int = 3
    sb_bins: int = 2
    folds: int = 5
    efficiencies: tuple[float, ...] = EFFICIENCIES
    classifier: str = "hgb"
    models: int = 1                 # seeds per validation split; the best one is kept
    max_iter: int = 200
    seed: int = 1
    sqrt_s: float = SQRT_S

    def validate(self) -> None:
        n = len(self.edges) - 1
        if self.sr_bins < 1 or self.sb_bins < 1:
            raise ConfigError("--sr-bins and --sb-bins must be >= 1")
        if self.sr_bins + 2 * self.sb_bins > n or n - self.sr_bins < 4:
            raise ConfigError(f"{n} m_JJ bins cannot hold a {self.sr_bins}-bin signal region, "
                              f"{self.sb_bins} sideband bins each side and a 4-bin fit")
        check_sqrt_s(self.sqrt_s)
        if not np.all(np.isfinite(self.edges)):
            raise ConfigError("--bins: LO and HI must be finite")
        if not self.sqrt_s > self.edges[-1]:
            raise ConfigError(f"--sqrt-s {self.sqrt_s:g} GeV must exceed the last bin edge "
                              f"{self.edges[-1]:g} GeV")
        if self.folds < 3:
            raise ConfigError("--folds must be >= 3 (train, validation and test folds)")
        if not self.efficiencies or any(not 0 < e <= 1 for e in self.efficiencies):
            raise ConfigError("--efficiencies must be in (0, 1]")
        if self.models < 1 or self.max_iter < 1:
            raise ConfigError("--models and --max-iter must be >= 1")
        if self.classifier not in C.CLASSIFIERS:
            raise ConfigError(f"--classifier {self.classifier!r}: choose one of "
                              f"{', '.join(C.CLASSIFIERS)}")

    def centres(self) -> list[int]:
        """Bin indices that can centre a signal region with full sidebands."""
        half = self.sr_bins // 2
        lo = half + self.sb_bins
        hi = len(self.edges) - 1 - (self.sr_bins - half - 1) - self.sb_bins
        return list(range(lo, hi))

    def regions(self, centre: int) -> tuple[np.ndarray, np.ndarray]:
        """(SR mask, SB mask) over the bins for a signal region centred on bin `centre`."""
        n = len(self.edges) - 1
        if centre not in self.centres():
            raise ConfigError(f"signal-region centre bin {centre} leaves no room for the "
                              f"sidebands; choose one of {self.centres()}")
        lo = centre - self.sr_bins // 2
        sr = np.zeros(n, bool)
        sr[lo:lo + self.sr_bins] = True
        sb = np.zeros(n, bool)
        sb[lo - self.sb_bins:lo] = True
        sb[lo + self.sr_bins:lo + self.sr_bins + self.sb_bins] = True
        return sr, sb

    def centre_of(self, mass: float) -> int:
        """The bin containing `mass` (GeV)."""
        k = int(np.searchsorted(self.edges, mass, side="right")) - 1
        if not 0 <= k < len(self.edges) - 1:
            raise ConfigError(f"--centre {mass:g} GeV is outside the m_JJ range "
                              f"{self.edges[0]:g}-{self.edges[-1]:g}")
        return k


def nested_kfold_scores(x, is_sr, w, train_mask, fold, cfg: CwolaConfig,
                        progress: bool = False) -> np.ndarray:
    """Score of every event: the ensemble of its test fold (see the module docstring)."""
    scores = np.full(len(x), np.nan)
    k = cfg.folds
    bar = tqdm(total=k * (k - 1) * cfg.models, desc="cwola fits", disable=not progress,
               dynamic_ncols=True, leave=False)
    for test in range(k):
        members = []
        for val in (f for f in range(k) if f != test):
            tr = train_mask & (fold != test) & (fold != val)
            va = train_mask & (fold == val)
            if is_sr[tr].all() or not is_sr[tr].any() or is_sr[va].all() or not is_sr[va].any():
                raise DataError("a fold has no signal-region or no sideband events: too few "
                                "events for the k-fold (lower --folds or widen the regions)")
            wt, wv = C.balanced_weights(is_sr[tr], w[tr]), C.balanced_weights(is_sr[va], w[va])
            best = None
            for m in range(cfg.models):
                clf = C.fit(C.make_classifier(cfg.classifier, cfg.seed * 1000 + 97 * test +
                                              13 * val + m, cfg.max_iter),
                            x[tr], is_sr[tr], wt)
                stage = C.best_stage(clf, x[va], is_sr[va], wv)
                loss = C.weighted_log_loss(C.predict(clf, x[va], stage), is_sr[va], wv)
                if best is None or loss < best[0]:
                    best = (loss, clf, stage)
                bar.update()
            members.append(best[1:])
        te = fold == test
        scores[te] = np.mean([C.predict(clf, x[te], stage) for clf, stage in members], axis=0)
    bar.close()
    return scores


def select_top(scores, fold, eff: float, rng: np.random.Generator) -> np.ndarray:
    """The top `eff` of each fold's events by score (random tie-breaking)."""
    keep = np.zeros(len(scores), bool)
    jitter = rng.random(len(scores))
    for f in np.unique(fold):
        idx = np.flatnonzero(fold == f)
        n = int(np.ceil(eff * len(idx)))
        order = np.lexsort((jitter[idx], scores[idx]))[::-1]
        keep[idx[order[:n]]] = True
    return keep


def cwola_hunt(mjj, x, centre: int, cfg: CwolaConfig, weight=None, truth=None,
               progress: bool = False) -> dict:
    """One signal-region hypothesis: train, select at every ε, bump-hunt each spectrum.

    `truth` (bool per event, optional) is used only to report the signal kept and the SIC."""
    cfg.validate()
    mjj = np.asarray(mjj, np.float64)
    w = np.ones(len(mjj)) if weight is None else np.asarray(weight, np.float64)
    require_unweighted(w, "CWoLa hunting")
    edges = cfg.edges
    in_range = (mjj >= edges[0]) & (mjj < edges[-1])
    bins = np.searchsorted(edges, mjj, side="right") - 1
    sr_bins, sb_bins = cfg.regions(centre)
    is_sr = in_range & sr_bins[np.clip(bins, 0, len(sr_bins) - 1)]
    is_sb = in_range & sb_bins[np.clip(bins, 0, len(sb_bins) - 1)]
    idx = np.flatnonzero(in_range)
    rng = np.random.default_rng(cfg.seed)
    fold = rng.integers(0, cfg.folds, len(idx))
    try:
        scores = nested_kfold_scores(np.asarray(x)[idx], is_sr[idx], w[idx],
                                     (is_sr | is_sb)[idx], fold, cfg, progress)
    except DataError as e:      # say which signal region of a scan ran short
        lo, hi = edges[sr_bins.argmax()], edges[len(sr_bins) - sr_bins[::-1].argmax()]
        raise DataError(f"signal region {lo:.0f}-{hi:.0f} GeV (centre bin {centre}; "
                        f"{int(is_sr.sum())} events in it, {int(is_sb.sum())} in the "
                        f"sidebands): {e}") from None
    out = {"centre_bin": centre, "signal_region": [float(edges[sr_bins.argmax()]),
                                                   float(edges[len(sr_bins) - sr_bins[::-1].argmax()])],
           "n_events": int(len(idx)), "n_sr": int(is_sr.sum()), "n_sb": int(is_sb.sum()),
           "selections": []}
    sel_rng = np.random.default_rng(cfg.seed + 1)
    background = (np.ones(len(idx), bool) if truth is None else
                  ~np.asarray(truth, bool)[idx])
    for eff in cfg.efficiencies:
        keep = select_top(scores, fold, eff, sel_rng)
        counts = np.bincount(bins[idx][keep], minlength=len(edges) - 1).astype(float)
        ratio, error = sculpting_ratio(keep, background, is_sr[idx], is_sb[idx])
        row = {"efficiency": eff, "counts": counts.tolist(), "sculpting": ratio,
               "sculpting_error": error, "sculpted": is_sculpted(ratio)}
        try:
            res = bump_hunt(Spectrum(edges, counts), sr_bins, cfg.sqrt_s)
            row.update(res.as_dict())
            row["expected"], row["expected_error"] = (v.tolist() for v in res.fit.expected_band())
        except (DataError, ConfigError) as e:
            row.update(z=None, z_simple=None, fit_error=str(e))
        if truth is not None:
            row.update(_truth_summary(np.asarray(truth, bool)[idx], is_sr[idx], keep))
        out["selections"].append(row)
    return out


def _truth_summary(truth, sr, keep) -> dict:
    s, b = truth & sr, ~truth & sr
    eff_s = keep[s].mean() if s.any() else float("nan")
    eff_b = keep[b].mean() if b.any() else float("nan")
    sic = eff_s / np.sqrt(eff_b) if eff_b > 0 else float("nan")
    return {"signal_in_sr": int(s.sum()), "signal_selected_in_sr": int((keep & s).sum()),
            "background_selected_in_sr": int((keep & b).sum()),
            "sic": None if not np.isfinite(sic) else float(sic)}


def scan(mjj, x, cfg: CwolaConfig, centres=None, weight=None, truth=None,
         progress: bool = True) -> list[dict]:
    """`cwola_hunt` at every signal-region centre (default: all that fit)."""
    centres = cfg.centres() if centres is None else list(centres)
    out = []
    for c in tqdm(centres, desc="signal regions", disable=not progress, dynamic_ncols=True):
        out.append(cwola_hunt(mjj, x, c, cfg, weight, truth, progress=False))
    return out


def best_hunt(hunts: list[dict]) -> dict:
    """The signal region with the largest Z at any selection."""
    return max(hunts, key=lambda h: max((s.get("z") or 0) for s in h["selections"]))


def max_z(results: list[dict], efficiency: float | None = None) -> float:
    zs = [s["z"] for r in results for s in r["selections"]
          if s.get("z") is not None and (efficiency is None or s["efficiency"] == efficiency)]
    return max(zs) if zs else float("nan")


__all__ = ["CwolaConfig", "cwola_hunt", "scan", "nested_kfold_scores", "select_top", "max_z",
           "best_hunt",
           "EFFICIENCIES", "BumpResult"]
