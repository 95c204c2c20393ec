"""How JetClass-II-like are generated jets? The quantities of the fidelity comparison, one command.

    python bench/fidelity.py data/res2p data/res34p data/qcd
    python bench/fidelity.py --generate 600 --out fidelity_data     # make the samples first

Reads any JetClass-II Parquet files (ours or published; family from the label) and prints, per
family: tracks with |d0| > 10 mm and with |d0/σ| > 3, the charged-hadron share of constituents,
photons below 1 GeV among photons, the jet response pT / pT_gen, the photon response, m_SD/pT
(median, q10–q90) and the fraction with m_SD/pT > 0.2 and pT < 700 GeV, the resonance boost
pT_X/m_X and m_Y from `aux_genpart`, the QCD `aux_genpart` content, the X's pids; then the file
layout (nullable fields, list item name, column order, row groups per file).

One sample's numbers; `jetfm compare REFERENCE SIMULATED` sets two samples side by side at
the same kinematics, with uncertainties, and shares the per-jet numbers with this script
(`jetfm.compare.jets` / `measures`: displaced tracks, response, truth content).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow.parquet as pq

from jetfm.compare.jets import columns as compare_columns, reduce_batch
from jetfm.compare.measures import displaced, pid_fractions, response
from jetfm.data.parquet import iter_parquet
from jetfm.data.paths import expand_paths
from jetfm.labels import FAMILIES
from jetfm.schema import JETCLASS2_COLUMNS

# compare's per-jet columns (no model features) and what only this script reads
COLUMNS = list(dict.fromkeys(compare_columns(features=False) + [
    "part_d0err", "jet_label", "aux_genpart_pt", "aux_genpart_mass", "part_deta", "part_dphi",
    "genpart_pid", "genpart_energy", "genpart_jet_deta", "genpart_jet_dphi"]))


def photon_response(a: ak.Array, max_dr: float = 0.05) -> np.ndarray:
    """E_reco / E_gen of reco photons matched to the nearest generated photon of the same jet
    (ΔR < max_dr; cells merge nearby photons, so this is the response per reconstructed photon)."""
    reco = ak.zip({"e": a.part_energy[a.part_isPhoton], "eta": a.part_deta[a.part_isPhoton],
                   "phi": a.part_dphi[a.part_isPhoton]})
    g = a.genpart_pid == 22
    gen = ak.zip({"e": a.genpart_energy[g], "eta": a.genpart_jet_deta[g],
                  "phi": a.genpart_jet_dphi[g]})
    pairs = ak.cartesian([reco, gen], nested=True)
    r, gp = ak.unzip(pairs)
    dr = np.hypot(r.eta - gp.eta, r.phi - gp.phi)
    best = ak.argmin(dr, axis=2, keepdims=True)
    dr_best = ak.flatten(dr[best], axis=2)
    ratio = ak.flatten(r.e[best] / gp.e[best], axis=2)
    ok = ak.fill_none(dr_best < max_dr, False)
    return ak.drop_none(ak.flatten(ratio[ok])).to_numpy()   # argmin leaves an option type


def _q(x, qs=(50, 10, 90)) -> str:
    if len(x) == 0:
        return "n/a"
    m, lo, hi = np.percentile(x, qs)
    return f"{m:.3g} ({lo:.3g}-{hi:.3g})"


def family_report(a: ak.Array, family: str) -> list[str]:
    j = reduce_batch(a, features=False)      # the per-jet numbers `jetfm compare` measures
    charged = a.part_charge != 0
    d0 = np.abs(ak.flatten(a.part_d0val[charged]).to_numpy())
    sig = d0 / np.maximum(ak.flatten(a.part_d0err[charged]).to_numpy(), 1e-9)
    photons = ak.flatten(a.part_energy[a.part_isPhoton]).to_numpy()
    pt, msd = a.jet_pt.to_numpy(), a.jet_sdmass.to_numpy()
    ratio = msd / pt
    n = np.maximum(j.jet["n"], 1)
    lines = [f"[{family}] {len(a)} jets",
             f"  tracks |d0| > 10 mm          {100 * (displaced(j)[0] or 0):.2f} %",
             f"  tracks |d0/sigma| > 3        {100 * np.mean(sig > 3):.1f} %",
             f"  charged-hadron share         {np.mean(j.jet['n_charged_hadron'] / n):.2f}",
             f"  photons < 1 GeV / photons    {100 * np.mean(photons < 1):.1f} %",
             f"  jet pT / genjet pT           {_q(response(j), (50, 16, 84))} (q16-q84)",
             f"  photon E reco / gen          {_q(photon_response(a))}",
             f"  m_SD / pT                    {_q(ratio)};  m_SD/pT > 0.2 and pT < 700: "
             f"{100 * np.mean((ratio > 0.2) & (pt < 700)):.0f} %"]
    if family in ("res2p", "res34p"):
        x = a.aux_genpart_isResX
        boost = ak.flatten(a.aux_genpart_pt[x] / a.aux_genpart_mass[x]).to_numpy()
        lines.append(f"  resonance pT_X / m_X         {_q(boost)}")
        lines.append(f"  X pids                       {sorted(pid_fractions(j, 'isResX'))}")
    if family == "res34p":
        lines.append(f"  m_Y (GeV)                    "
                     f"{_q(ak.flatten(a.aux_genpart_mass[a.aux_genpart_isResY]).to_numpy())}")
    if family == "qcd":
        shares = pid_fractions(j, "isQcdParton")
        gluons = sum(v for p, v in shares.items() if abs(p) == 21)
        quarks = sum(v for p, v in shares.items() if 1 <= abs(p) <= 5)
        lines.append(f"  QCD aux_genpart per jet      {_q(j.jet['isQcdParton'])}; gluons "
                     f"{100 * gluons:.0f} %, quarks 1-5 {100 * quarks:.0f} %")
    return lines


def layout_report(paths: list[Path]) -> list[str]:
    schema = pq.read_schema(paths[0])
    lists = [f for f in schema if hasattr(f.type, "value_field")]
    groups = [pq.ParquetFile(p).metadata.num_row_groups for p in paths]
    return ["[layout]",
            f"  nullable fields              {sum(f.nullable for f in schema)} of {len(schema)}",
            f"  list item names              {sorted({f.type.value_field.name for f in lists})}",
            f"  JetClass-II column order     "
            f"{[n for n in schema.names if n in JETCLASS2_COLUMNS] == JETCLASS2_COLUMNS}",
            f"  row groups per file          {_q(np.array(groups))}"]


def generate_samples(n: int, out: Path, pileup: float | None) -> list[Path]:
    from jetfm.sim.generate import GenerateConfig, generate
    folders = []
    extra = {} if pileup is None else {"pileup": pileup}
    for sample in ("res2p", "res34p", "qcd"):
        # 10-event chunks: many grid points (mass, pT cut) even in a small sample
        generate(GenerateConfig(sample=sample, jets=n, out=str(out / sample), seed=3,
                                jets_per_file=n, workers=2, chunk_events=10, **extra),
                 progress=False)
        folders.append(out / sample)
    return folders


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="*", help="Parquet files or folders")
    ap.add_argument("--generate", type=int, metavar="N", help="first generate N jets per family")
    ap.add_argument("--out", default=None, help="folder for --generate (default: a temp folder)")
    ap.add_argument("--pileup", type=float, default=None,
                    help="--generate with this <mu> (default: jetfm generate's default, 50)")
    args = ap.parse_args(argv)
    data = list(args.data)
    if args.generate:
        data += generate_samples(args.generate, Path(args.out or tempfile.mkdtemp()),
                                 args.pileup)
    paths = expand_paths(data)
    if not paths:
        ap.error("give data or --generate N")
    # jetfm's reader: JetClass-II types, no option types (ak.from_parquet's are nullable)
    a = ak.to_packed(ak.concatenate(list(iter_parquet(paths, columns=COLUMNS))))
    labels = a.jet_label.to_numpy()
    for family, idx in FAMILIES.items():
        sel = np.isin(labels, list(idx))
        if sel.any():
            print("\n".join(family_report(ak.to_packed(a[sel]), family)))
    print("\n".join(layout_report(paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
