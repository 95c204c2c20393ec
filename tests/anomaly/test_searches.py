"""CWoLa hunting, idealised AD and the autoencoder on toys with and without a planted signal."""
import numpy as np
import pytest

from jetfm.anomaly.autoencoder import AutoencoderConfig, ae_score, autoencoder_search
from jetfm.anomaly.cwola import CwolaConfig, cwola_hunt, max_z, nested_kfold_scores, scan, \
    select_top
from jetfm.anomaly.iad import IadConfig, idealised_ad
from jetfm.errors import ConfigError, DataError
from jetfm.metrics.core import max_sic

from .toys import toy_events

FAST = dict(max_iter=40)


def test_regions_and_centres():
    cfg = CwolaConfig()
    assert cfg.centres() == list(range(3, 12))          # 15 bins, SR 3, SB 2 each side
    sr, sb = cfg.regions(cfg.centre_of(3000.0))
    assert sr.sum() == 3 and sb.sum() == 4 and not (sr & sb).any()
    assert np.flatnonzero(sr).tolist() == [6, 7, 8] and np.flatnonzero(sb).tolist() == [4, 5, 9, 10]
    assert cfg.edges[6] < 3000 < cfg.edges[9]
    with pytest.raises(ConfigError, match="leaves no room"):
        cfg.regions(1)
    with pytest.raises(ConfigError, match="outside the m_JJ range"):
        cfg.centre_of(5000.0)
    with pytest.raises(ConfigError, match="cannot hold"):
        CwolaConfig(edges=np.geomspace(2000, 4000, 7)).validate()


def test_no_event_is_scored_by_a_model_that_saw_it(monkeypatch):
    """Every model that scores a test fold was trained without that fold's events."""
    import jetfm.anomaly.classifiers as C
    seen = []
    real_fit = C.fit

    def spy(clf, x, y, w):
        seen.append(set(map(tuple, np.round(x[:, :2], 6))))
        clf = real_fit(clf, x, y, w)
        clf._train_rows = seen[-1]
        return clf
    monkeypatch.setattr(C, "fit", spy)
    real_predict = C.predict

    def check(clf, x, stage=0):
        assert not (set(map(tuple, np.round(x[:, :2], 6))) & clf._train_rows)
        return real_predict(clf, x, stage)
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=(n, 3))
    sr = rng.random(n) < 0.4
    fold = rng.integers(0, 4, n)
    cfg = CwolaConfig(folds=4, max_iter=5)
    monkeypatch.setattr(C, "predict", lambda clf, xx, stage=0: real_predict(clf, xx, stage))
    scores = nested_kfold_scores(x, sr, np.ones(n), np.ones(n, bool), fold, cfg)
    assert np.isfinite(scores).all()
    # 4 test folds × 3 validation turns, each trained on the 2 remaining folds
    assert len(seen) == 12
    for rows in seen:
        assert len(rows) < n * 0.6
    monkeypatch.setattr(C, "predict", check)
    nested_kfold_scores(x, sr, np.ones(n), np.ones(n, bool), fold, cfg)


def test_select_top_keeps_the_fraction_in_each_fold():
    rng = np.random.default_rng(1)
    scores = rng.random(1000)
    fold = np.repeat(np.arange(5), 200)
    keep = select_top(scores, fold, 0.1, rng)
    assert keep.sum() == 100 and all(keep[fold == f].sum() == 20 for f in range(5))
    assert scores[keep].min() > np.percentile(scores, 85)
    tied = select_top(np.zeros(1000), fold, 0.1, rng)          # ties: still exactly 10 %
    assert tied.sum() == 100


def test_cwola_finds_a_planted_signal():
    mjj, x, truth = toy_events(seed=2, n_bkg=6000, n_sig=120)
    cfg = CwolaConfig(efficiencies=(1.0, 0.1), **FAST)
    res = cwola_hunt(mjj, x, cfg.centre_of(3000.0), cfg, truth=truth)
    before, after = res["selections"]
    assert after["sic"] > 1.5                     # the selection enriches the signal
    assert after["z"] > before["z"] + 2
    assert after["signal_selected_in_sr"] > 0.5 * after["signal_in_sr"]


def test_cwola_null_scan_stays_below_two_sigma():
    """No signal, features independent of m_JJ, a spectrum without Poisson fluctuations (so
    any excess comes from the method): a leak — an event scored by a model trained on it —
    would enrich the signal region and show up as a bump here. At ε = 0.5 the selection's
    own binomial noise is √0.5 of Poisson, so a fluctuation above 2σ is a per-mille event."""
    mjj, x, _ = toy_events(seed=4, n_bkg=6000, asimov=True)
    cfg = CwolaConfig(efficiencies=(1.0, 0.5), folds=3, max_iter=20)
    results = scan(mjj, x, cfg, progress=False)
    assert len(results) == 9
    assert max_z(results, 1.0) < 0.5
    assert max_z(results) < 2.0


