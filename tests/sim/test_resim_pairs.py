"""Re-simulation positive pairs: the same jet in two replicas, never two jets of one replica."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from jetfm.data.pairs import group_pairs
from jetfm.sim.generate import GenerateConfig, generate
from jetfm.sim.resim_pairs import (JET_SLOTS, PT_RATIO_MAX, delta_r, jet_keys,
                                   match_replicas, resim_groups)


def _match(*jets):
    """anchor per jet of (shower, replica, parton, eta, phi, pt) tuples."""
    arrays = [np.array(c) for c in zip(*jets)]
    return match_replicas(*arrays)


def test_planted_pairs():
    jets = [
        (0, 10, 0, 0.00, 1.00, 500.0),    # 0: replica 1, parton 0
        (0, 11, 0, 0.03, 1.04, 475.0),    # 1: replica 2, ΔR 0.05, pT ratio 0.95 -> pairs with 0
        (0, 11, 0, 0.20, 1.00, 250.0),    # 2: replica 2, same parton, pT ratio 0.5 -> alone
        (0, 10, 1, 2.00, -1.0, 300.0),    # 3: replica 1, parton 1
        (0, 11, 1, 2.30, -1.4, 300.0),    # 4: replica 2, ΔR 0.5 from 3 -> not paired
        (1, 20, 0, 1.00, 0.00, 400.0),    # 5, 6: one replica, twice the same jet -> alone
        (1, 20, 0, 1.05, 0.05, 400.0),
    ]
    anchor = _match(*jets)
    assert np.isclose(delta_r(0.0, 1.0, 0.03, 1.04), 0.05)
    assert np.isclose(delta_r(2.0, -1.0, 2.3, -1.4), 0.5)
    assert anchor.tolist() == [0, 0, 2, 3, 4, 5, 6]


def test_same_replica_never_shares_a_group_and_closest_wins():
    # replica 2 has two candidates for jet 0 (ΔR 0.3 and 0.1): the closer one is its partner,
    # the other stays alone although it would pass every cut with jet 0
    anchor = _match((0, 1, 0, 0.0, 0.0, 300.0), (0, 2, 0, 0.3, 0.0, 300.0),
                    (0, 2, 0, 0.0, 0.1, 310.0))
    assert anchor.tolist() == [0, 1, 0]


def test_phi_wraps_and_parton_must_agree():
    near_pi = [(0, 1, 0, 0.0, 3.12, 300.0), (0, 2, 0, 0.0, -3.12, 300.0)]
    assert _match(*near_pi).tolist() == [0, 0]             # ΔR 0.04 across ±π
    other_parton = [(0, 1, 0, 0.0, 0.0, 300.0), (0, 2, 1, 0.0, 0.0, 300.0)]
    assert _match(*other_parton).tolist() == [0, 1]
    other_shower = [(0, 1, 0, 0.0, 0.0, 300.0), (1, 2, 0, 0.0, 0.0, 300.0)]
    assert _match(*other_shower).tolist() == [0, 1]


def test_three_replicas_need_every_pair_clean():
    three = [(0, r, 0, 0.02 * r, 0.0, 300.0 + r) for r in (1, 2, 3)]
    assert _match(*three).tolist() == [0, 0, 0]
    # 1-2 and 2-3 pass the pT ratio, 1-3 (1.96) does not: no group of three
    chain = [(0, 1, 0, 0.0, 0.0, 200.0), (0, 2, 0, 0.0, 0.01, 280.0),
             (0, 3, 0, 0.0, 0.02, 392.0)]
    anchor = _match(*chain)
    groups = {a: np.flatnonzero(anchor == a).tolist() for a in np.unique(anchor)}
    assert sorted(map(len, groups.values())) == [1, 2]
    for members in groups.values():
        pt = np.array([chain[m][5] for m in members])
        assert pt.max() / pt.min() <= PT_RATIO_MAX


def test_group_ids_are_unique_and_only_shared_by_clean_pairs():
    event = np.array([100, 100, 101, 101, 101])
    args = dict(shower=[0] * 5, parton=[0, 1, 0, 1, 1], eta=[0, 1, 0.01, 1.02, 1.5],
                phi=[0, 0, 0, 0, 0], pt=[300, 300, 290, 310, 250])
    g = resim_groups(event, **{k: np.array(v) for k, v in args.items()})
    assert (g >= 0).all()
    # jets 0-2 and 1-3 pair; jet 4 (ΔR 0.5 to jet 1) keeps its own key
    assert g.tolist() == [100 * JET_SLOTS, 100 * JET_SLOTS + 1, 100 * JET_SLOTS,
                          100 * JET_SLOTS + 1, 101 * JET_SLOTS + 2]
    assert jet_keys([7, 7, 8]).tolist() == [7 * JET_SLOTS, 7 * JET_SLOTS + 1, 8 * JET_SLOTS]
    # jets in any order (each event's jets still in pT order): the same ids
    perm = np.array([2, 3, 4, 0, 1])
    shuffled = resim_groups(event[perm], **{k: np.array(v)[perm] for k, v in args.items()})
    assert shuffled.tolist() == g[perm].tolist()


def test_generated_pairs_are_the_same_jet(tmp_path):
    cfg = GenerateConfig(sample="qcd", jets=40, out=str(tmp_path / "qcd"), seed=7,
                         jets_per_file=40, chunk_events=10, resim=2, pileup=50.0)
    generate(cfg, progress=False)
    t = pq.read_table(tmp_path / "qcd" / "qcd_00000.parquet",
                      columns=["resim_group", "event_id", "jet_pt", "jet_eta",
                               "jet_phi"]).to_pydict()
    col = {k: np.asarray(v) for k, v in t.items()}
    g = col["resim_group"]
    assert (g >= 0).all()
    i, j = group_pairs(g)          # every pair the file's groups give, no guard
    assert len(i) > 0, "no clean pair in 40 re-simulated QCD jets"
    assert (col["event_id"][i] != col["event_id"][j]).all()
    dr = delta_r(col["jet_eta"][i], col["jet_phi"][i], col["jet_eta"][j], col["jet_phi"][j])
    assert (dr < 0.4).all()
    ratio = col["jet_pt"][i] / col["jet_pt"][j]
    eps = 1e-6                     # jet_pt is float32 in the file
    assert ((ratio >= 1 / PT_RATIO_MAX - eps) & (ratio <= PT_RATIO_MAX + eps)).all()
    # a group holds at most one jet per event (replica)
    _, n_per = np.unique(np.stack([g, col["event_id"]], 1), axis=0, return_counts=True)
    assert (n_per == 1).all()


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_inputs(n):
    arrays = [np.zeros(n, np.int64)] * 3 + [np.zeros(n)] * 2 + [np.ones(n)]
    assert match_replicas(*arrays).tolist() == list(range(n))


def test_a_folder_of_the_old_grouping_is_not_resumed(tmp_path):
    """Folders of the old nearest-parton grouping carry no `resim_pairing` key: the physics
    key differs, so generate refuses to complete them with the new pairing."""
    from jetfm.sim.detector_card import default_detector
    card = default_detector()
    resim = GenerateConfig(sample="qcd", jets=10, out=str(tmp_path), resim=2).physics_key(card)
    plain = GenerateConfig(sample="qcd", jets=10, out=str(tmp_path)).physics_key(card)
    assert resim["resim_pairing"] == 2 and "resim_pairing" not in plain
