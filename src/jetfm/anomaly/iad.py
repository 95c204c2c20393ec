"""Idealised anomaly detection: signal-region "data" (background + injected signal) against a
separate, perfectly modelled background sample, the upper bound of weakly supervised searches
(Hallin et al., CATHODE; the IAD of the foundation-model studies).

Per injection N_S and run r (seeded):
- the background events are split once into a fixed test set and a pool; each run splits the
  pool at random into "data" background and the perfect-background template;
- N_S signal events are drawn from the injection pool (the test signal is held out);
- an ensemble of `models` classifiers (different seeds) learns data vs template with balanced
  class weights; its mean score is evaluated on the test set;
- SIC = ε_S/√ε_B on the test set; max SIC only where ε_B > 1/(N_B,test · 0.2²).
Curves are the median and the 16–84 % band over runs, on a common ε_S grid.

Sculpting (given sideband background events, which no model trains on): at each background
efficiency ε_B of `sculpting.SCULPTING_EFFS` (threshold on the test background), ε_B over the fraction of
sideband background above the same threshold; median over runs, flagged above 1.2. An ε_B that
keeps fewer than `sculpting.MIN_SELECTED` test-background events is not measured (too noisy).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError, DataError
from ..metrics.core import auc, max_sic, roc, sic_curve
from . import classifiers as C
from .sculpting import is_sculpted, sculpting_at

EFF_S_GRID = np.round(np.linspace(0.01, 1.0, 100), 4)


@dataclass
class IadConfig:
    injections: tuple[int, ...] = (0, 50, 100, 200, 500)
    runs: int = 5
    models: int = 5
    classifier: str = "hgb"
    max_iter: int = 200
    test_fraction: float = 0.3       # of the background and of the signal, held out
    seed: int = 1
    rel_unc: float = 0.2             # the max-SIC floor ε_B > 1/(N_B·rel_unc²)

    def validate(self) -> None:
        if not self.injections or any(n < 0 for n in self.injections):
            raise ConfigError("--inject: numbers of signal events >= 0")
        if self.runs < 1 or self.models < 1 or self.max_iter < 1:
            raise ConfigError("--runs, --models and --max-iter must be >= 1")
        if not 0 < self.test_fraction < 1:
            raise ConfigError("--test-fraction must be in (0, 1)")
        if self.classifier not in C.CLASSIFIERS:
            raise ConfigError(f"--classifier {self.classifier!r}: choose one of "
                              f"{', '.join(C.CLASSIFIERS)}")


def _sic_on_grid(eff_s, eff_b) -> np.ndarray:
    sic = sic_curve(eff_s, eff_b)
    ok = np.isfinite(sic)
    if ok.sum() < 2:
        return np.full(len(EFF_S_GRID), np.nan)
    return np.interp(EFF_S_GRID, eff_s[ok], sic[ok], left=np.nan, right=np.nan)


def idealised_ad(x_bkg, x_sig, cfg: IadConfig, progress: bool = True,
                 x_sideband=None) -> dict:
    """IAD on signal-region events: `x_bkg` (background) and `x_sig` (signal) inputs;
    `x_sideband`: background events of the m_JJ sidebands, for the sculpting."""
    cfg.validate()
    x_bkg, x_sig = np.asarray(x_bkg), np.asarray(x_sig)
    x_sb = None if x_sideband is None or len(x_sideband) == 0 else np.asarray(x_sideband)
    rng = np.random.default_rng(cfg.seed)
    b_perm, s_perm = rng.permutation(len(x_bkg)), rng.permutation(len(x_sig))
    nb_test = int(round(cfg.test_fraction * len(x_bkg)))
    ns_test = int(round(cfg.test_fraction * len(x_sig)))
    b_test, b_pool = b_perm[:nb_test], b_perm[nb_test:]
    s_test, s_pool = s_perm[:ns_test], s_perm[ns_test:]
    if nb_test < 10 or ns_test < 10 or len(b_pool) < 20:
        raise DataError(f"idealised AD: {len(x_bkg)} background and {len(x_sig)} signal events "
                        "in the signal region are too few for the test split")
    too_many = [n for n in cfg.injections if n > len(s_pool)]
    if too_many:
        raise ConfigError(f"--inject {too_many}: only {len(s_pool)} signal events are left "
                          "for injection after the test split")
    x_test = np.concatenate([x_bkg[b_test], x_sig[s_test]])
    n_b = len(b_test)
    results = []
    bar = tqdm(total=len(cfg.injections) * cfg.runs, desc="IAD runs", disable=not progress,
               dynamic_ncols=True)
    for n_inj in cfg.injections:
        runs = []
        for r in range(cfg.runs):
            rr = np.random.default_rng([cfg.seed, n_inj, r])
            pool = rr.permutation(b_pool)
            data_b, template = pool[: len(pool) // 2], pool[len(pool) // 2:]
            inj = rr.choice(s_pool, n_inj, replace=False)
            x = np.concatenate([x_bkg[data_b], x_sig[inj], x_bkg[template]])
            y = np.concatenate([np.ones(len(data_b) + n_inj), np.zeros(len(template))])
            w = C.balanced_weights(y)
            models = [C.fit(C.make_classifier(cfg.classifier, 7919 * r + m, cfg.max_iter,
                                              early_stopping=True), x, y, w)
                      for m in range(cfg.models)]
            scores = np.mean([C.predict(clf, x_test) for clf in models], axis=0)
            s_sc, b_sc = scores[n_b:], scores[:n_b]
            eff_s, eff_b, _ = roc(s_sc, b_sc)
            best, es, eb = max_sic(eff_s, eff_b, n_b, cfg.rel_unc, return_point=True)
            sculpt = None if x_sb is None else sculpting_at(
                b_sc, np.mean([C.predict(clf, x_sb) for clf in models], axis=0))
            runs.append({"max_sic": _num(best), "eff_s": _num(es), "eff_b": _num(eb),
                         "auc": float(auc(s_sc, b_sc)), "sculpting": sculpt,
                         "sic": _sic_on_grid(eff_s, eff_b)})
            bar.update()
        sic = np.array([r["sic"] for r in runs])
        with warnings.catch_warnings():       # all-NaN grid points stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            band = {name: np.nanpercentile(sic, q, axis=0)
                    for name, q in (("median", 50), ("lo", 16), ("hi", 84))}
        ms = np.array([np.nan if r["max_sic"] is None else r["max_sic"] for r in runs])
        results.append({
            "injected": n_inj, "s_over_b": n_inj / max(len(b_pool) // 2, 1),
            "s_over_sqrt_b": n_inj / np.sqrt(max(len(b_pool) // 2, 1)),
            "max_sic_median": _num(np.nanmedian(ms)) if np.isfinite(ms).any() else None,
            "max_sic_lo": _num(np.nanpercentile(ms, 16)) if np.isfinite(ms).any() else None,
            "max_sic_hi": _num(np.nanpercentile(ms, 84)) if np.isfinite(ms).any() else None,
            "auc_median": float(np.median([r["auc"] for r in runs])),
            **_median_sculpting(runs),
            "runs": [{k: v for k, v in r.items() if k != "sic"} for r in runs],
            "sic_curve": {k: [_num(v) for v in a] for k, a in band.items()},
        })
    bar.close()
    return {"eff_s_grid": EFF_S_GRID.tolist(), "n_background_test": n_b,
            "n_background_sideband": 0 if x_sb is None else int(len(x_sb)),
            "n_signal_test": int(ns_test), "n_background_data": int(len(b_pool) // 2),
            "n_background_template": int(len(b_pool) - len(b_pool) // 2),
            "injections": results}


def _median_sculpting(runs) -> dict:
    """The median over runs of each ε_B's sculpting (None where no run measured it)."""
    if runs[0]["sculpting"] is None:
        return {"sculpting": None, "sculpted": False}
    med = {}
    for eps in runs[0]["sculpting"]:
        v = [r["sculpting"][eps] for r in runs if r["sculpting"][eps] is not None]
        med[eps] = float(np.median(v)) if v else None
    return {"sculpting": med, "sculpted": any(is_sculpted(v) for v in med.values())}


def _num(v):
    v = float(v)
    return v if np.isfinite(v) else None
