"""The downstream samples (W±, X → WW(*), quark, gluon): truth logic on hand-built event
records, then short real runs through `jetfm generate` (schema, truth values, options)."""
import glob

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from jetfm.cli import main
from jetfm.data.dataset import check_files
from jetfm.data.config import load_data_config
from jetfm.labels import LABEL_NAMES
from jetfm.schema import TRUTH_COLUMNS, sample_schema
from jetfm.sim.chunk import ChunkTask, run_chunk
from jetfm.sim.dijets import select_dijets
from jetfm.sim.processes import ChunkSpec
from jetfm.sim.samples import EventJets, get_sample
from jetfm.sim.samples.darkjet import dark_truth
from jetfm.sim.samples.tau import tau_truth
from jetfm.sim.samples.xbs import contained
from jetfm.sim.samples.xww import MASS_RATIOS, W_MASS
from jetfm.sim.samples.zjets import PARTON_DROP_REASONS, Z_TO_NEUTRINOS, parton_truth
from jetfm.sim.truth import event_truth, label_jets

from .records import Record


def w_event(pid: int, phi: float = 0.5):
    """W (pid ±24) + recoiling gluon; W → ud̄ (W⁺) or dū (W⁻), both quarks near φ."""
    rec = Record()
    w = rec.add(pid, -22, 600.0, 0.2, phi, m=80.4)
    rec.add(21, -23, 600.0, -0.4, phi + np.pi)
    wb = rec.copy(w, pt=605.0)
    quarks = (2, -1) if pid > 0 else (1, -2)
    rec.decay(wb, (quarks[0], 300.0, 0.25, phi + 0.1), (quarks[1], 300.0, 0.15, phi - 0.1))
    return rec.numpy()


@pytest.mark.parametrize("pid,charge", [(24, 1), (-24, -1)])
def test_w_charge_from_the_w_whose_quarks_are_in_the_jet(pid, charge):
    record = w_event(pid)
    truth = event_truth(record, "res2p", x_ids=(24,))
    eta, phi = np.array([0.2, -0.4]), np.array([0.5, 0.5 + np.pi])   # W jet, recoil jet
    lab, _ = label_jets(truth, "res2p", eta, phi)
    assert LABEL_NAMES[lab[0]] == "X_qq" and lab[1] == -1
    sample = get_sample("wplus" if charge > 0 else "wminus")
    cols, keep, _ = sample.truth(EventJets(record, truth, {}, eta, phi, np.full(2, 600.0), 0.8))
    assert cols["truth_charge"].tolist() == [charge, 0] and keep.all()


def test_xbs_jets_are_kept_when_both_quarks_are_inside_and_have_no_label():
    rec = Record()
    x = rec.add(25, -22, 700.0, 0.0, 0.0, m=200.0)
    rec.add(21, -23, 700.0, 0.5, np.pi)
    rec.decay(rec.copy(x, pt=705.0), (5, 350.0, 0.3, 0.1), (-3, 350.0, -0.3, -0.1))
    record = rec.numpy()
    truth = event_truth(record, "res2p", x_ids=(25,))
    eta, phi = np.array([0.0, 0.6, 0.5]), np.array([0.0, 0.4, np.pi])   # both, only b, recoil
    lab, aux = label_jets(truth, "res2p", eta, phi)
    assert lab.tolist() == [-1, -1, -1]         # no X_bs among the 188 labels
    assert sorted(aux["aux_genpart_pid"][0].tolist()) == [-3, 5, 25]
    assert contained(truth, eta, phi, 0.8).tolist() == [True, False, False]
    xbs = get_sample("xbs")
    cols, keep, reason = xbs.truth(EventJets(record, truth, {}, eta, phi, np.full(3, 700.0), 0.8))
    assert cols == {} and keep.tolist() == [True, False, False]
    assert {xbs.drop_reasons[r] for r in reason[1:]} == {"decay products not both in the jet"}


