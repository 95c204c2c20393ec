"""Truth conventions of the published JetClass-II files (its ntupliser `makeNtuples.C`)."""
from __future__ import annotations

import numpy as np

from jetfm.sim.chunk import ChunkTask, run_chunk
from jetfm.sim.samples.jetclass2 import res2p_chunk


def test_charged_x_is_written_as_h_plus_minus():
    rng = np.random.default_rng(0)
    spec = next(s for s in (res2p_chunk(rng) for _ in range(50)) if s.params["x_charge"] == "charged")
    table = run_chunk(ChunkTask("res2p", 4, 0, 0, 40), spec).table
    pid = np.concatenate(table.column("aux_genpart_pid").to_numpy(zero_copy_only=False))
    is_x = np.concatenate(table.column("aux_genpart_isResX").to_numpy(zero_copy_only=False))
    assert table.num_rows > 5 and set(np.abs(pid[is_x])) == {37} and 24 not in np.abs(pid)


def _qcd_chunk(long_lived: str):
    from jetfm.sim.processes import ChunkSpec
    spec = ChunkSpec("qcd", "qcd", ("HardQCD:all = on", "PhaseSpace:pTHatMin = 400"))
    return run_chunk(ChunkTask("qcd", 6, 0, 0, 60, long_lived=long_lived), spec).table


def test_v0_daughters_are_tracked_with_displaced_impact_parameters():
    d0 = {}
    for mode in ("pythia", "detector"):
        t = _qcd_chunk(mode)
        charge = np.concatenate(t.column("part_charge").to_numpy(zero_copy_only=False))
        d0[mode] = np.abs(np.concatenate(t.column("part_d0val").to_numpy(zero_copy_only=False)))[charge != 0]
        # truth: GEN-jet constituents produced away from the beam line (mm)
        x = np.concatenate(t.column("genpart_x").to_numpy(zero_copy_only=False))
        y = np.concatenate(t.column("genpart_y").to_numpy(zero_copy_only=False))
        d0[mode + "_gen_r"] = np.hypot(x, y)
    # K0S / Lambda daughters (c tau 27 / 79 mm, boosted): tracks with |d0| > 10 mm, vertices
    # up to the tracker's end; with the detector keeping them stable, none
    assert (d0["pythia"] > 10).mean() > 0.003 and (d0["pythia_gen_r"] > 100).any()
    assert (d0["detector"] > 10).sum() == 0 and (d0["detector_gen_r"] > 100).sum() == 0


def test_kinematic_grids_follow_the_jetclass2_cards():
    from jetfm.sim.processes import RESONANCE_PT_CUTS
    from jetfm.sim.samples import jetclass2 as P
    # gen_configs/jetclass2/train_higgspm2p/mg5_params.dat: 50 pt_min_pdg values
    published = [100, 106, 114, 121, 130, 138, 148, 158, 169, 180, 192, 205, 219, 234, 250, 267,
                 286, 305, 326, 348, 372, 397, 424, 453, 483, 516, 551, 589, 629, 671, 717, 766,
                 818, 873, 933, 996, 1064, 1136, 1213, 1296, 1384, 1478, 1578, 1685, 1800, 1922,
                 2052, 2192, 2341, 2499]
    assert RESONANCE_PT_CUTS.tolist() == published
    # train_qcd/py8_params.dat: 200 pTHatMin values 100.0 ... 5000.0
    assert len(P.QCD_PTHAT_GRID) == 200 and P.QCD_PTHAT_GRID[[0, -1]].tolist() == [100.0, 5000.0]
    rng = np.random.default_rng(1)
    for _ in range(200):
        s = P.res2p_chunk(rng).params
        assert s["pthat_min"] in published and s["m_X"] in P.RES2P_MASSES
        r = P.res34p_chunk(rng).params
        assert r["pthat_min"] in published and r["m_X"] <= r["pthat_min"] <= 2.5 * r["m_X"]
        assert 60 <= r["m_Y"] <= r["m_X"] / 2
        assert P.qcd_chunk(rng).params["pthat_min"] in P.QCD_PTHAT_GRID
