"""Tests for jetfm.sim.jets: AK8 jets, their selection, GEN matching and the JetClass-II column
types, on hand-built events with known answers (soft drop and N-subjettiness:
test_substructure.py)."""
from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import pyarrow as pa
import pytest

from jetfm.errors import JetfmError
from jetfm.schema import JETCLASS2_SCHEMA, is_list_type, value_type
from jetfm.sim.jets import build_jets, output_columns
from jetfm.sim.substructure import recluster, softdrop_mass

from .handmade import EMPTY_GEN, PF_FLAGS, group, make_gen, make_pf, sums, wrap


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
    assert len(jets[0]) == 2, "both planted jets are found (the loop below must run)"
    for j in range(len(jets[0])):
        sel = ak.to_numpy(ci[0][j])
        assert jets[0][j].px == pytest.approx(pf["px"][sel].sum(), rel=1e-12)