def test_x_to_ww_is_labelled_by_the_res34p_rules_with_y_equal_w():
    rec = Record()
    x = rec.add(25, -22, 800.0, 0.0, 0.0, m=201.0)
    wp, wm = rec.decay(x, (24, 400.0, 0.1, 0.1, 80.4), (-24, 400.0, -0.1, -0.1, 80.4), status=-22)
    rec.decay(wp, (2, 200.0, 0.2, 0.15), (-1, 200.0, 0.05, 0.05))
    rec.decay(wm, (4, 200.0, -0.2, -0.15), (-3, 200.0, -0.05, -0.05))
    truth = event_truth(rec.numpy(), "res34p", x_ids=(25,), y_ids=(24,))
    lab, _ = label_jets(truth, "res34p", np.array([0.0, 2.0]), np.array([0.0, 2.0]))
    assert LABEL_NAMES[lab[0]] == "X_YY_qqcs" and lab[1] == -1


def z_plus_partons(*partons):
    """Z(→νν̄) + hard partons (pid, eta, phi), all status −23 (showered)."""
    rec = Record()
    z = rec.add(23, -22, 500.0, 0.0, 0.0, m=91.2)
    rec.decay(z, (12, 250.0, 0.1, 0.0), (-12, 250.0, -0.1, 0.1), status=23)
    for pid, eta, phi in partons:
        rec.add(pid, -23, 500.0, eta, phi)
    return rec.numpy()


def test_parton_truth_keeps_one_parton_and_says_why_it_drops():
    record = z_plus_partons((2, 0.0, 3.0), (21, 1.5, -2.0), (21, 1.9, -2.2), (4, -1.5, 1.0))
    eta = np.array([0.05, 1.7, -1.5, -2.0])
    phi = np.array([3.05, -2.1, 1.0, -0.5])    # u quark, two gluons, c quark, nothing
    pid, keep, reason = parton_truth(record, eta, phi, 0.8, light_quarks_only=True)
    assert pid[0] == 2 and keep.tolist() == [True, False, False, False]
    assert [PARTON_DROP_REASONS[r] for r in reason[1:]] == [
        "two hard partons in the jet", "heavy-flavour quark", "no hard parton in the jet"]
    # the quark sample's rule is that one: the same columns, keep mask and reasons
    quark = get_sample("quark")
    cols, keep_q, reason_q = quark.truth(EventJets(record, None, {}, eta, phi, eta, 0.8))
    assert cols["truth_parton_pid"].tolist() == pid.tolist() and keep_q.tolist() == keep.tolist()
    assert reason_q.tolist() == reason.tolist() and quark.drop_reasons == PARTON_DROP_REASONS
    # the Z's neutrinos (status 23) are not partons; a gluon sample keeps the lone gluon
    gluon = get_sample("gluon").truth(EventJets(z_plus_partons((21, 0.0, 0.0)), None, {},
                                                np.array([0.0]), np.array([0.05]),
                                                np.array([500.0]), 0.8))
    assert gluon.columns["truth_parton_pid"].tolist() == [21] and gluon.keep.tolist() == [True]
    # a smaller cone (AK4) no longer reaches the parton
    assert not parton_truth(record, np.array([0.6]), np.array([3.0]), 0.4)[1][0]


def tau_event(prongs: int, pi0s: int, phi: float = 1.0):
    """W⁻ → τ⁻ ν̄; τ⁻ (with a QED-radiation copy) → ν_τ + `prongs` charged pions + π⁰s, each
    π⁰ → γγ; a recoiling gluon opposite."""
    rec = Record()
    w = rec.add(-24, -22, 600.0, 0.0, phi, m=80.4)
    rec.add(21, -23, 600.0, 0.0, phi + np.pi)
    tau, _ = rec.decay(w, (15, 450.0, 0.1, phi, 1.777), (-16, 150.0, -0.1, phi))
    tau_b = rec.copy(tau, status=-51, pt=449.0)          # after a photon emission
    charged = [(-211 if i % 2 == 0 else 211, 100.0, 0.1 + 0.02 * i, phi + 0.01 * i, 0.14)
               for i in range(prongs)]
    kids = rec.decay(tau_b, (16, 30.0, 0.1, phi), *charged,
                     *[(111, 60.0, 0.12, phi - 0.02 * (i + 1), 0.135) for i in range(pi0s)],
                     status=91)
    for k in kids[1 + prongs:]:                        # π⁰ are decayed (negative status)
        rec.rows[k]["status"] = -91
        rec.decay(k, (22, 30.0, 0.12, phi), (22, 30.0, 0.12, phi - 0.01), status=91)
    return rec.numpy()


@pytest.mark.parametrize("prongs,pi0s,mode", [(1, 0, 0), (1, 1, 1), (1, 3, 2), (3, 0, 10),
                                               (3, 1, 11)])
