"""JetClass-II labelling from hand-built Pythia-like event records, and one real Pythia run."""
import numpy as np
import pytest

from jetfm.labels import LABEL_NAMES, label_index
from jetfm.sim.truth import AUX_COLUMNS, event_truth, label_jets

from .records import Record


def names(labels):
    return [LABEL_NAMES[i] if i >= 0 else -1 for i in labels]


def x_to_bb(eta_bbar, phi=0.3):
    rec = Record()
    x = rec.add(25, -22, 500.0, 0.0, phi, m=125.0)
    xb = rec.copy(x, pt=510.0)                        # recoil copy: decays hang off the bottom
    rec.decay(xb, (5, 250.0, 0.1, phi + 0.1, 4.8), (-5, 250.0, eta_bbar, phi - 0.1, 4.8))
    return rec.numpy()


def test_x_bb_inside_and_one_outside():
    truth = event_truth(x_to_bb(-0.1), "res2p")
    assert sorted(truth.prod_token) == ["b", "b"]
    lab, aux = label_jets(truth, "res2p", np.array([0.0, 2.0]), np.array([0.3, 0.3]))
    assert names(lab) == ["X_bb", -1] and lab.dtype == np.int32
    assert set(aux) == set(AUX_COLUMNS) and all(len(v) == 2 for v in aux.values())
    # aux lists the same truth for every jet, regardless of ΔR: X bottom copy + 2 daughters.
    for j in range(2):
        assert aux["aux_genpart_pid"][j].tolist() == [25, 5, -5]
        assert aux["aux_genpart_isResX"][j].tolist() == [True, False, False]
        assert aux["aux_genpart_isResDecayProd"][j].tolist() == [False, True, True]
        assert aux["aux_genpart_pt"][j].dtype == np.float32
        assert aux["aux_genpart_pid"][j].dtype == np.int32
    assert aux["aux_genpart_pt"][0][0] == pytest.approx(510.0)   # the bottom copy of X
    lab, _ = label_jets(event_truth(x_to_bb(1.5), "res2p"), "res2p", [0.0], [0.3])
    assert names(lab) == [-1]


def test_phi_wraps_around_pi():
    rec = x_to_bb(0.0, phi=np.pi - 0.05)              # b̄ at φ = π − 0.15, b wraps to −π + 0.05
    lab, _ = label_jets(event_truth(rec, "res2p"), "res2p", [0.0], [-np.pi + 0.01])
    assert names(lab) == ["X_bb"]


def test_x_tautau_modes_and_tau_copy():
    rec = Record()
    x = rec.add(25, -62, 600.0, 0.5, 1.0, m=125.0)
    t1, t2 = rec.decay(x, (15, 300.0, 0.55, 1.05, 1.777), (-15, 300.0, 0.45, 0.95, 1.777))
    rec.decay(t1, (16, 50.0, 0.55, 1.05), (11, 200.0, 0.55, 1.05, 0.0005), (-12, 50.0, 0.5, 1.0),
              status=91)
    t2b = rec.copy(t2, status=-51, pt=295.0, eta=0.2, phi=0.6)   # recoiled τ: direction from top
    rec.decay(t2b, (-16, 40.0, 0.45, 0.95), (-211, 150.0, 0.45, 0.95, 0.14),
              (111, 100.0, 0.45, 0.95, 0.135), status=91)
    truth = event_truth(rec.numpy(), "res2p")
    assert sorted(truth.prod_token) == ["taue", "tauh"]
    # top copy of the second τ is at (0.45, 0.95); its bottom copy at (0.2, 0.6) would be outside
    lab, aux = label_jets(truth, "res2p", [0.9], [1.4])
    assert names(lab) == ["X_tauhtaue"]
    assert int(aux["aux_genpart_isTauDecayProd"][0].sum()) == 6
    assert int(aux["aux_genpart_isResDecayProd"][0].sum()) == 2


def test_x_tau_radiating_before_decay():
    # τ → τ γ → τ γ (QED shower), then τ → μ ν ν: the mode comes from the τ that decays.
    rec = Record()
    x = rec.add(25, -62, 600.0, 0.5, 1.0, m=125.0)
    t1, t2 = rec.decay(x, (15, 300.0, 0.55, 1.05, 1.777), (-15, 300.0, 0.45, 0.95, 1.777))
    rec.decay(t1, (16, 50.0, 0.55, 1.05), (-211, 250.0, 0.55, 1.05, 0.14), status=91)
    t = t2
    for _ in range(2):
        t, _g = rec.decay(t, (-15, 290.0, 0.45, 0.95, 1.777), (22, 10.0, 0.5, 0.9), status=-51)
    rec.decay(t, (-16, 50.0, 0.45, 0.95), (-13, 200.0, 0.45, 0.95, 0.105), (14, 40.0, 0.4, 0.9),
              status=91)
    truth = event_truth(rec.numpy(), "res2p")
    assert sorted(truth.prod_token) == ["tauh", "taum"]
    lab, aux = label_jets(truth, "res2p", [0.5], [1.0])
    assert names(lab) == ["X_tauhtaum"]
    assert sorted(aux["aux_genpart_pid"][0][aux["aux_genpart_isTauDecayProd"][0]].tolist()) == \
        [-211, -16, -13, 14, 16]


def test_x_needs_exactly_both_daughters():
    rec = Record()
    x = rec.add(25, -62, 500.0, 0.0, 0.0, m=125.0)
    rec.decay(x, (5, 200.0, 0.1, 0.0), (-5, 200.0, -0.1, 0.0), (21, 100.0, 2.0, 2.0))
    assert label_one(rec.numpy(), "res2p")[0] == -1


