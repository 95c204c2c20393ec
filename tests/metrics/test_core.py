"""Core metrics on toys whose answers are known in closed form."""
import numpy as np
import pytest
from scipy.stats import norm, poisson

from jetfm.errors import DataError
from jetfm.metrics import (
    InvalidScoresError, accuracy, auc, max_sic, rejection_at, roc, sic_curve, significance,
)


def test_accuracy_from_scores_and_predictions():
    labels = np.array([0, 1, 2, 1])
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3], [0.1, 0.8, 0.1]])
    assert accuracy(labels, scores) == pytest.approx(0.75)
    assert accuracy(labels, np.array([0, 1, 0, 0])) == pytest.approx(0.5)
    with pytest.raises(InvalidScoresError):
        accuracy(labels, np.array([0, 1]))


def test_perfect_separation_gives_auc_one_and_infinite_rejection():
    rng = np.random.default_rng(0)
    sig, bkg = rng.uniform(0.6, 1.0, 1000), rng.uniform(0.0, 0.4, 1000)
    eff_s, eff_b, thr = roc(sig, bkg)
    assert auc(sig, bkg) == 1.0
    assert rejection_at(0.5, eff_s, eff_b) == float("inf")
    assert rejection_at(1.0, eff_s, eff_b) == float("inf")
    assert eff_s[0] == eff_b[0] == 0 and eff_s[-1] == eff_b[-1] == 1
    assert len(thr) == len(eff_s)


def test_identical_distributions_are_the_diagonal():
    rng = np.random.default_rng(1)
    sig, bkg = rng.normal(size=100_000), rng.normal(size=100_000)
    eff_s, eff_b, _ = roc(sig, bkg)
    assert auc(sig, bkg) == pytest.approx(0.5, abs=0.005)
    assert rejection_at(0.5, eff_s, eff_b) == pytest.approx(2.0, rel=0.02)
    assert rejection_at(0.3, eff_s, eff_b) == pytest.approx(1 / 0.3, rel=0.03)


def test_gaussian_toy_matches_analytic_roc():
    # Signal N(1,1) vs background N(0,1): AUC = Φ(1/√2); the cut keeping half the signal is
    # x > 1, which keeps 1 − Φ(1) of the background.
    rng = np.random.default_rng(2)
    sig, bkg = rng.normal(1.0, 1.0, 200_000), rng.normal(0.0, 1.0, 200_000)
    eff_s, eff_b, _ = roc(sig, bkg)
    assert norm.cdf(1 / np.sqrt(2)) == pytest.approx(0.7602, abs=1e-4)
    assert auc(sig, bkg) == pytest.approx(norm.cdf(1 / np.sqrt(2)), abs=0.003)
    assert 1 / (1 - norm.cdf(1.0)) == pytest.approx(6.30, abs=0.01)
    assert rejection_at(0.5, eff_s, eff_b) == pytest.approx(1 / (1 - norm.cdf(1.0)), rel=0.03)
    # Whole curve: ε_B(ε_S) = 1 − Φ(Φ⁻¹(1 − ε_S) + 1).
    targets = np.array([0.3, 0.5, 0.7, 0.9])
    expected = 1 / (1 - norm.cdf(norm.ppf(1 - targets) + 1))
    np.testing.assert_allclose(rejection_at(targets, eff_s, eff_b), expected, rtol=0.04)


def test_rejection_interpolates_and_takes_best_point_on_ties():
    eff_s = np.array([0.0, 0.2, 0.4, 0.4, 1.0])
    eff_b = np.array([0.0, 0.01, 0.02, 0.10, 1.0])
    assert rejection_at(0.3, eff_s, eff_b) == pytest.approx(1 / 0.015)
    assert rejection_at(0.4, eff_s, eff_b) == pytest.approx(1 / 0.02)   # not 1/0.10
    assert rejection_at(0.7, eff_s, eff_b) == pytest.approx(1 / 0.55)
    assert rejection_at(0.1, eff_s, eff_b) == pytest.approx(1 / 0.005)
    with pytest.raises(InvalidScoresError):
        rejection_at(0.0, eff_s, eff_b)
    with pytest.raises(InvalidScoresError):
        rejection_at(0.5, eff_s[::-1], eff_b[::-1])


