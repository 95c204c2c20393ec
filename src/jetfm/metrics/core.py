"""Scalar tagging metrics: accuracy, ROC, AUC, background rejection, SIC, significance
(docs/design.md).

Conventions:

* A ROC curve is ``(eff_s, eff_b, thresholds)``: the fractions of signal and background with a
  score ``>= threshold``; both arrays are non-decreasing, start at (0, 0) and end at (1, 1).
* Rejection is 1/ε_B. When ε_B = 0 at the requested ε_S (perfect separation, or too few
  background jets to see any above the cut) it is ``float("inf")``; :mod:`jetfm.metrics.evaluate`
  writes it to JSON as the string ``"inf"``.
* SIC = ε_S/√ε_B. Its maximum is only taken where ε_B > 1/(N_B·rel_unc²), i.e. where the
  background count passing the cut, N_B·ε_B, has a relative Poisson uncertainty below ``rel_unc``
  (20 % by default); otherwise the maximum is dominated by a handful of background jets.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score, roc_curve

from jetfm.errors import DataError

__all__ = [
    "InvalidScoresError", "accuracy", "roc", "auc", "rejection_at", "sic_curve", "max_sic",
    "significance", "thinned_roc",
]


class InvalidScoresError(DataError, ValueError):
    """Scores, labels or weights that cannot be evaluated (bad shape, NaN, not probabilities).

    Both a :class:`~jetfm.errors.DataError` (the CLI reports it as one line) and a
    ``ValueError`` (what numeric code conventionally catches)."""


def _finite_1d(x, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidScoresError(f"{what} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidScoresError(f"{what} contains NaN or inf ({np.sum(~np.isfinite(arr))} values)")
    return arr


def _weights(w, n: int, what: str) -> np.ndarray:
    if w is None:
        return np.ones(n)
    w = _finite_1d(w, what)
    if len(w) != n:
        raise InvalidScoresError(f"{what} has {len(w)} entries for {n} scores")
    # Negative weights would make the efficiencies non-monotonic and the rejection meaningless.
    if np.any(w < 0):
        raise InvalidScoresError(f"{what} has negative entries")
    return w


def accuracy(labels, scores_or_pred) -> float:
    """Fraction of correct predictions; ``scores_or_pred`` is (N, C) scores (argmax taken) or (N,)
    predicted class indices."""
    labels = np.asarray(labels)
    pred = np.asarray(scores_or_pred)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    if labels.ndim != 1 or pred.ndim != 1 or len(labels) != len(pred):
        raise InvalidScoresError(
            f"accuracy: labels {labels.shape} and predictions {pred.shape} do not match")
    if len(labels) == 0:
        raise InvalidScoresError("accuracy: no jets")
    return float(accuracy_score(labels, pred))


def _binary(sig_scores, bkg_scores, sig_w, bkg_w):
    s = _finite_1d(sig_scores, "signal scores")
    b = _finite_1d(bkg_scores, "background scores")
    if len(s) == 0 or len(b) == 0:
        raise InvalidScoresError(
            f"need both signal and background jets, got {len(s)} signal and {len(b)} background")
    y = np.concatenate([np.ones(len(s)), np.zeros(len(b))])
    w = np.concatenate([_weights(sig_w, len(s), "signal weights"),
                        _weights(bkg_w, len(b), "background weights")])
    return y, np.concatenate([s, b]), w


def roc(sig_scores, bkg_scores, sig_w=None, bkg_w=None):
    """ROC curve ``(eff_s, eff_b, thresholds)`` of a score where signal is high.

    Every distinct threshold is kept (``drop_intermediate=False``) so that the SIC maximum and
    the interpolated rejections are evaluated on the full curve, not only on its corners."""
    y, x, w = _binary(sig_scores, bkg_scores, sig_w, bkg_w)
    eff_b, eff_s, thr = roc_curve(y, x, sample_weight=w, drop_intermediate=False)
    return eff_s, eff_b, thr


def thinned_roc(eff_s, eff_b, n: int = 200) -> dict:
    """At most `n` evenly spaced points of a ROC curve, as JSON-ready {"fpr", "tpr"} lists."""
    pick = np.unique(np.linspace(0, len(eff_s) - 1, min(n, len(eff_s))).astype(int))
    return {"fpr": np.asarray(eff_b)[pick].round(6).tolist(),
            "tpr": np.asarray(eff_s)[pick].round(6).tolist()}


def auc(sig_scores, bkg_scores, sig_w=None, bkg_w=None) -> float:
    """Area under the ROC curve: P(score of a random signal jet > that of a background jet)."""
    y, x, w = _binary(sig_scores, bkg_scores, sig_w, bkg_w)
    return float(roc_auc_score(y, x, sample_weight=w))


def rejection_at(eff_s_target, eff_s, eff_b):
    """Background rejection 1/ε_B at signal efficiency ``eff_s_target`` (scalar or array).

    ε_B is linearly interpolated between the two ROC points bracketing the target (the
    efficiency of randomly mixing the two cuts); where several points share the target ε_S, the
    lowest ε_B — the best working point — is used. Returns ``inf`` where ε_B = 0."""
    eff_s = np.asarray(eff_s, dtype=np.float64)
    eff_b = np.asarray(eff_b, dtype=np.float64)
    if eff_s.shape != eff_b.shape or eff_s.ndim != 1 or len(eff_s) < 2:
        raise InvalidScoresError("rejection_at: eff_s and eff_b must be matching 1-d curves")
    if np.any(np.diff(eff_s) < 0) or np.any(np.diff(eff_b) < 0):
        raise InvalidScoresError("rejection_at: the ROC efficiencies must be non-decreasing")
    target = np.asarray(eff_s_target, dtype=np.float64)
    if np.any(~(target > 0) | (target > 1)):
        raise InvalidScoresError(f"rejection_at: target ε_S must be in (0, 1], got {target}")
    # First ROC point with ε_S >= target; the one before it has ε_S < target.
    hi = np.searchsorted(eff_s, target, side="left")
    hi_c = np.minimum(hi, len(eff_s) - 1)
    lo = np.maximum(hi_c - 1, 0)
    ds = eff_s[hi_c] - eff_s[lo]
    frac = np.divide(target - eff_s[lo], ds, out=np.ones_like(target), where=ds > 0)
    eb = eff_b[lo] + np.clip(frac, 0, 1) * (eff_b[hi_c] - eff_b[lo])
    eb = np.where(eff_s[hi_c] == target, eff_b[hi_c], eb)     # exact hit: no interpolation
    eb = np.where(hi >= len(eff_s), np.nan, eb)              # target beyond the curve
    with np.errstate(divide="ignore"):
        rej = 1.0 / eb
    return float(rej) if rej.ndim == 0 else rej


def sic_curve(eff_s, eff_b) -> np.ndarray:
    """SIC = ε_S/√ε_B at every ROC point; NaN where ε_B = 0 (unbounded and never allowed)."""
    eff_s = np.asarray(eff_s, dtype=np.float64)
    eff_b = np.asarray(eff_b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(eff_b > 0, eff_s / np.sqrt(eff_b), np.nan)


def max_sic(eff_s, eff_b, n_bkg: float, rel_unc: float = 0.2, return_point: bool = False):
    """Maximum SIC over the ROC points with ε_B > 1/(n_bkg·rel_unc²) (docs/design.md).

    ``n_bkg`` is the number of background jets the curve was made from (for weighted jets, the
    effective number (Σw)²/Σw²). Returns NaN if no point passes the floor; with
    ``return_point`` returns ``(max_sic, eff_s, eff_b)`` at the maximum."""
    if not n_bkg > 0 or not rel_unc > 0:
        raise InvalidScoresError(f"max_sic: need n_bkg > 0 and rel_unc > 0, got {n_bkg}, {rel_unc}")
    eff_s = np.asarray(eff_s, dtype=np.float64)
    eff_b = np.asarray(eff_b, dtype=np.float64)
    allowed = eff_b > 1.0 / (n_bkg * rel_unc**2)
    if not np.any(allowed):
        return (np.nan, np.nan, np.nan) if return_point else np.nan
    sic = sic_curve(eff_s[allowed], eff_b[allowed])
    i = int(np.argmax(sic))
    best = float(sic[i])
    return (best, float(eff_s[allowed][i]), float(eff_b[allowed][i])) if return_point else best


def significance(s, b):
    """Asimov discovery significance Z = √(2((s+b)·ln(1+s/b) − s)); → s/√b for s ≪ b.

    Vectorised over ``s`` and ``b`` (broadcast); requires b > 0 and s >= 0."""
    s_arr = np.asarray(s, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    if np.any(~(b_arr > 0)):
        raise InvalidScoresError("significance: background b must be > 0 (and not NaN)")
    if np.any(~(s_arr >= 0)) or np.any(~np.isfinite(s_arr)):
        raise InvalidScoresError("significance: signal s must be finite and >= 0")
    # log1p keeps precision when s/b is tiny; clip the rounding noise below zero.
    q = 2.0 * ((s_arr + b_arr) * np.log1p(s_arr / b_arr) - s_arr)
    z = np.sqrt(np.clip(q, 0.0, None))
    return float(z) if z.ndim == 0 else z


def check_probs(probs, n_classes: int | None = None, atol: float = 5e-3) -> np.ndarray:
    """(N, C) finite, non-negative class probabilities whose rows sum to 1 within ``atol``.

    The tolerance admits softmax outputs stored in half precision, not un-normalised scores."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise InvalidScoresError(f"probs must be (N, C), got shape {p.shape}")
    if n_classes is not None and p.shape[1] != n_classes:
        raise InvalidScoresError(f"probs has {p.shape[1]} columns for {n_classes} classes")
    if not np.all(np.isfinite(p)):
        n_bad = np.sum(~np.isfinite(p).all(axis=1))
        raise InvalidScoresError(f"probs contains NaN or inf in {n_bad} rows")
    if np.any(p < -atol):
        raise InvalidScoresError("probs has negative entries: pass softmax outputs, not logits")
    dev = np.abs(p.sum(axis=1) - 1.0)
    if len(p) and dev.max() > atol:
        raise InvalidScoresError(
            f"probs rows must sum to 1 (softmax outputs); {np.sum(dev > atol)} rows deviate, "
            f"worst by {dev.max():.3g}")
    return p


def as_index_list(idx: Sequence[int], n_classes: int, what: str) -> np.ndarray:
    arr = np.asarray(idx, dtype=np.int64).reshape(-1)
    if len(arr) == 0:
        raise InvalidScoresError(f"{what}: empty class list")
    if np.any((arr < 0) | (arr >= n_classes)):
        raise InvalidScoresError(f"{what}: class indices {arr} outside [0, {n_classes})")
    return arr