def test_cwola_refuses_weighted_events():
    mjj, x, _ = toy_events(seed=1, n_bkg=2000)
    with pytest.raises(DataError, match="unweighted"):
        cwola_hunt(mjj, x, 7, CwolaConfig(), weight=np.full(len(mjj), 0.5))


def test_max_sic_floor_rule():
    # ε_B = 1e-4 gives the largest SIC, but with 1000 background events it is below the floor
    # 1/(N_B·0.2²) = 0.025; the best allowed point is taken instead
    eff_s = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    eff_b = np.array([0.0, 1e-4, 0.03, 0.5, 1.0])
    assert max_sic(eff_s, eff_b, 1000) == pytest.approx(0.5 / np.sqrt(0.03))
    assert max_sic(eff_s, eff_b, 1e6) == pytest.approx(0.2 / np.sqrt(1e-4))


def test_iad_gives_sic_above_one_with_signal_and_not_without():
    rng = np.random.default_rng(0)
    xb = rng.normal(size=(4000, 4))
    xs = rng.normal(size=(500, 4))
    xs[:, :2] = rng.normal(2.5, 0.4, size=(500, 2))
    cfg = IadConfig(injections=(0, 200), runs=2, models=2, max_iter=60)
    res = idealised_ad(xb, xs, cfg, progress=False)
    zero, planted = res["injections"]
    assert planted["max_sic_median"] > 3 and planted["auc_median"] > 0.9
    assert zero["auc_median"] < 0.75
    assert planted["s_over_b"] == pytest.approx(200 / res["n_background_data"])
    assert len(planted["sic_curve"]["median"]) == len(res["eff_s_grid"])
    with pytest.raises(ConfigError, match="only"):
        idealised_ad(xb, xs, IadConfig(injections=(10000,)), progress=False)


def test_autoencoder_score_separates_an_anomaly():
    assert ae_score(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]))[0] < -20
    assert ae_score(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))[0] == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    # SM lives near a 2-d plane in 8-d; the anomaly is off it
    basis = rng.normal(size=(2, 8))
    sm = rng.normal(size=(3000, 2)) @ basis + 0.05 * rng.normal(size=(3000, 8))
    odd = rng.normal(size=(400, 8))
    res = autoencoder_search(sm, {"odd": odd, "same": rng.normal(size=(400, 2)) @ basis},
                             AutoencoderConfig(hidden=(16, 2, 16), max_iter=200))
    assert res["models"]["odd"]["auc_autoencoder"] > 0.9
    assert res["models"]["same"]["auc_autoencoder"] < 0.7
    assert res["models"]["odd"]["auc_supervised"] > 0.9


def test_mlp_classifier_option():
    """The MLP (standardised inputs, sample weights through the pipeline) learns the toy too."""
    rng = np.random.default_rng(1)
    xb = rng.normal(size=(3000, 4))
    xs = rng.normal(size=(400, 4))
    xs[:, :2] = rng.normal(2.5, 0.4, size=(400, 2))
    res = idealised_ad(xb, xs, IadConfig(injections=(200,), runs=1, models=1, classifier="mlp",
                                         max_iter=100), progress=False)
    assert res["injections"][0]["max_sic_median"] > 2
    mjj, x, truth = toy_events(seed=3, n_bkg=4000, n_sig=100)
    cfg = CwolaConfig(efficiencies=(1.0, 0.1), folds=3, classifier="mlp", max_iter=60)
    after = cwola_hunt(mjj, x, cfg.centre_of(3000.0), cfg, truth=truth)["selections"][1]
    assert after["sic"] > 1.2
    with pytest.raises(ConfigError, match="--classifier 'svm'"):
        CwolaConfig(classifier="svm").validate()


def test_a_signal_region_with_too_few_events_is_named():
    """A scan that runs short in one signal region says which one, in GeV."""
    cfg = CwolaConfig(folds=5, max_iter=5)
    rng = np.random.default_rng(1)
    centre = cfg.centre_of(3000.0)
    lo, hi = cfg.edges[centre - 1], cfg.edges[centre + 2]
    mjj = np.r_[rng.uniform(cfg.edges[0], lo, 400), rng.uniform(lo, hi, 2)]   # 2 SR events
    with pytest.raises(DataError, match=rf"signal region {lo:.0f}-{hi:.0f} GeV .*too few"):
        cwola_hunt(mjj, rng.normal(size=(len(mjj), 2)), centre, cfg)
