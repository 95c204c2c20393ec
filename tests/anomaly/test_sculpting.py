"""Sculpting (background efficiency in the signal region over the sidebands) and the
look-elsewhere expectation of a scan: the numbers a search reports next to its Z."""
import numpy as np
import pytest
from scipy.stats import norm

from jetfm.anomaly.cwola import CwolaConfig, cwola_hunt
from jetfm.anomaly.iad import IadConfig, idealised_ad, sculpting_at
from jetfm.anomaly.sculpting import describe_look_elsewhere, look_elsewhere, sculpting_ratio

from .toys import toy_events


def test_sculpting_ratio_counts_background_only():
    in_sr = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    in_sb = ~in_sr
    keep = np.array([1, 1, 0, 0, 1, 0, 0, 0], bool)
    ratio, err = sculpting_ratio(keep, np.ones(8, bool), in_sr, in_sb)
    assert ratio == pytest.approx(0.5 / 0.25) and err > 0
    # an injected signal event kept in the SR is not background: it does not count
    background = np.array([1, 0, 1, 1, 1, 1, 1, 1], bool)
    assert sculpting_ratio(keep, background, in_sr, in_sb)[0] == pytest.approx((1 / 3) / 0.25)
    assert sculpting_ratio(np.zeros(8, bool), np.ones(8, bool), in_sr, in_sb) == (None, None)


def test_look_elsewhere_matches_independent_toys():
    one = look_elsewhere(1, 1, 2.0)
    assert one["expected_max_z_median"] == 0.0           # a one-sided Z is 0 half the time
    assert one["p_max_z_above_2"] == pytest.approx(0.02275, abs=1e-5)
    assert one["global_z"] == pytest.approx(2.0)
    le = look_elsewhere(13, 5, 3.0)
    rng = np.random.default_rng(0)
    z = np.maximum(rng.normal(size=(20000, 65)), 0).max(axis=1)
    assert le["tests"] == 65
    assert le["expected_max_z_median"] == pytest.approx(np.median(z), abs=0.03)
    assert le["p_max_z_above_2"] == pytest.approx((z > 2).mean(), abs=0.01)
    # 3σ local in 65 trials: as often as a toy's largest Z passes 3 (8 %), i.e. 1.38σ
    assert le["global_z"] == pytest.approx(norm.isf((z > 3).mean()), abs=0.05)
    assert le["global_z"] == pytest.approx(1.378, abs=0.002)
    assert "65 tests (13 signal regions × 5 efficiencies)" in describe_look_elsewhere(le)


def _mass_carrying(mjj, x, strength):
    """Feature 0 made to carry m_JJ, as an embedding that knows the jets' pT would."""
    x = x.copy()
    x[:, 0] = strength * np.log(mjj / 3000.0) / 0.1 + np.random.default_rng(9).normal(size=len(x))
    return x


def test_cwola_selection_on_mass_free_inputs_does_not_sculpt():
    mjj, x, _ = toy_events(seed=5, n_bkg=8000)
    cfg = CwolaConfig(efficiencies=(1.0, 0.1), folds=3, max_iter=30)
    res = cwola_hunt(mjj, x, cfg.centre_of(3000.0), cfg)
    full, tight = res["selections"]
    assert full["sculpting"] == pytest.approx(1.0)
    assert abs(tight["sculpting"] - 1) < 3 * tight["sculpting_error"] + 0.05
    assert not tight["sculpted"]


def test_cwola_selection_on_inputs_that_carry_mass_is_flagged():
    """A classifier given m_JJ learns SR against sidebands from it and selects the SR."""
    mjj, x, _ = toy_events(seed=5, n_bkg=8000)
    cfg = CwolaConfig(efficiencies=(1.0, 0.1), folds=3, max_iter=30)
    res = cwola_hunt(mjj, _mass_carrying(mjj, x, 1.0), cfg.centre_of(3000.0), cfg)
    tight = res["selections"][1]
    assert tight["sculpting"] > 2 and tight["sculpted"]


def test_iad_sculpting_from_sideband_scores():
    rng = np.random.default_rng(1)
    b = rng.normal(size=5000)
    assert sculpting_at(b, rng.normal(size=5000))["0.1"] == pytest.approx(1.0, abs=0.15)
    shifted = sculpting_at(b, rng.normal(-1.0, 1.0, 5000))      # sidebands score lower
    assert shifted["0.1"] > 2 and shifted["0.001"] is None       # 5 events: not measured


def test_iad_reports_sculpting_when_inputs_carry_mass():
    """Signal-like = near the SR centre in feature 0: IAD's selection keeps SR background
    more readily than sideband background."""
    rng = np.random.default_rng(3)
    def events(n, lo, hi):
        mjj = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
        x = rng.normal(size=(n, 3))
        x[:, 0] = np.abs(np.log(mjj / 3000.0)) / 0.05 + 0.3 * rng.normal(size=n)
        return x
    sr, sb = events(6000, 2800, 3200), events(6000, 2800 ** 2 / 3200, 3200 ** 2 / 2800)
    sb = sb[np.abs(sb[:, 0]) > 0]
    sig = rng.normal(size=(600, 3))
    sig[:, 0] = np.abs(rng.normal(0, 0.3, 600))
    sig[:, 1] += 2.0
    cfg = IadConfig(injections=(300,), runs=1, models=1, max_iter=40)
    row = idealised_ad(sr, sig, cfg, progress=False, x_sideband=sb)["injections"][0]
    assert row["sculpted"] and row["sculpting"]["0.1"] > 1.2
    clean = idealised_ad(sr, sig, cfg, progress=False)["injections"][0]
    assert clean["sculpting"] is None and not clean["sculpted"]
