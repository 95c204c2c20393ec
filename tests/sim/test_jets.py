"""Tests for jetfm.sim.jets / jetfm.sim.substructure: AK8 jets, soft drop, N-subjettiness, GEN
matching and the JetClass-II column types, on hand-built events with known answers."""
from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import pyarrow as pa
import pytest

from jetfm.errors import JetfmError
from jetfm.schema import JETCLASS2_SCHEMA, is_list_type, value_type
from jetfm.sim.jets import build_jets, output_columns
from jetfm.sim.substructure import nsubjettiness, recluster, softdrop_mass

PF_FLAGS = ["isElectron", "isMuon", "isPhoton", "isChargedHadron", "isNeutralHadron"]


# ---------------------------------------------------------------------------------------------
# helpers

def p4(pt, eta, phi, m=0.0):
    pt, eta, phi, m = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64)
                                            for x in (pt, eta, phi, m)))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return px, py, pz, np.sqrt(px ** 2 + py ** 2 + pz ** 2 + m ** 2)


def particles(rows):
    """rows: list of (event, pt, eta, phi[, m]) → flat float arrays sorted by event."""
    rows = sorted(rows, key=lambda r: r[0])
    if not rows:
        return {k: np.zeros(0) for k in ("px", "py", "pz", "e")} | {"event": np.zeros(0, np.int64)}
    a = np.array([tuple(r) + (0.0,) * (5 - len(r)) for r in rows], dtype=np.float64)
    px, py, pz, e = p4(a[:, 1], a[:, 2], a[:, 3], a[:, 4])
    return {"event": a[:, 0].astype(np.int64), "px": px, "py": py, "pz": pz, "e": e}


def make_pf(rows):
    """PF candidates whose extra columns encode the candidate's index, to check the copying."""
    pf = particles(rows)
    n = len(pf["event"])
    idx = np.arange(n, dtype=np.float64)
    pf.update(charge=(np.arange(n) % 3 - 1).astype(np.int32), d0val=idx, d0err=idx + 0.5,
              dzval=-idx, dzerr=idx + 0.25)
    for k, f in enumerate(PF_FLAGS):
        pf[f] = (np.arange(n) % 5) == k
    return pf


def make_gen(rows):
    gen = particles(rows)
    n = len(gen["event"])
    idx = np.arange(n, dtype=np.float64)
    gen.update(pid=(211 + np.arange(n)).astype(np.int64), vx=idx, vy=2 * idx, vz=3 * idx,
               vt=4 * idx)
    return gen