def x_yy(daughters, y_id=35):
    """X → Y Y' with Y → daughters[0], Y' → daughters[1]; daughters: lists of (pid, eta, phi)."""
    rec = Record()
    x = rec.add(25, -62, 800.0, 0.0, 0.0, m=300.0)
    ys = rec.decay(x, (y_id, 400.0, 0.1, 0.1, 80.0), (-y_id if y_id == 37 else y_id, 400.0, -0.1, -0.1, 80.0),
                   status=-22)
    for y, dau in zip(ys, daughters):
        yb = rec.copy(y)
        rec.decay(yb, *[(pid, 200.0, eta, phi, 0.0) for pid, eta, phi in dau])
    return rec.numpy()


def label_one(rec, family, eta=0.0, phi=0.0):
    lab, aux = label_jets(event_truth(rec, family), family, [eta], [phi])
    return names(lab)[0], aux


@pytest.mark.parametrize("cbar_eta, c_eta, expect", [
    (0.2, -0.3, "X_YY_bbcc"),       # all four inside
    (2.0, -0.3, "X_YY_bbc"),        # one outside: the 3-prong label
    (2.0, -2.0, -1),                # two outside: fewer than 3 matched, dropped
])
def test_x_yy_bbcc(cbar_eta, c_eta, expect):
    rec = x_yy([[(5, 0.3, 0.1), (-5, 0.1, 0.3)], [(4, c_eta, 0.0), (-4, cbar_eta, 0.0)]])
    got, aux = label_one(rec, "res34p")
    assert got == expect
    assert aux["aux_genpart_isResX"][0].sum() == 1
    assert aux["aux_genpart_isResY"][0].sum() == 2
    assert aux["aux_genpart_isResDecayProd"][0].sum() == 4
    assert not aux["aux_genpart_isResDecayProd"][0][aux["aux_genpart_isResY"][0]].any()


def test_x_yy_charged_csev_and_neutrino_never_matched():
    # H⁺ → c s̄, H⁻ → e⁻ ν̄_e, the ν far away: named "v" because its sibling e is matched.
    dau = [[(4, 0.2, 0.1), (-3, 0.1, -0.2)], [(11, -0.3, 0.2), (-12, 2.5, 2.5)]]
    assert label_one(x_yy(dau, y_id=37), "res34p")[0] == "X_YY_csev"
    # e outside: c, s̄ only (the ν inside does not count) → dropped.
    dau = [[(4, 0.2, 0.1), (-3, 0.1, -0.2)], [(11, 2.5, 2.5), (-12, 0.0, 0.0)]]
    assert label_one(x_yy(dau, y_id=37), "res34p")[0] == -1


def test_x_yy_charged_tau_mode():
    rec = Record()
    x = rec.add(25, -62, 800.0, 0.0, 0.0, m=300.0)
    yp, ym = rec.decay(x, (37, 400.0, 0.1, 0.1, 80.0), (-37, 400.0, -0.1, -0.1, 80.0), status=-22)
    rec.decay(yp, (5, 200.0, 0.2, 0.0), (-4, 200.0, 0.0, 0.2))        # H⁺ → b c̄ (no copy)
    tau, _ = rec.decay(ym, (15, 200.0, -0.2, 0.0, 1.777), (-16, 100.0, -0.2, -0.2))
    rec.decay(tau, (16, 20.0, -0.2, 0.0), (-211, 180.0, -0.2, 0.0, 0.14), status=91)
    assert label_one(rec.numpy(), "res34p")[0] == "X_YY_bctauhv"


def test_qcd_counts_status71_partons_in_cone():
    rec = Record()
    for pid, pt, eta in [(5, 50.0, 0.1), (-5, 30.0, -0.1), (4, 20.0, 0.2), (3, 5.0, 0.0),
                         (21, 80.0, 0.0), (5, 60.0, 2.0)]:
        rec.add(pid, -71, pt, eta, 0.0)
    rec.add(-4, 23, 40.0, 0.0, 0.0)                     # not −71: ignored
    got, aux = label_one(rec.numpy(), "qcd")
    assert got == "QCD_bbc"                             # s below 10 GeV, b outside the cone
    assert sorted(aux["aux_genpart_pid"][0].tolist()) == [-5, 4, 5]   # quarks only, as JetClass-II
    assert aux["aux_genpart_isQcdParton"][0].all()
    assert not aux["aux_genpart_isResX"][0].any()
    assert label_one(rec.numpy(), "qcd", eta=-2.0)[0] == "QCD_light"


def test_family_mismatch_raises():
    with pytest.raises(ValueError):
        label_jets(event_truth(x_to_bb(0.0), "res2p"), "qcd", [0.0], [0.0])


import pythia8mc  # noqa: E402,F401  (required: fail loudly if missing)


def test_pythia_higgs_to_bb():
    from jetfm.sim.truth import event_records

    p = pythia8mc.Pythia("", False)
    for s in ["Print:quiet = on", "Beams:eCM = 13000", "HiggsSM:gg2Hg(l:t) = on", "25:m0 = 125",
              "25:onMode = off", "25:onIfMatch = 5 -5", "PhaseSpace:pTHatMin = 400",
              "HadronLevel:all = off", "Random:setSeed = on", "Random:seed = 7"]:
        assert p.readString(s)
    assert p.init()
    records = event_records(p.nextBatch(8))
    n_bb = 0
    for rec in records:
        truth = event_truth(rec, "res2p")
        assert sorted(truth.prod_pid.tolist()) == [-5, 5]
        x = truth.genpart["isResX"]
        assert x.sum() == 1 and truth.genpart["pid"][x][0] == 25
        lab, _ = label_jets(truth, "res2p", truth.genpart["eta"][x], truth.genpart["phi"][x])
        n_bb += int(lab[0] == label_index("X_bb"))
    assert n_bb >= 6