def test_tau_decay_mode_and_the_tau_jet(prongs, pi0s, mode):
    record = tau_event(prongs, pi0s)
    eta, phi = np.array([0.1, 0.0]), np.array([1.0, 1.0 + np.pi])   # τ jet, recoil jet
    got, keep, reason = tau_truth(record, eta, phi, 0.8)
    assert got.tolist() == [mode, -1] and keep.tolist() == [True, False]
    assert get_sample("tau").drop_reasons[reason[1]] == "not the tau_h jet"


def test_mass_ratio_truth_and_schema():
    cols, keep, _ = get_sample("xww").truth(EventJets(None, None, {"mass_ratio": 0.4},
                                                      np.zeros(3), np.zeros(3), np.ones(3), 0.8))
    assert cols["truth_mass_ratio"].tolist() == pytest.approx([0.4] * 3) and keep.all()
    assert [f.name for f in sample_schema(["truth_charge"])][-1] == "truth_charge"
    assert W_MASS / np.array(MASS_RATIOS) == pytest.approx([402.0, 201.0, 125.0, 100.5], abs=0.1)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """40 jets of each new sample from `jetfm generate` (real Pythia + detector)."""
    root = tmp_path_factory.mktemp("downstream")
    extra = {"xww": ["--mass-ratios", "0.4", "0.8"]}
    for sample in ("wplus", "wminus", "xww", "quark", "gluon", "tau", "xbs"):
        assert main(["generate", "--sample", sample, "--jets", "40", "--jets-per-file", "20",
                     "--chunk-events", "40", "--seed", "3", "--out", str(root / sample),
                     "--no-progress", *extra.get(sample, [])]) == 0
    return root


def _table(folder):
    return pq.read_table(sorted(glob.glob(str(folder / "*.parquet")))).to_pandas()


def test_generated_samples_carry_their_truth(made):
    cfg = load_data_config("jetclass2")
    for sample, column in (("wplus", "truth_charge"), ("wminus", "truth_charge"),
                           ("xww", "truth_mass_ratio"), ("quark", "truth_parton_pid"),
                           ("gluon", "truth_parton_pid")):
        assert check_files(made / sample, cfg) == 40              # the readers' full check
        schema = pq.read_schema(sorted(glob.glob(str(made / sample / "*.parquet")))[0])
        assert schema.field(column).type == TRUTH_COLUMNS.field(column).type
        t = _table(made / sample)
        assert (t["sample"] == sample).all() and (t["jet_label"] >= 0).all()
    tau = _table(made / "tau")
    assert (tau["jet_label"] == -1).all() and tau["truth_tau_decay_mode"].isin([0, 1, 2, 10, 11, 12, 20]).all()
    assert check_files(made / "tau", cfg, allow_unlabelled=True) == 40
    xbs = _table(made / "xbs")      # X(200) -> bs: unlabelled, X and both quarks in aux_genpart
    assert (xbs["jet_label"] == -1).all() and check_files(made / "xbs", cfg, allow_unlabelled=True) == 40
    for pid, prod, isx in zip(xbs["aux_genpart_pid"], xbs["aux_genpart_isResDecayProd"],
                              xbs["aux_genpart_isResX"]):
        assert sorted(pid[prod].tolist()) in ([-5, 3], [-3, 5]) and pid[isx].tolist() == [25]
    assert set(_table(made / "wplus")["truth_charge"]) == {1}
    assert set(_table(made / "wminus")["truth_charge"]) == {-1}
    w = _table(made / "wplus")
    assert {LABEL_NAMES[i] for i in w["jet_label"]} <= {"X_qq", "X_cs", "X_bq", "X_cq", "X_sq", "X_bc"}
    assert set(np.round(_table(made / "xww")["truth_mass_ratio"].astype(float), 4)) <= {0.4, 0.8}
    assert set(_table(made / "gluon")["truth_parton_pid"]) == {21}
    assert set(np.abs(_table(made / "quark")["truth_parton_pid"])) <= {1, 2, 3}