def group(event, pt_tot, eta, phi, n=5, spread=0.05, seed=0):
    """n particles around (eta, phi) summing to ~pt_tot, with distinct pTs."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, n)
    pts = pt_tot * w / w.sum()
    return [(event, pts[i], eta + rng.uniform(-spread, spread),
             phi + rng.uniform(-spread, spread)) for i in range(n)]


def sums(pf, sel):
    px, py, pz, e = (pf[k][sel].sum() for k in ("px", "py", "pz", "e"))
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / pt), np.arctan2(py, px), e


def wrap(x):
    return -((np.pi - x) % (2 * np.pi) - np.pi)


EMPTY_GEN = make_gen([])


# ---------------------------------------------------------------------------------------------
# reco jets

def test_two_separated_groups_give_two_jets_with_numpy_kinematics():
    rows = group(0, 400.0, 0.5, 1.0, n=6, seed=1) + group(0, 300.0, -1.2, -2.0, n=4, seed=2)
    pf = make_pf(rows)
    out = build_jets(pf, EMPTY_GEN, 1)
    assert list(out["event"]) == [0, 0]
    assert list(out["jet_nparticles"]) == [6, 4]
    # the first 6 rows are the η=0.5 group (higher pT), the last 4 the η=−1.2 group
    for j, sel in enumerate([np.arange(6), np.arange(6, 10)]):
        pt, eta, phi, e = sums(pf, sel)
        assert out["jet_pt"][j] == pytest.approx(pt, rel=1e-6)
        assert out["jet_eta"][j] == pytest.approx(eta, abs=1e-6)
        assert out["jet_phi"][j] == pytest.approx(phi, abs=1e-6)
        assert out["jet_energy"][j] == pytest.approx(e, rel=1e-6)
        # constituents: exactly that group, pT-descending, all columns from the same candidate
        idx = ak.to_numpy(out["part_d0val"][j]).astype(int)
        assert sorted(idx) == list(sel)
        cpt = np.hypot(ak.to_numpy(out["part_px"][j]), ak.to_numpy(out["part_py"][j]))
        assert np.all(np.diff(cpt) <= 0)
        np.testing.assert_allclose(cpt, np.hypot(pf["px"], pf["py"])[idx], rtol=1e-6)
        np.testing.assert_allclose(ak.to_numpy(out["part_energy"][j]), pf["e"][idx], rtol=1e-6)
        np.testing.assert_allclose(ak.to_numpy(out["part_dzval"][j]), -idx)
        np.testing.assert_allclose(ak.to_numpy(out["part_d0err"][j]), idx + 0.5)
        np.testing.assert_allclose(ak.to_numpy(out["part_dzerr"][j]), idx + 0.25)
        np.testing.assert_array_equal(ak.to_numpy(out["part_charge"][j]), pf["charge"][idx])
        for f in PF_FLAGS:
            np.testing.assert_array_equal(ak.to_numpy(out["part_" + f][j]), pf[f][idx])
        # Δη with the sign of the jet η (the second jet is backward), Δφ plain
        ceta = np.arcsinh(pf["pz"][idx] / np.hypot(pf["px"], pf["py"])[idx])
        cphi = np.arctan2(pf["py"], pf["px"])[idx]
        np.testing.assert_allclose(ak.to_numpy(out["part_deta"][j]),
                                   np.sign(eta) * (ceta - eta), atol=1e-6)
        np.testing.assert_allclose(ak.to_numpy(out["part_dphi"][j]), wrap(cphi - phi),
                                   atol=1e-6)
    # backward jet: a constituent further forward than the axis has Δη < 0
    deta2 = ak.to_numpy(out["part_deta"][1])
    ceta2 = np.arcsinh(pf["pz"] / np.hypot(pf["px"], pf["py"]))[
        ak.to_numpy(out["part_d0val"][1]).astype(int)]
    assert np.all(np.sign(deta2) == -np.sign(ceta2 - out["jet_eta"][1]))


def test_jets_ordered_by_event_then_pt_and_event_index_kept():
    rows = (group(2, 250.0, 0.0, 0.0, seed=3) + group(2, 600.0, 1.0, 2.5, seed=4)
            + group(0, 300.0, -0.5, -1.0, seed=5))
    out = build_jets(make_pf(rows), EMPTY_GEN, 4)
    assert list(out["event"]) == [0, 2, 2]
    assert out["event"].dtype == np.int64
    assert out["jet_pt"][1] > out["jet_pt"][2]


def test_dphi_wraps_around_pi():
    rows = [(0, 150.0, 0.3, np.pi - 0.1), (0, 140.0, 0.3, -np.pi + 0.08),
            (0, 20.0, 0.35, np.pi - 0.3), (0, 10.0, 0.25, -np.pi + 0.25)]
    pf = make_pf(rows)
    out = build_jets(pf, EMPTY_GEN, 1)
    assert len(out["jet_pt"]) == 1
    phi_j = float(out["jet_phi"][0])
    _, _, phi_ref, _ = sums(pf, np.arange(4))
    assert -np.pi < phi_ref <= np.pi and abs(wrap(phi_j - phi_ref)) < 1e-6
    dphi = ak.to_numpy(out["part_dphi"][0])
    assert np.all(np.abs(dphi) < 0.35)              # no 2π jumps across the ±π line
    idx = ak.to_numpy(out["part_d0val"][0]).astype(int)
    np.testing.assert_allclose(dphi, wrap(np.arctan2(pf["py"], pf["px"])[idx] - phi_ref),
                               atol=1e-5)
    # the two hard particles sit on opposite sides of the axis
    assert dphi[0] * dphi[1] < 0


@pytest.mark.parametrize("pt_min,expected", [(200.0, [250.0]), (100.0, [250.0, 150.0])])
def test_pt_and_abs_eta_selection(pt_min, expected):
    rows = ([(0, 150.0, 0.0, 0.0)] + [(0, 250.0, 2.3, 2.0)]      # 150 GeV: below 200
            + [(0, 300.0, 2.7, -2.0)] + [(0, 400.0, -2.6, 0.5)])  # |η| > 2.5: dropped
    out = build_jets(make_pf(rows), EMPTY_GEN, 1, pt_min=pt_min)
    np.testing.assert_allclose(out["jet_pt"], expected, rtol=1e-6)
    assert np.all(np.abs(out["jet_eta"]) < 2.5)


def test_empty_and_soft_only_events_give_no_jets():
    soft = [(1, 1.0 + 0.1 * i, 0.1 * i, 0.2 * i) for i in range(30)]
    for n_events, rows in [(3, soft), (3, []), (0, [])]:
        out = build_jets(make_pf(rows), make_gen(rows), n_events)
        assert set(out) == set(output_columns())
        assert all(len(v) == 0 for v in out.values())
        _check_types(out)


def test_bad_event_column_is_rejected():
    pf = make_pf(group(0, 300.0, 0.0, 0.0) + group(1, 300.0, 0.0, 0.0))
    pf["event"] = pf["event"][::-1].copy()
    with pytest.raises(JetfmError):
        build_jets(pf, EMPTY_GEN, 2)
    with pytest.raises(JetfmError):
        build_jets(make_pf(group(3, 300.0, 0.0, 0.0)), EMPTY_GEN, 2)


# ---------------------------------------------------------------------------------------------
# soft drop

def _two_prong(soft):
    # two hard subjets 0.4 apart (each two collinear-ish particles) + optional soft wide-angle
    # particles that C/A attaches last and soft drop (z = 2/352 < 0.1) removes
    hard = [(0, 120.0, 0.0, 0.0), (0, 80.0, 0.02, 0.01),
            (0, 90.0, 0.4, 0.0), (0, 60.0, 0.41, -0.02)]
    return hard + soft


def _mass(pf, sel):
    px, py, pz, e = (pf[k][sel].sum() for k in ("px", "py", "pz", "e"))
    return np.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))


def test_softdrop_mass_of_two_prong_jet_drops_soft_wide_angle_particle():
    pf1 = make_pf(_two_prong([(0, 2.0, -0.2, 0.55)]))
    pf2 = make_pf(_two_prong([(0, 2.0, -0.2, 0.55), (0, 1.5, 0.5, -0.6)]))
    m_2prong = _mass(pf1, np.arange(4))
    out1, out2 = build_jets(pf1, EMPTY_GEN, 1), build_jets(pf2, EMPTY_GEN, 1)
    assert list(out1["jet_nparticles"]) == [5] and list(out2["jet_nparticles"]) == [6]
    assert m_2prong > 50.0
    assert out1["jet_sdmass"][0] == pytest.approx(m_2prong, rel=1e-5)
    assert out2["jet_sdmass"][0] == pytest.approx(m_2prong, rel=1e-5)
    # the soft additions change the plain mass, not the groomed one
    m1, m2 = _mass(pf1, np.arange(5)), _mass(pf2, np.arange(6))
    assert m1 > m_2prong * 1.02 and m2 > m1 * 1.02


def test_softdrop_keeps_symmetric_split_and_single_particle_is_massless():
    pf = make_pf([(0, 150.0, 0.0, 0.0), (0, 100.0, 0.3, 0.2)])
    out = build_jets(pf, EMPTY_GEN, 1)
    assert out["jet_sdmass"][0] == pytest.approx(_mass(pf, np.arange(2)), rel=1e-5)
    out = build_jets(make_pf([(0, 300.0, 0.1, 0.1)]), EMPTY_GEN, 1)
    # (m² of a massless 300 GeV particle is only zero up to rounding: ~1e-5 GeV)
    assert out["jet_sdmass"][0] == pytest.approx(0.0, abs=1e-3) and out["jet_tau1"][0] == 0.0


def _random_jets(n_jets, seed, n_max=60):
    """Flat constituents of random multi-prong jets (massive and massless particles)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, n_max, n_jets)
    counts[:4] = [1, 2, 3, 4]
    j = np.repeat(np.arange(n_jets), counts)
    prong = rng.integers(0, 3, len(j))
    ce, cp = rng.normal(0, 0.25, (n_jets, 3)), rng.normal(0, 0.25, (n_jets, 3))
    eta = ce[j, prong] + rng.normal(0, 0.06, len(j)) + rng.uniform(-2, 2, n_jets)[j]
    phi = cp[j, prong] + rng.normal(0, 0.06, len(j)) + np.where(j % 2, np.pi - 0.1, 0.3)
    px, py, pz, e = p4(rng.exponential(8.0, len(j)), eta, phi, rng.choice([0, 0.14, 0.5],
                                                                          len(j)))
    return (px, py, pz, e), counts


