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