def test_physics_sanity_w_mass_and_quark_gluon_multiplicity(made):
    w = pd.concat([_table(made / "wplus"), _table(made / "wminus")])
    assert np.median(w["jet_sdmass"]) == pytest.approx(80.4, rel=0.1)
    # gluons radiate more (C_A/C_F = 9/4): more constituents, at the same pTHat
    n = {}
    for parton, process in (("quark", "qg2gmZq"), ("gluon", "qqbar2gmZg")):
        spec = ChunkSpec(parton, "qcd", (f"WeakBosonAndParton:{process} = on", *Z_TO_NEUTRINOS,
                                         "PhaseSpace:pTHatMin = 400"))
        n[parton] = run_chunk(ChunkTask(parton, 8, 0, 0, 60), spec).table.column(
            "jet_nparticles").to_numpy()
    assert len(n["quark"]) > 20 and n["gluon"].mean() > 1.15 * n["quark"].mean()


def widest(t):
    """Per jet, the largest (Δη, Δφ) distance of a constituent from the axis."""
    return np.array([np.hypot(d, p).max() for d, p in zip(t["part_deta"], t["part_dphi"])])


def test_jet_pt_threshold_and_radius_reach_the_jets(made):
    spec = ChunkSpec("quark", "qcd", ("WeakBosonAndParton:qg2gmZq = on", *Z_TO_NEUTRINOS,
                                      "PhaseSpace:pTHatMin = 100"))
    tables = {}
    for pt_min in (100.0, 200.0):
        task = ChunkTask("quark", 5, 0, 0, 40, jet_pt_min=pt_min, jet_r=0.4)
        tables[pt_min] = run_chunk(task, spec).table
    pts = {k: t.column("jet_pt").to_numpy() for k, t in tables.items()}
    assert pts[100.0].min() > 100 and (pts[100.0] < 200).sum() > 5
    assert pts[200.0].min() > 200
    # anti-kT cones are in rapidity, the columns in η: a few soft massive hadrons lie outside
    assert np.median(widest(tables[100.0].to_pandas())) < 0.4 < 0.6 < \
        np.median(widest(_table(made / "gluon")))


def test_non_default_jet_settings_are_recorded(tmp_path):
    out = tmp_path / "ak4"
    assert main(["generate", "--sample", "gluon", "--jets", "5", "--chunk-events", "20",
                 "--jet-r", "0.4", "--jet-pt-min", "150", "--out", str(out), "--no-progress"]) == 0
    settings = yaml.safe_load((out / "generate_config.yaml").read_text())["settings"]
    assert settings["jet_r"] == 0.4 and settings["jet_pt_min"] == 150
    meta = pq.read_schema(out / "gluon_00000.parquet").metadata[b"jetfm.generate"]
    assert '"jet_r": 0.4' in meta.decode()


def test_mass_ratio_subset_is_recorded(made):
    assert yaml.safe_load((made / "xww" / "generate_config.yaml").read_text())[
        "settings"]["mass_ratios"] == [0.4, 0.8]


