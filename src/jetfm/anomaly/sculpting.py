"""Two numbers every weakly supervised search reports next to its Z, so a bump made by the
method cannot pass for a signal:

- **sculpting** = the background's selection efficiency in the signal region divided by that in
  the sidebands. A selection independent of m_JJ keeps the same fraction of background on both
  sides (1.0); a classifier that has learnt m_JJ (from inputs that carry jet pT, say) keeps more
  in the signal region (> 1), and the sideband fit then calls the difference a signal.
  Selections above `SCULPTING_FLAG` are flagged.
- **the look-elsewhere expectation** of a scan: the largest local Z that a background-only scan
  of N tests (signal-region centres × selection efficiencies) reaches by chance, and the global
  Z of the largest one observed. The N tests are treated as independent (Šidák); neighbouring
  centres share events and the efficiencies are nested, so the true trials factor is smaller
  and the global Z given here is conservative (too low), the expected maximum too high.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

SCULPTING_FLAG = 1.2
SCULPTING_EFFS = (0.1, 0.01, 0.001)   # IAD: background efficiencies measured
MIN_SELECTED = 25                    # IAD: fewer selected test-background events: not measured


def sculpting_ratio(keep, background, in_sr, in_sb) -> tuple[float | None, float | None]:
    """(ε_B(SR) / ε_B(SB), its binomial standard error); None where a region holds no
    background or the sidebands keep none of it."""
    keep, background = np.asarray(keep, bool), np.asarray(background, bool)
    sr, sb = background & np.asarray(in_sr, bool), background & np.asarray(in_sb, bool)
    n_sr, n_sb = int(sr.sum()), int(sb.sum())
    if n_sr == 0 or n_sb == 0:
        return None, None
    e_sr, e_sb = keep[sr].mean(), keep[sb].mean()
    if e_sb == 0:
        return None, None
    ratio = e_sr / e_sb
    # relative errors of two independent binomial efficiencies, added in quadrature
    rel2 = (1 - e_sb) / (n_sb * e_sb) + ((1 - e_sr) / (n_sr * e_sr) if e_sr > 0 else 0.0)
    return float(ratio), float(ratio * np.sqrt(rel2))


def sculpting_at(b_scores, sb_scores) -> dict:
    """{ε_B: ε_B / sideband efficiency at the same threshold, or None} (IAD: thresholds on the test background)."""
    out = {}
    b_sorted = np.sort(np.asarray(b_scores))[::-1]
    sb_scores = np.asarray(sb_scores)
    for eps in SCULPTING_EFFS:
        k = int(np.ceil(eps * len(b_sorted)))
        ratio = None
        if k >= MIN_SELECTED and len(sb_scores):
            eff_sb = float((sb_scores >= b_sorted[k - 1]).mean())
            ratio = k / len(b_sorted) / eff_sb if eff_sb > 0 else None
        out[f"{eps:g}"] = ratio
    return out


def is_sculpted(ratio: float | None) -> bool:
    return ratio is not None and ratio > SCULPTING_FLAG


def look_elsewhere(n_centres: int, n_efficiencies: int, observed_max_z: float | None) -> dict:
    """What a background-only scan of n_centres × n_efficiencies independent one-sided tests
    expects of its largest local Z, and the global Z of `observed_max_z`."""
    n = int(n_centres) * int(n_efficiencies)
    if n < 1:
        raise ValueError("look_elsewhere: no tests")
    # P(max of n local Z > z) = 1 - (1 - p(z))^n, p(z) = Φ̄(z); its median solves p = 1 - 0.5^(1/n)
    median = max(0.0, float(norm.isf(-np.expm1(np.log(0.5) / n))))
    p_above_2 = float(-np.expm1(n * np.log1p(-norm.sf(2.0))))
    out = {"tests": n, "centres": int(n_centres), "efficiencies": int(n_efficiencies),
           "expected_max_z_median": median, "p_max_z_above_2": p_above_2,
           "observed_max_z": None, "global_z": None}
    if observed_max_z is not None and np.isfinite(observed_max_z):
        p_local = norm.sf(max(float(observed_max_z), 0.0))
        p_global = -np.expm1(n * np.log1p(-p_local))
        out.update(observed_max_z=float(observed_max_z),
                   global_z=max(0.0, float(norm.isf(p_global))))
    return out


def describe_look_elsewhere(le: dict) -> str:
    """One sentence for the terminal and the report."""
    text = (f"{le['tests']} tests ({le['centres']} signal regions × {le['efficiencies']} "
            f"efficiencies): background alone gives a largest local Z of "
            f"{le['expected_max_z_median']:.1f} (median) and one above 2 with probability "
            f"{100 * le['p_max_z_above_2']:.0f} % (tests taken as independent)")
    if le.get("global_z") is not None:
        text += (f"; the largest observed, Z = {le['observed_max_z']:.2f}, is "
                 f"Z = {le['global_z']:.2f} globally")
    return text


__all__ = ["SCULPTING_FLAG", "SCULPTING_EFFS", "sculpting_ratio", "sculpting_at", "is_sculpted", "look_elsewhere",
           "describe_look_elsewhere"]
