"""Unsupervised anomaly scores: an autoencoder trained on SM jets only (e.g. frozen backbone
embeddings, as the re-simulation paper did), score = log(1 − cos(x, x̂)) in standardised input
space. Compared per signal model with a supervised classifier on the same inputs trained on
labelled signal vs SM jets: how much of the supervised separation does the unsupervised score
keep?

The autoencoder is scikit-learn's MLPRegressor fitted x → x through a narrow layer (Adam,
early stopping on a held-out 10 %); inputs are standardised on the SM training jets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from ..errors import ConfigError, DataError
from ..metrics.core import auc, roc, thinned_roc
from . import classifiers as C


@dataclass
class AutoencoderConfig:
    hidden: tuple[int, ...] = (64, 16, 64)     # the middle layer is the bottleneck
    max_iter: int = 300
    test_fraction: float = 0.3                 # of the SM jets and of each signal
    classifier: str = "hgb"                    # the supervised comparison
    seed: int = 1

    def validate(self) -> None:
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError("--hidden: layer sizes >= 1")
        if self.max_iter < 1:
            raise ConfigError("--max-iter must be >= 1")
        if not 0 < self.test_fraction < 1:
            raise ConfigError("--test-fraction must be in (0, 1)")


def ae_score(x, x_hat) -> np.ndarray:
    """log(1 − cos(x, x̂)); large = badly reconstructed = anomalous."""
    num = (x * x_hat).sum(axis=1)
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(x_hat, axis=1)
    cos = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return np.log(np.clip(1.0 - cos, 1e-12, None))


def autoencoder_search(x_sm, signals: dict[str, np.ndarray], cfg: AutoencoderConfig) -> dict:
    """AUC of the AE score and of a supervised classifier, per signal model."""
    cfg.validate()
    x_sm = np.asarray(x_sm, np.float64)
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(x_sm))
    n_test = int(round(cfg.test_fraction * len(x_sm)))
    sm_test, sm_train = perm[:n_test], perm[n_test:]
    if n_test < 10 or len(sm_train) < 50:
        raise DataError(f"autoencoder: {len(x_sm)} SM jets are too few (need >= 100)")
    scaler = StandardScaler().fit(x_sm[sm_train])
    z_train = scaler.transform(x_sm[sm_train])
    ae = MLPRegressor(hidden_layer_sizes=cfg.hidden, max_iter=cfg.max_iter, early_stopping=True,
                      validation_fraction=0.1, n_iter_no_change=15, random_state=cfg.seed)
    ae.fit(z_train, z_train)

    def score(x):
        z = scaler.transform(x)
        return ae_score(z, ae.predict(z))

    sm_scores = score(x_sm[sm_test])
    out = {"n_sm_train": int(len(sm_train)), "n_sm_test": int(n_test),
           "ae_epochs": int(ae.n_iter_), "models": {}}
    for name, xs in signals.items():
        xs = np.asarray(xs, np.float64)
        p = rng.permutation(len(xs))
        k = int(round(cfg.test_fraction * len(xs)))
        s_test, s_train = p[:k], p[k:]
        if k < 10 or len(s_train) < 10:
            raise DataError(f"autoencoder: signal {name!r} has {len(xs)} jets; need >= 40")
        s_scores = score(xs[s_test])
        x_tr = np.concatenate([x_sm[sm_train], xs[s_train]])
        y_tr = np.concatenate([np.zeros(len(sm_train)), np.ones(len(s_train))])
        clf = C.fit(C.make_classifier(cfg.classifier, cfg.seed, early_stopping=True),
                    x_tr, y_tr, C.balanced_weights(y_tr))
        sup_s, sup_b = C.predict(clf, xs[s_test]), C.predict(clf, x_sm[sm_test])
        out["models"][name] = {
            "n_signal_test": int(k), "n_signal_train": int(len(s_train)),
            "auc_autoencoder": float(auc(s_scores, sm_scores)),
            "auc_supervised": float(auc(sup_s, sup_b)),
            "roc_autoencoder": thinned_roc(*roc(s_scores, sm_scores)[:2]),
            "roc_supervised": thinned_roc(*roc(sup_s, sup_b)[:2])}
    return out
