"""Physics sanity of the downstream samples (W±, X → WW(*), quark, gluon).

    python bench/downstream_sanity.py --events 1000

Runs each sample's own card (`jetfm.sim.samples`) through the full chain with a fixed
`PhaseSpace:pTHatMin` (the generated samples draw it from the grid) and prints: the W jets'
soft-drop mass peak and their `truth_charge`; the X → WW(*) m_SD peak for each m_W/m_X ratio
(pTHat = 5 m_X, so that all four quarks usually fit in R = 0.8), and of the ungroomed jet
mass: near threshold (m_X = 201 GeV, W momentum 60 GeV in the X frame) the four quarks have
comparable angles and soft drop often grooms one away; quark vs gluon constituent
multiplicity for AK8 (pTHat 400) and AK4 (pTHat 100, pT > 100) jets, with the dropped jets.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
from physics_sanity import peak

from jetfm.sim.chunk import ChunkTask, run_chunk
from jetfm.sim.downstream import MASS_RATIOS, W_MASS
from jetfm.sim.processes import ChunkSpec
from jetfm.sim.pythia_run import mpi_init_file
from jetfm.sim.samples import SampleOptions, draw_chunk


def with_pthat(spec: ChunkSpec, pthat: float) -> ChunkSpec:
    lines = [l for l in spec.settings if not l.startswith("PhaseSpace:pTHatMin")]
    return ChunkSpec(spec.sample, spec.family, (*lines, f"PhaseSpace:pTHatMin = {pthat}"),
                     {**spec.params, "pthat_min": pthat}, spec.x_ids, spec.y_ids)


def run(sample: str, pthat: float, events: int, mpi: str, chunk: int = 250,
        options: SampleOptions = SampleOptions(), **task_kw):
    spec = with_pthat(draw_chunk(sample, np.random.default_rng(0), options), pthat)
    tables, dropped = [], {}
    for c in range(max(1, events // chunk)):
        res = run_chunk(ChunkTask(sample, 99, 0, c, chunk, mpi_file=mpi, options=options,
                                  **task_kw), spec=spec)
        tables.append(res.table)
        for k, v in res.dropped.items():
            dropped[k] = dropped.get(k, 0) + v
    return pa.concat_tables(tables).to_pandas(), dropped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    args = ap.parse_args(argv)
    mpi = str(mpi_init_file(Path(tempfile.mkdtemp())))
    for sample in ("wplus", "wminus"):
        t, _ = run(sample, 400.0, args.events, mpi)
        mu, s = peak(t["jet_sdmass"].to_numpy(), 20, 200)
        charges = dict(zip(*np.unique(t["truth_charge"], return_counts=True)))
        print(f"{sample:<7} jets={len(t):5d}  m_SD peak {mu:6.1f} GeV (sigma {s:4.1f}), "
              f"{100 * (mu / W_MASS - 1):+5.1f}% of {W_MASS};  truth_charge {charges}")
    for ratio in MASS_RATIOS:
        m_x = W_MASS / ratio
        t, _ = run("xww", max(400.0, 5.0 * m_x), args.events, mpi,
                   options=SampleOptions(mass_ratios=(ratio,)))
        mu, s = peak(t["jet_sdmass"].to_numpy(), 20, 500)
        p = t["jet_pt"] * np.cosh(t["jet_eta"])
        mu_jet, _ = peak(np.sqrt(np.maximum(t["jet_energy"] ** 2 - p ** 2, 0)).to_numpy(), 20, 500)
        print(f"xww r={ratio:<6} m_X={m_x:6.1f}  jets={len(t):5d}  m_SD peak {mu:6.1f} GeV "
              f"(sigma {s:4.1f}), {100 * (mu / m_x - 1):+5.1f}% of m_X;  ungroomed jet mass "
              f"peak {mu_jet:6.1f} GeV")
    for r, pthat, pt_min in ((0.8, 400.0, 200.0), (0.4, 100.0, 100.0)):
        row = {}
        for parton in ("quark", "gluon"):
            t, dropped = run(parton, pthat, args.events, mpi, jet_r=r, jet_pt_min=pt_min)
            row[parton] = t["jet_nparticles"].mean()
            print(f"{parton:<5} R={r} pTHat>{pthat:.0f}: jets={len(t):5d}  <pT>={t['jet_pt'].mean():6.1f}"
                  f"  <constituents>={row[parton]:5.1f}  dropped {dropped}")
        print(f"  gluon/quark multiplicity ratio (R={r}): {row['gluon'] / row['quark']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