@pytest.mark.parametrize("args,needle", [
    (["--sample", "qcd", "--mass-ratios", "0.4"], "--mass-ratios applies to --sample xww only"),
    (["--sample", "xww", "--mass-ratios", "0.5"], "each must be one of"),
    (["--sample", "quark", "--jet-r", "3"], "--jet-r must be in"),
    (["--sample", "qcd", "--hv-model", "A"], "--hv-model applies to --sample darkjet only"),
    (["--sample", "res2p", "--y-decays", "charged-emu"], "--y-decays applies to --sample res34p"),
    (["--sample", "res34p", "--x-decays", "charged"], "--x-decays applies to --sample res2p"),
    (["--sample", "quark", "--jet-pt-min", "nan"], "--jet-pt-min must be"),
    (["--sample", "qcd", "--pthat-min", "800"], "--pthat-min applies to --sample dijet-qcd only"),
    (["--sample", "dijet-qcd", "--pthat-min", "-5"], "must be a finite number of GeV > 0"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, capsys, args, needle):
    assert main(["generate", "--jets", "10", "--out", str(tmp_path / "o"), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "o").exists()



def test_dijet_selection_keeps_the_two_leading_central_jets():
    # event 0: three jets (third ignored); event 1: one jet; event 2: |Δη| = 2 (rejected)
    ev = np.array([0, 0, 0, 1, 2, 2])
    pt = np.array([900.0, 800.0, 300.0, 700.0, 600.0, 500.0])
    eta = np.array([0.5, -0.5, 0.0, 0.0, 1.0, -1.0])
    phi = np.array([0.0, np.pi, 1.0, 0.0, 0.0, np.pi])
    m = np.array([80.0, 30.0, 10.0, 10.0, 10.0, 10.0])
    energy = np.sqrt((pt * np.cosh(eta)) ** 2 + m ** 2)
    keep, index, mjj = select_dijets(ev, pt, eta, phi, energy)
    assert keep.tolist() == [True, True, False, False, False, False]
    assert index.tolist()[:3] == [0, 1, -1]
    p = [(pt[i] * np.cos(phi[i]), pt[i] * np.sin(phi[i]), pt[i] * np.sinh(eta[i])) for i in (0, 1)]
    direct = np.sqrt((energy[0] + energy[1]) ** 2 - sum((p[0][k] + p[1][k]) ** 2 for k in range(3)))
    assert mjj[0] == mjj[1] == pytest.approx(direct)


@pytest.fixture(scope="module")
def dijets(tmp_path_factory):
    root = tmp_path_factory.mktemp("dijets")
    for sample in ("dijet-qcd", "wprime"):
        assert main(["generate", "--sample", sample, "--jets", "40", "--jets-per-file", "10",
                     "--chunk-events", "60", "--seed", "2", "--out", str(root / sample),
                     "--no-progress"]) == 0
    return root


def test_dijet_events_keep_both_jets_in_one_file(dijets):
    for sample in ("dijet-qcd", "wprime"):
        for path in sorted((dijets / sample).glob("*.parquet")):
            t = pq.read_table(path).to_pandas()
            assert len(t) == 10
            assert (t["event_id"].values[0::2] == t["event_id"].values[1::2]).all()
            assert t["jet_index"].tolist() == [0, 1] * 5
            assert (t["jet_pt"].values[0::2] >= t["jet_pt"].values[1::2]).all()
            assert (t["event_mjj"].values[0::2] == t["event_mjj"].values[1::2]).all()
    qcd, wp = _table(dijets / "dijet-qcd"), _table(dijets / "wprime")
    assert qcd["event_weight"].std() > 0 and (qcd["jet_label"] >= 161).all()   # biased, QCD
    assert (wp["event_weight"] == 1).all() and (wp["jet_label"] == -1).all()
    assert 2000 < np.median(wp["event_mjj"]) < 3300                       # the 3 TeV W′


def test_dijet_samples_need_even_jet_counts(tmp_path, capsys):
    assert main(["generate", "--sample", "wprime", "--jets", "11", "--out",
                 str(tmp_path / "w")]) == 2
    assert "--jets and --jets-per-file must be even" in capsys.readouterr().err


def test_dark_jet_truth_invisible_fraction_and_the_dark_quark():
    rec = Record()
    zv = rec.add(4900023, -22, 10.0, 0.0, 0.0, m=1500.0)
    rec.decay(zv, (4900101, 700.0, 0.0, 0.0), (-4900101, 700.0, 0.5, np.pi))
    rec.add(4900211, 91, 100.0, 0.1, 0.0)          # stable invisible dark state in jet 0
    rec.add(4900213, 91, 50.0, 0.4, np.pi)         # ... in jet 1
    eta, phi, pt = np.array([0.0, 0.5, -2.0]), np.array([0.0, np.pi, 1.5]), np.array([300.0, 450.0, 250.0])
    fraction, keep, reason = dark_truth(rec.numpy(), eta, phi, pt, 0.8)
    assert fraction[:2] == pytest.approx([100 / 400, 50 / 500])
    assert keep.tolist() == [True, True, False]
    assert get_sample("darkjet").drop_reasons[reason[2]] == "no dark quark in the jet"


def test_dark_jet_models_differ(tmp_path):
    got = {}
    for model in ("A", "C"):
        out = tmp_path / model
        assert main(["generate", "--sample", "darkjet", "--hv-model", model, "--jets", "30",
                     "--chunk-events", "40", "--out", str(out), "--no-progress"]) == 0
        got[model] = _table(out)
        assert (got[model]["jet_label"] == -1).all()
        assert yaml.safe_load((out / "generate_config.yaml").read_text())["settings"]["hv_model"] == model
    # r_inv 0.3 (A) vs 0.7 (C): more of the dark shower escapes
    assert got["C"]["truth_invisible_fraction"].mean() > 1.3 * got["A"]["truth_invisible_fraction"].mean()
