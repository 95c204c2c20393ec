"""The classifiers of the weakly supervised searches (scikit-learn), with class weights.

- `hgb`: HistGradientBoostingClassifier (max_iter 200, 31 leaves, as the idealised-AD studies);
- `mlp`: a standardised-input MLPClassifier (64, 64), Adam, early stopping.

`balanced_weights` gives each class the same total weight, so an imbalanced pair (a signal
region against two sidebands, 10⁴ background events against a few signal-enriched ones) is
learnt as a likelihood ratio rather than a prior.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..errors import ConfigError

CLASSIFIERS = ("hgb", "mlp")


def balanced_weights(y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Per-event weights scaled so that both classes sum to half the number of events."""
    y = np.asarray(y).astype(bool)
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    out = np.empty(len(y))
    for cls in (False, True):
        total = w[y == cls].sum()
        if not total > 0:
            raise ConfigError(f"classifier: class {int(cls)} has no events (or zero weight)")
        out[y == cls] = w[y == cls] * (0.5 * len(y) / total)
    return out


def make_classifier(kind: str, seed: int, max_iter: int = 200, early_stopping: bool = False):
    if kind == "hgb":
        return HistGradientBoostingClassifier(max_iter=max_iter, max_leaf_nodes=31,
                                              learning_rate=0.1, l2_regularization=1.0,
                                              early_stopping=early_stopping,
                                              validation_fraction=0.2 if early_stopping else None,
                                              n_iter_no_change=10, random_state=seed)
    if kind == "mlp":
        return make_pipeline(StandardScaler(),
                             MLPClassifier(hidden_layer_sizes=(64, 64), alpha=1e-3,
                                           learning_rate_init=1e-3, max_iter=max_iter,
                                           early_stopping=early_stopping,
                                           validation_fraction=0.2, n_iter_no_change=10,
                                           random_state=seed))
    raise ConfigError(f"--classifier {kind!r}: choose one of {', '.join(CLASSIFIERS)}")


def fit(clf, x, y, w):
    if hasattr(clf, "steps"):              # pipeline: the weights go to the last step
        return clf.fit(x, y, **{f"{clf.steps[-1][0]}__sample_weight": w})
    return clf.fit(x, y, sample_weight=w)


def weighted_log_loss(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(w * (y * np.log(p) + (1 - y) * np.log1p(-p))).sum() / w.sum())


def best_stage(clf, x_val, y_val, w_val) -> int:
    """For boosting: the number of iterations with the lowest weighted validation loss
    (model selection on the validation fold); other classifiers: 0 (use as fitted)."""
    if not hasattr(clf, "staged_predict_proba"):
        return 0
    losses = [weighted_log_loss(p[:, 1], y_val, w_val) for p in clf.staged_predict_proba(x_val)]
    return int(np.argmin(losses)) + 1


def predict(clf, x, stage: int = 0) -> np.ndarray:
    if stage and hasattr(clf, "staged_predict_proba"):
        for k, p in enumerate(clf.staged_predict_proba(x), 1):
            if k == stage:
                return p[:, 1]
    return clf.predict_proba(x)[:, 1]