def test_weights_act_like_repeated_jets():
    sig, bkg = np.array([0.2, 0.8]), np.array([0.5])
    assert auc(sig, bkg) == pytest.approx(0.5)
    assert auc(sig, bkg, sig_w=[3, 1]) == pytest.approx(0.25)
    rng = np.random.default_rng(3)
    s, b = rng.normal(1, 1, 300), rng.normal(0, 1, 400)
    ws, wb = rng.integers(1, 4, 300), rng.integers(1, 4, 400)
    es_w, eb_w, _ = roc(s, b, ws, wb)
    es_r, eb_r, _ = roc(np.repeat(s, ws), np.repeat(b, wb))
    np.testing.assert_allclose(es_w, es_r)
    np.testing.assert_allclose(eb_w, eb_r)
    assert auc(s, b, ws, wb) == pytest.approx(auc(np.repeat(s, ws), np.repeat(b, wb)))
    with pytest.raises(InvalidScoresError, match="negative"):
        roc(s, b, bkg_w=-np.ones(400))
    with pytest.raises(InvalidScoresError):
        roc(s, b, sig_w=np.ones(3))


def test_max_sic_respects_the_background_floor():
    eff_s = np.array([0.0, 0.5, 0.6, 0.8, 1.0])
    eff_b = np.array([0.0, 1e-4, 1e-2, 0.1, 1.0])
    sic = sic_curve(eff_s, eff_b)
    assert np.isnan(sic[0]) and sic[1] == pytest.approx(50.0)
    floor = 1 / (1000 * 0.2**2)                      # 0.025
    assert eff_b[np.nanargmax(sic)] < floor          # the unconstrained max is forbidden
    best, s_at, b_at = max_sic(eff_s, eff_b, n_bkg=1000, return_point=True)
    assert best == pytest.approx(0.8 / np.sqrt(0.1)) and (s_at, b_at) == (0.8, 0.1)
    # A huge background sample lowers the floor and lets the tight cut count.
    assert max_sic(eff_s, eff_b, n_bkg=10**7) == pytest.approx(50.0)
    assert np.isnan(max_sic(eff_s, eff_b, n_bkg=10))  # floor 2.5: nothing allowed


def test_max_sic_from_scores_matches_brute_force():
    rng = np.random.default_rng(4)
    sig, bkg = rng.normal(3, 1, 2000), rng.normal(0, 1, 1000)
    eff_s, eff_b, _ = roc(sig, bkg)
    floor = 1 / (len(bkg) * 0.2**2)
    brute = []
    for t in np.unique(np.concatenate([sig, bkg])):
        es, eb = np.mean(sig >= t), np.mean(bkg >= t)
        if eb > floor:
            brute.append(es / np.sqrt(eb))
    best, _, eb_at = max_sic(eff_s, eff_b, len(bkg), return_point=True)
    assert best == pytest.approx(max(brute))
    assert eb_at > floor
    assert np.nanmax(sic_curve(eff_s, eff_b)) > best   # the floor did bite


def test_significance_known_values():
    # Z² = 2[ln P(n | s+b) − ln P(n | b)] at the Asimov count n = s + b.
    def lr(s, b):
        n = s + b
        return np.sqrt(2 * (poisson.logpmf(n, s + b) - poisson.logpmf(n, b)))

    assert significance(10, 100) == pytest.approx(0.98399, abs=1e-5)
    for s, b in ((10, 100), (5, 1), (3, 30), (50, 50)):
        assert significance(s, b) == pytest.approx(lr(s, b), rel=1e-9)
    # s ≪ b: Z → s/√b (next term −s²/(6b^1.5)).
    assert significance(1.0, 1e4) == pytest.approx(0.01, rel=1e-4)
    assert significance(1e-3, 1e6) == pytest.approx(1e-6, rel=1e-3)
    z = significance(np.array([10.0, 1.0, 0.0]), np.array([100.0, 1e4, 5.0]))
    assert z.shape == (3,) and z[2] == 0.0
    np.testing.assert_allclose(z[:2], [significance(10, 100), significance(1, 1e4)])


@pytest.mark.parametrize("s, b", [(1, 0), (1, -1), (1, np.nan), (-1, 10), (np.nan, 10)])
def test_significance_rejects_bad_input(s, b):
    with pytest.raises(ValueError):
        significance(s, b)


def test_input_errors_are_data_and_value_errors():
    with pytest.raises(DataError, match="NaN"):
        roc(np.array([0.1, np.nan]), np.array([0.2]))
    with pytest.raises(ValueError, match="both signal and background"):
        auc(np.array([]), np.array([0.2]))
    with pytest.raises(InvalidScoresError, match="one-dimensional"):
        roc(np.ones((2, 2)), np.ones(3))