def test_softdrop_matches_fastjet_grooming():
    (px, py, pz, e), counts = _random_jets(40, seed=11)
    cs = recluster(px, py, pz, e, counts)
    mine = softdrop_mass(cs, counts, zcut=0.1, beta=0.0, r0=0.8)
    ref = cs.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=0.1,
                                              symmetry_measure="scalar_z", R0=0.8)
    np.testing.assert_allclose(mine, np.maximum(ak.to_numpy(ref.msoftdrop), 0.0),
                               rtol=1e-9, atol=1e-6)
    # β ≠ 0 uses the (y, φ) distance of the two branches
    mine = softdrop_mass(cs, counts, zcut=0.2, beta=1.0, r0=0.8)
    ref = cs.exclusive_jets_softdrop_grooming(njets=1, beta=1.0, symmetry_cut=0.2,
                                              symmetry_measure="scalar_z", R0=0.8)
    np.testing.assert_allclose(mine, np.maximum(ak.to_numpy(ref.msoftdrop), 0.0),
                               rtol=1e-9, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# N-subjettiness

def _prongs(centres, pt_each, n_per=4, spread=0.01, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for eta, phi in centres:
        for _ in range(n_per):
            rows.append((0, pt_each / n_per * rng.uniform(0.8, 1.2),
                         eta + rng.uniform(-spread, spread), phi + rng.uniform(-spread, spread)))
    return rows


def _taus(out, j=0):
    return np.array([out[f"jet_tau{n}"][j] for n in range(1, 5)], dtype=np.float64)


def test_tau1_vanishes_for_pencil_jet():
    # five exactly collinear particles of different pT
    out = build_jets(make_pf([(0, pt, 0.7, -1.3) for pt in (90, 70, 60, 40, 30)]), EMPTY_GEN, 1)
    t = _taus(out)
    assert t[0] < 1e-6 and np.all(t >= 0)


def test_tau21_small_for_two_prong_and_tau32_small_for_three_prong():
    t2 = _taus(build_jets(make_pf(_prongs([(0.0, 0.0), (0.45, 0.1)], 200.0, seed=1)),
                          EMPTY_GEN, 1))
    assert t2[1] / t2[0] < 0.1
    t3 = _taus(build_jets(make_pf(_prongs([(0.0, 0.0), (0.4, 0.1), (0.1, 0.45)], 200.0,
                                          seed=2)), EMPTY_GEN, 1))
    assert t3[2] / t3[1] < 0.1 and t3[1] / t3[0] > 0.2


def _rap_phi(px, py, pz, e):
    return 0.5 * np.log((e + pz) / (e - pz)), np.arctan2(py, px)


def test_tau1_matches_numpy_one_pass_minimisation_around_jet_axis():
    """τ1 from scratch: the exclusive kT axis for N=1 is the E-scheme sum of all constituents;
    fjcontrib then iterates the β=1 (Weiszfeld) update in (y, φ) until the axis moves < 1e-4."""
    (px, py, pz, e), counts = _random_jets(12, seed=5, n_max=80)
    cs = recluster(px, py, pz, e, counts)
    taus = nsubjettiness(cs, len(counts), n_max=4, beta=1.0, r0=0.8)
    starts = np.cumsum(counts) - counts
    for j in np.flatnonzero(counts > 1):
        sl = slice(starts[j], starts[j] + counts[j])
        y, phi = _rap_phi(px[sl], py[sl], pz[sl], e[sl])
        pt = np.hypot(px[sl], py[sl])
        ay, aphi = _rap_phi(px[sl].sum(), py[sl].sum(), pz[sl].sum(), e[sl].sum())
        brute = np.sum(pt * np.hypot(y - ay, wrap(phi - aphi))) / (pt.sum() * 0.8)
        for _ in range(1000):
            dphi = wrap(phi - aphi)
            w = pt / np.sqrt(1e-8 + (y - ay) ** 2 + dphi ** 2)
            ny, nphi = np.sum(w * y) / w.sum(), aphi + np.sum(w * dphi) / w.sum()
            moved = np.hypot(ny - ay, wrap(nphi - aphi))
            ay, aphi = ny, nphi
            if moved <= 1e-4:
                break
        ref = np.sum(pt * np.hypot(y - ay, wrap(phi - aphi))) / (pt.sum() * 0.8)
        assert taus[j, 0] == pytest.approx(ref, rel=1e-6)
        # the minimised axis is never worse than the jet axis (fjcontrib asserts the same)
        assert taus[j, 0] <= brute * (1 + 1e-9)


def test_tau_ordering_and_sparse_jets():
    (px, py, pz, e), counts = _random_jets(60, seed=7)
    cs = recluster(px, py, pz, e, counts)
    t = nsubjettiness(cs, len(counts))
    assert np.all(t >= 0)
    # a jet with ≤ N constituents has τN = 0 (each particle is its own axis)
    for n in range(1, 5):
        assert np.all(t[counts <= n, n - 1] == 0)
    ok = counts > 4
    frac = np.mean(np.all(np.diff(t[ok], axis=1) <= 1e-12, axis=1))
    assert frac > 0.9


# ---------------------------------------------------------------------------------------------
# GEN matching

def test_gen_jet_matching_and_genpart_columns():
    pf_rows = group(0, 400.0, 0.5, 1.0, seed=1) + group(0, 300.0, -1.2, -2.0, seed=2)
    # GEN jet 1: 0.1 away from reco jet 1 (matched); GEN jet 2: 1.0 away from reco jet 2
    # (not matched); GEN jet 3 for reco jet 1 in another event must not be used
    gen_rows = (group(0, 380.0, 0.6, 1.05, n=7, seed=3) + group(0, 310.0, -1.2, -1.0, seed=4)
                + group(1, 380.0, 0.5, 1.0, seed=5))
    pf, gen = make_pf(pf_rows), make_gen(gen_rows)
    out = build_jets(pf, gen, 2)
    assert list(out["genjet_nparticles"]) == [7, 0]
    sel = np.flatnonzero(gen["event"] == 0)[:7]
    pt, eta, phi, e = sums(gen, sel)
    assert out["genjet_pt"][0] == pytest.approx(pt, rel=1e-6)
    assert out["genjet_eta"][0] == pytest.approx(eta, abs=1e-6)
    assert out["genjet_phi"][0] == pytest.approx(phi, abs=1e-6)
    assert out["genjet_energy"][0] == pytest.approx(e, rel=1e-6)
    assert out["genjet_sdmass"][0] == pytest.approx(
        softdrop_mass(recluster(*(gen[k][sel] for k in ("px", "py", "pz", "e")), [7]), [7])[0],
        rel=1e-5)
    idx = ak.to_numpy(out["genpart_x"][0]).astype(int)     # vx = particle index
    assert sorted(idx) == list(sel)
    gpt = np.hypot(gen["px"], gen["py"])[idx]
    assert np.all(np.diff(gpt) <= 0)
    np.testing.assert_allclose(ak.to_numpy(out["genpart_y"][0]), 2 * idx)
    np.testing.assert_allclose(ak.to_numpy(out["genpart_z"][0]), 3 * idx)
    np.testing.assert_allclose(ak.to_numpy(out["genpart_t"][0]), 4 * idx)
    np.testing.assert_array_equal(ak.to_numpy(out["genpart_pid"][0]), 211 + idx)
    np.testing.assert_allclose(ak.to_numpy(out["genpart_energy"][0]), gen["e"][idx], rtol=1e-6)
    # Δη/Δφ w.r.t. the *reco* axis
    geta = np.arcsinh(gen["pz"] / np.hypot(gen["px"], gen["py"]))[idx]
    gphi = np.arctan2(gen["py"], gen["px"])[idx]
    np.testing.assert_allclose(ak.to_numpy(out["genpart_jet_deta"][0]),
                               geta - out["jet_eta"][0], atol=1e-5)
    np.testing.assert_allclose(ak.to_numpy(out["genpart_jet_dphi"][0]),
                               wrap(gphi - out["jet_phi"][0]), atol=1e-5)
    # unmatched reco jet: empty lists and zero scalars
    for c in ("genpart_px", "genpart_jet_deta", "genpart_pid"):
        assert len(out[c][1]) == 0
    for c in ("genjet_pt", "genjet_eta", "genjet_phi", "genjet_energy", "genjet_sdmass"):
        assert out[c][1] == 0.0


def test_gen_matching_picks_closest_and_flips_deta_for_backward_jets():
    pf_rows = group(0, 400.0, -1.0, 0.0, seed=1)
    # two GEN-jets (0.85 apart, so anti-kT keeps them separate), both within 0.8 of the reco
    # axis at (−1, 0): ΔR = 0.78 and 0.1; the closer one is the match
    gen_rows = (group(0, 200.0, -1.55, 0.55, n=3, seed=2, spread=0.005)
                + group(0, 350.0, -0.9, 0.0, n=4, seed=3, spread=0.005))
    gen = make_gen(gen_rows)
    out = build_jets(make_pf(pf_rows), gen, 1)
    assert out["genjet_nparticles"][0] == 4
    idx = ak.to_numpy(out["genpart_x"][0]).astype(int)
    geta = np.arcsinh(gen["pz"] / np.hypot(gen["px"], gen["py"]))[idx]
    np.testing.assert_allclose(ak.to_numpy(out["genpart_jet_deta"][0]),
                               -(geta - out["jet_eta"][0]), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# output types

def _check_types(out):
    schema = {f.name: f.type for f in JETCLASS2_SCHEMA}
    for name, col in out.items():
        if name == "event":
            assert isinstance(col, np.ndarray) and col.dtype == np.int64
            continue
        want = schema[name]
        if is_list_type(want):
            assert isinstance(col, ak.Array) and col.ndim == 2, name
            arr = ak.to_arrow(col, extensionarray=False, list_to32=True)
            assert is_list_type(arr.type) and value_type(arr.type) == value_type(want), name
            assert arr.cast(want).type == want
        else:
            assert isinstance(col, np.ndarray) and col.ndim == 1, name
            assert pa.array(col).type == want, name


def test_columns_and_types_match_jetclass2_schema():
    rows = group(0, 400.0, 0.5, 1.0, seed=1) + group(1, 300.0, -1.2, -2.0, seed=2)
    gen_rows = group(0, 380.0, 0.55, 1.0, seed=3)
    out = build_jets(make_pf(rows), make_gen(gen_rows), 2)
    expected = {f.name for f in JETCLASS2_SCHEMA if not f.name.startswith("aux_")} - {"jet_label"}
    assert set(out) == expected | {"event"} == set(output_columns())
    assert len({len(v) for v in out.values()}) == 1
    _check_types(out)
    # and a Parquet-ready table with the schema's exact types can be built from them
    names = [f.name for f in JETCLASS2_SCHEMA if f.name in out]
    table = pa.table({n: (ak.to_arrow(out[n], extensionarray=False, list_to32=True)
                          if isinstance(out[n], ak.Array) else pa.array(out[n]))
                      for n in names})
    table = table.cast(pa.schema([JETCLASS2_SCHEMA.field(n) for n in names]))
    assert table.num_rows == 2


def test_fastjet_multievent_api_is_used_consistently():
    # sanity check of the assumption behind the vectorised constituent mapping: fastjet's
    # constituent_index and inclusive_jets list the same jets in the same order
    rows = group(0, 400.0, 0.5, 1.0, seed=1) + group(0, 300.0, -1.2, -2.0, seed=2)
    pf = make_pf(rows)
    arr = ak.zip({k: ak.unflatten(pf[k2], [len(rows)]) for k, k2 in
                  (("px", "px"), ("py", "py"), ("pz", "pz"), ("E", "e"))})
    cs = fastjet.ClusterSequence(arr, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8))
    jets, ci = cs.inclusive_jets(100.0), cs.constituent_index(100.0)
    for j in range(len(jets[0])):
        sel = ak.to_numpy(ci[0][j])
        assert jets[0][j].px == pytest.approx(pf["px"][sel].sum(), rel=1e-12)
