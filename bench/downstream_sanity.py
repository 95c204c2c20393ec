"""Physics sanity of the downstream samples (W±, X → WW(*), quark, gluon).

    python bench/downstream_sanity.py --events 1000

Runs each sample's own card (`jetfm.sim.samples`) through the full chain with a fixed
`PhaseSpace:pTHatMin` (the generated samples draw it from the grid) and prints: the W jets'
soft-drop mass peak and their `truth_charge`; the X → WW(*) m_SD peak for each m_W/m_X ratio
(pTHat = 5 m_X, so that all four quarks usually fit in R = 0.8), and of the ungroomed jet
mass: near threshold (m_X = 201 GeV, W momentum 60 GeV in the X frame) the four quarks have
comparable angles and soft drop often grooms one away; quark vs gluon constituent
multiplicity for AK8 (pTHat 400) and AK4 (pTHat 100, pT > 100) jets, with the dropped jets;
τ_h prong fractions; the W′ m_JJ and jet-mass peaks; QCD dijet statistics per hour per core;
each dark-jet model next to QCD jets.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from physics_sanity import peak

from jetfm.sim.chunk import ChunkTask, run_chunk
from jetfm.sim.downstream import HV_MODELS, MASS_RATIOS, W_MASS
from jetfm.sim.processes import ChunkSpec
from jetfm.sim.pythia_run import mpi_init_file
from jetfm.sim.samples import SampleOptions, draw_chunk


def with_pthat(spec: ChunkSpec, pthat: float) -> ChunkSpec:
    lines = [l for l in spec.settings if not l.startswith("PhaseSpace:pTHatMin")]
    return ChunkSpec(spec.sample, spec.family, (*lines, f"PhaseSpace:pTHatMin = {pthat}"),
                     {**spec.params, "pthat_min": pthat}, spec.x_ids, spec.y_ids)


def run(sample: str, pthat: float | None, events: int, mpi: str, chunk: int = 250,
        options: SampleOptions = SampleOptions(), **task_kw):
    """The sample's card (its pTHatMin replaced by `pthat` unless None) through the chain:
    (jets as a DataFrame, dropped jets by reason, seconds)."""
    spec = draw_chunk(sample, np.random.default_rng(0), options)
    if pthat is not None:
        spec = with_pthat(spec, pthat)
    tables, dropped = [], {}
    t0 = time.perf_counter()
    for c in range(max(1, events // chunk)):
        res = run_chunk(ChunkTask(sample, 99, 0, c, chunk, mpi_file=mpi, options=options,
                                  **task_kw), spec=spec)
        tables.append(res.table)
        for k, v in res.dropped.items():
            dropped[k] = dropped.get(k, 0) + v
    return pa.concat_tables(tables).to_pandas(), dropped, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    args = ap.parse_args(argv)
    mpi = str(mpi_init_file(Path(tempfile.mkdtemp())))
    for sample in ("wplus", "wminus"):
        t, _, _ = run(sample, 400.0, args.events, mpi)
        mu, s = peak(t["jet_sdmass"].to_numpy(), 20, 200)
        charges = dict(zip(*np.unique(t["truth_charge"], return_counts=True)))
        print(f"{sample:<7} jets={len(t):5d}  m_SD peak {mu:6.1f} GeV (sigma {s:4.1f}), "
              f"{100 * (mu / W_MASS - 1):+5.1f}% of {W_MASS};  truth_charge {charges}")
    for ratio in MASS_RATIOS:
        m_x = W_MASS / ratio
        t, _, _ = run("xww", max(400.0, 5.0 * m_x), args.events, mpi,
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
            t, dropped, _ = run(parton, pthat, args.events, mpi, jet_r=r, jet_pt_min=pt_min)
            row[parton] = t["jet_nparticles"].mean()
            print(f"{parton:<5} R={r} pTHat>{pthat:.0f}: jets={len(t):5d}  <pT>={t['jet_pt'].mean():6.1f}"
                  f"  <constituents>={row[parton]:5.1f}  dropped {dropped}")
        print(f"  gluon/quark multiplicity ratio (R={r}): {row['gluon'] / row['quark']:.2f}")
    tau_and_dijets(args.events, mpi)
    dark_vs_qcd(args.events, mpi)
    return 0


def dark_vs_qcd(events: int, mpi: str) -> None:
    """Each Hidden Valley model next to QCD jets of similar pT (pTHat > 400 GeV)."""
    rows = [("QCD", run("qcd", 400.0, events, mpi)[0])]
    rows += [(f"dark {m}", run("darkjet", None, events, mpi,
                               options=SampleOptions(hv_model=m))[0]) for m in HV_MODELS]
    for name, t in rows:
        inv = t["truth_invisible_fraction"].mean() if "truth_invisible_fraction" in t else 0.0
        print(f"{name:<7} jets={len(t):5d}  median pT {np.median(t['jet_pt']):6.1f}  median m_SD "
              f"{np.median(t['jet_sdmass']):6.1f} GeV  <constituents> {t['jet_nparticles'].mean():5.1f}"
              f"  <tau21> {np.nanmean(t['jet_tau2'] / t['jet_tau1']):.3f}  <invisible fraction> {inv:.3f}")


def tau_and_dijets(events: int, mpi: str) -> None:
    t, dropped, _ = run("tau", 400.0, events, mpi)
    prongs = t["truth_tau_decay_mode"] // 5 + 1
    print(f"tau     jets={len(t):5d}  1-prong {np.mean(prongs == 1):.3f}  3-prong "
          f"{np.mean(prongs == 3):.3f}  other {np.mean(~prongs.isin([1, 3])):.3f};  modes "
          f"{t['truth_tau_decay_mode'].value_counts(normalize=True).round(3).to_dict()}")
    t, _, sec = run("wprime", None, events, mpi)
    lead, sub = t[t["jet_index"] == 0], t[t["jet_index"] == 1]
    light = np.minimum(lead["jet_sdmass"].values, sub["jet_sdmass"].values)
    heavy = np.maximum(lead["jet_sdmass"].values, sub["jet_sdmass"].values)
    print(f"wprime  events={len(lead):5d} of {events}  m_JJ peak {peak(lead['event_mjj'].values, 1000, 4000)[0]:7.1f}"
          f" GeV;  lighter-jet m_SD peak {peak(light, 20, 200)[0]:5.1f}, heavier {peak(heavy, 100, 600)[0]:5.1f} GeV")
    t, _, sec = run("dijet-qcd", None, events, mpi)
    ev = t[t["jet_index"] == 0]
    w, m = ev["event_weight"].values, ev["event_mjj"].values
    window = (m > 2000) & (m < 4500)
    n_eff = w[window].sum() ** 2 / max((w[window] ** 2).sum(), 1e-30)
    per_hour = 3600.0 / sec
    print(f"dijet-qcd  {events} events in {sec:.0f} s on one core: {len(ev) * per_hour:,.0f} selected "
          f"events/h/core, {window.sum() * per_hour:,.0f} of them with 2 < m_JJ < 4.5 TeV "
          f"(effective unweighted {n_eff * per_hour:,.0f}/h/core; weighted fraction "
          f"{w[window].sum() / w.sum():.3f})")


if __name__ == "__main__":
    sys.exit(main())
