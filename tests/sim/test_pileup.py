"""Tests of charged-hadron subtraction + PUPPI neutral weighting (jetfm.sim.pileup)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from jetfm.errors import ConfigError
from jetfm.sim.detector import PF_KEYS, simulate_detector
from jetfm.sim.pileup import apply_chs_puppi, puppi_weights

MASS = {211: 0.13957, 22: 0.0, 130: 0.49761}
FLAGS = ("isElectron", "isMuon", "isPhoton", "isChargedHadron", "isNeutralHadron")


def pf_dict(rows):
    """PF candidates from (event, kind, pt, eta, phi, from_pv) rows; kind 'h' track, 'g' γ."""
    ev, kind, pt, eta, phi, pv = map(np.array, zip(*rows))
    pt, eta, phi = pt.astype(float), eta.astype(float), phi.astype(float)
    out = {"event": ev.astype(np.int64), "px": pt * np.cos(phi), "py": pt * np.sin(phi),
           "pz": pt * np.sinh(eta), "e": pt * np.cosh(eta),
           "charge": (kind == "h").astype(np.int32), "from_pv": pv.astype(bool)}
    for k in ("d0val", "d0err", "dzval", "dzerr"):
        out[k] = np.zeros(len(ev))
    for f in FLAGS:
        out[f] = np.zeros(len(ev), bool)
    out["isChargedHadron"] = kind == "h"
    out["isPhoton"] = kind == "g"
    return out


def test_weights_follow_the_puppi_formula():
    # PV tracks A (10 GeV at the origin) and B (2 GeV at (1.5, 1.5)); two PU tracks at ΔR 0.2
    # and 0.25 from A, an isolated PU track (no PV neighbour: left out of the reference);
    # neutrals at ΔR 0.1 and 0.22 from A, 0.05 from B, and one with no PV track within R0
    rows = [(0, "h", 10.0, 0.0, 0.0, True), (0, "h", 2.0, 1.5, 1.5, True),
            (0, "h", 1.0, 0.2, 0.0, False), (0, "h", 1.0, 0.0, 0.25, False),
            (0, "h", 1.0, -2.0, -2.0, False),
            (0, "g", 5.0, 0.1, 0.0, True), (0, "g", 5.0, 0.0, -0.22, False),
            (0, "g", 5.0, 1.5, 1.55, True), (0, "g", 5.0, 0.5, 0.0, False),
            (0, "g", 5.0, 1.505, 1.5, True)]                # ΔR < r_min from B: B ignored
    pf = pf_dict(rows)
    w = puppi_weights(pf, r0=0.3)
    a_pu = np.log((10 / np.array([0.2, 0.25])) ** 2)
    med = np.median(a_pu)
    rms = np.sqrt(np.mean((a_pu - med) ** 2))
    a_n = np.log((np.array([10, 10, 2]) / np.array([0.1, 0.22, 0.05])) ** 2)
    expected = chi2.cdf(np.where(a_n > med, (a_n - med) ** 2 / rms ** 2, 0.0), df=1)
    assert np.allclose(w[:5], 1.0)                      # tracks are not weighted
    assert np.allclose(w[5:8], expected, rtol=1e-6)
    assert w[5] > 0.999 and 0.05 < w[6] < 0.3 and w[7] == 0.0
    assert w[8] == 0.0                                  # no PV track within R0
    assert w[9] == 0.0                                  # pairs closer than r_min are skipped


def test_chs_puppi_output_bookkeeping():
    rows = [(0, "h", 10.0, 0.0, 0.0, True), (0, "h", 1.0, 0.2, 0.0, False),
            (0, "h", 1.0, 0.0, 0.25, False), (0, "g", 5.0, 0.1, 0.0, True),
            (0, "g", 5.0, 0.0, -0.22, False), (0, "g", 5.0, 0.5, 0.0, False),
            (2, "h", 3.0, 1.0, 1.0, True), (2, "g", 2.0, 1.1, 1.0, True),      # no PU at all:
            (2, "g", 2.0, -1.0, -2.0, True),                                   # all kept
            (3, "h", 2.0, 0.0, 0.0, False), (3, "g", 0.05, 0.0, 0.1, True)]   # soft neutral
    pf = pf_dict(rows)
    w = puppi_weights(pf)
    out = apply_chs_puppi(pf, r0=0.3, neutral_min_pt=0.1, neutral_pt_slope=0.0)
    assert set(out) == set(pf)
    assert all(len(v) == len(out["e"]) for v in out.values())
    charged = out["isChargedHadron"] | out["isElectron"] | out["isMuon"]
    assert out["from_pv"][charged].all()                # CHS
    assert np.all(np.diff(out["event"]) >= 0)
    # kept: the PV tracks (unchanged), neutrals with w >= 0.05 and w·pT >= 0.1, scaled by w
    keep = np.array([0, 3, 4, 6, 7, 8])
    assert len(out["e"]) == len(keep)
    for k in ("px", "py", "pz", "e"):
        assert np.allclose(out[k], pf[k][keep] * w[keep])
    assert w[7] == 1.0 and w[8] == 1.0                  # event without PU: untouched
    assert 0.0 < w[4] < 1.0


def pu_scenario(n_ev=150, seed=11):
    """Per event: a PV jet (12 tracks + 4 γ within ΔR 0.25 of (0, 0)), 30 soft PV tracks, and
    40 PU vertices x (12 tracks + 4 γ), soft and uniform in (η, φ), each at its own z."""
    rng = np.random.default_rng(seed)
    gens = []
    for ev in range(n_ev):
        # PV: a jet (tracks + photons within ΔR 0.25 of (0, 0)) and some soft PV activity
        nj, nu = 12, 30
        jr, ja = 0.25 * np.sqrt(rng.random(nj + 4)), rng.uniform(0, 2 * np.pi, nj + 4)
        parts = [(np.r_[[211] * nj, [22] * 4], np.r_[rng.uniform(3, 30, nj), rng.uniform(5, 20, 4)],
                  jr * np.cos(ja), jr * np.sin(ja), True, 0.0),
                 (np.full(nu, 211), rng.uniform(0.8, 3, nu), rng.uniform(-2.5, 2.5, nu),
                  rng.uniform(-np.pi, np.pi, nu), True, 0.0)]
        # PU: 40 vertices x (12 tracks + 4 photons), soft, uniform in (η, φ)
        npu = 40 * 16
        pid = np.tile(np.r_[[211] * 12, [22] * 4], 40)
        parts.append((pid, rng.uniform(0.8, 3.0, npu), rng.uniform(-2.5, 2.5, npu),
                      rng.uniform(-np.pi, np.pi, npu), False, rng.normal(0, 50)))
        for pid, pt, eta, phi, pv, z in parts:
            m = np.array([MASS[abs(p)] for p in pid])
            q = np.where(pid == 22, 0.0, 1.0)
            px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
            n = len(pid)
            gens.append({"event": np.full(n, ev), "px": px, "py": py, "pz": pz,
                         "e": np.sqrt(px ** 2 + py ** 2 + pz ** 2 + m ** 2),
                         "pid": pid.astype(np.int32), "charge": q, "vx": np.zeros(n),
                         "vy": np.zeros(n), "vz": np.full(n, z), "vt": np.zeros(n),
                         "from_pv": np.full(n, pv)})
    return {k: np.concatenate([g[k] for g in gens]) for k in gens[0]}


def test_puppi_on_simulated_pileup():
    """Through the detector: PU tracks vanish, neutrals in the PV jet keep w ≈ 1, PU neutrals
    away from PV activity are suppressed."""
    gen = pu_scenario()
    pf = simulate_detector(gen, np.random.default_rng(0))
    assert set(pf) == set(PF_KEYS)
    w = puppi_weights(pf)
    out = apply_chs_puppi(pf)

    charged = pf["isChargedHadron"] | pf["isElectron"] | pf["isMuon"]
    assert (charged & ~pf["from_pv"]).sum() > 1000     # there was PU to remove
    charged_out = out["isChargedHadron"] | out["isElectron"] | out["isMuon"]
    assert charged_out.sum() == (charged & pf["from_pv"]).sum()
    assert out["from_pv"][charged_out].all()

    pt = np.hypot(pf["px"], pf["py"])
    eta = np.arcsinh(pf["pz"] / pt)
    phi = np.arctan2(pf["py"], pf["px"])
    in_jet = np.hypot(eta, phi) < 0.25
    jet_neu = ~charged & in_jet & pf["from_pv"] & (pt > 3)
    pu_neu = ~charged & ~pf["from_pv"] & (np.hypot(eta, phi) > 0.8)
    assert jet_neu.sum() > 300 and pu_neu.sum() > 3000
    assert np.mean(w[jet_neu]) > 0.97
    assert np.sum(w[pu_neu] * pt[pu_neu]) < 0.15 * np.sum(pt[pu_neu])
    # PU tracks inside the jet cone got removed, so the jet's charged pT is PV-only
    pt_out = np.hypot(out["px"], out["py"])
    assert np.all(w >= 0) and np.all(w <= 1)
    assert pt_out.sum() < pt.sum()


@pytest.mark.parametrize("kw", [dict(r0=0.0), dict(r0=0.3, r_min=0.4), dict(neutral_min_pt=-1.0), dict(min_weight=2.0)])
def test_impossible_settings_raise(kw):
    pf = pf_dict([(0, "h", 10.0, 0.0, 0.0, True), (0, "g", 5.0, 0.1, 0.0, True)])
    with pytest.raises(ConfigError):
        apply_chs_puppi(pf, **kw)


def test_empty_input():
    pf = {k: v[:0] for k, v in pf_dict([(0, "h", 1.0, 0.0, 0.0, True)]).items()}
    out = apply_chs_puppi(pf, r0=0.3, neutral_min_pt=0.1, neutral_pt_slope=0.0)
    assert set(out) == set(pf) and all(len(v) == 0 for v in out.values())


def test_neutral_threshold_grows_with_the_number_of_vertices():
    """Delphes RunPUPPI: a neutral survives when w·pT >= 0.2 + 0.006·NPV (per event)."""
    rows = [(0, "h", 10.0, 0.0, 0.0, True), (0, "g", 0.4, 0.05, 0.0, True),
            (1, "h", 10.0, 0.0, 0.0, True), (1, "g", 0.4, 0.05, 0.0, True)]
    pf = pf_dict(rows)      # no PU tracks: every neutral keeps w = 1
    assert len(apply_chs_puppi(pf)["e"]) == 4                       # cut 0.206 GeV
    out = apply_chs_puppi(pf, npv=np.array([1, 51]))               # event 1: cut 0.506 GeV
    assert list(out["event"]) == [0, 0, 1]
    assert len(apply_chs_puppi(pf, npv=51)["e"]) == 2


def test_weights_below_min_weight_count_as_zero():
    rows = [(0, "h", 10.0, 0.0, 0.0, True), (0, "h", 1.0, 0.2, 0.0, False),
            (0, "h", 1.0, 0.0, 0.25, False), (0, "g", 50.0, 0.0, -0.22, False)]
    pf = pf_dict(rows)
    w = puppi_weights(pf, r0=0.3)
    assert 0.0 < w[3] < 1.0
    kept = lambda mw: len(apply_chs_puppi(pf, r0=0.3, min_weight=mw, neutral_min_pt=0.0,
                                          neutral_pt_slope=0.0)["e"])
    assert kept(0.0) == 2 and kept(w[3] + 1e-6) == 1 and kept(w[3] - 1e-6) == 2
