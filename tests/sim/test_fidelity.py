"""Truth conventions of the published JetClass-II files (its ntupliser `makeNtuples.C`)."""
from __future__ import annotations

import numpy as np

from jetfm.sim.chunk import ChunkTask, run_chunk
from jetfm.sim.processes import res2p_chunk


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
