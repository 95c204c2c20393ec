"""Physics sanity of the simulator: soft-drop mass peaks and the QCD mass spectrum.

    python bench/physics_sanity.py --events 1500 --out sanity/              # <mu> = 50 (default)
    python bench/physics_sanity.py --events 1500 --out sanity/ --pileup 0   # clean

Generates X(125) -> bb (neutral X), X(80) -> qq' (W-like charged X, six quark channels) and QCD,
each at pTHatMin = 400 GeV, through the full chain (Pythia, detector, AK8, labels), and prints
the position of the soft-drop mass peak (mode of a 2 GeV histogram, refined by a Gaussian fit
of +-15 GeV around it) and the QCD m_SD histogram. Writes sdmass.png with all three.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from jetfm.labels import label_index
from jetfm.sim.chunk import ChunkTask, run_chunk
from jetfm.sim.generate import DEFAULT_PILEUP
from jetfm.sim.processes import CHARGED_QUARKS, ChunkSpec, decay_table, mass_lines
from jetfm.sim.pythia_run import mpi_init_file

PTHAT = 400.0


def spec_x_bb(mass=125.0) -> ChunkSpec:
    w = 1e-3 * mass
    lines = ["HiggsSM:gg2Hg(l:t) = on", "HiggsSM:qg2Hq(l:t) = on", "HiggsSM:qqbar2Hg(l:t) = on",
             *mass_lines(25, mass, w), *decay_table(25, [((5, -5), 1.0)], w),
             f"PhaseSpace:pTHatMin = {PTHAT}"]
    return ChunkSpec("res2p", "res2p", tuple(lines), {"m_X": mass})


def spec_x_qq(mass=80.0) -> ChunkSpec:
    w = 1e-3 * mass
    lines = ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
             *mass_lines(24, mass, w), *decay_table(24, [(q, 1 / 6) for q in CHARGED_QUARKS], w),
             f"PhaseSpace:pTHatMin = {PTHAT}"]
    return ChunkSpec("res2p", "res2p", tuple(lines), {"m_X": mass})


def spec_qcd() -> ChunkSpec:
    return ChunkSpec("qcd", "qcd", ("HardQCD:all = on", f"PhaseSpace:pTHatMin = {PTHAT}"), {})


def run(spec: ChunkSpec, events: int, mpi: str, pileup: float, chunk: int = 250):
    tables = []
    for c in range(max(1, events // chunk)):
        task = ChunkTask(spec.sample, 99, 0, c, chunk, mpi_file=mpi, pileup=pileup)
        tables.append(run_chunk(task, spec=spec).table)
    import pyarrow as pa
    return pa.concat_tables(tables)


def peak(m: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    from scipy.optimize import curve_fit
    h, edges = np.histogram(m, bins=np.arange(lo, hi + 2, 2.0))
    centers = 0.5 * (edges[1:] + edges[:-1])
    mode = centers[np.argmax(h)]
    sel = np.abs(centers - mode) < 15
    gauss = lambda x, a, mu, s: a * np.exp(-0.5 * ((x - mu) / s) ** 2)
    try:
        (a, mu, s), _ = curve_fit(gauss, centers[sel], h[sel], p0=[h.max(), mode, 8.0])
    except RuntimeError:
        mu, s = mode, float("nan")
    if not abs(mu - mode) < 15:     # a fit that ran off the peak: report the histogram mode
        mu, s = mode, float("nan")
    return float(mu), abs(float(s))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1500)
    ap.add_argument("--out", default="sanity")
    ap.add_argument("--pileup", type=float, default=DEFAULT_PILEUP,
                    help="<mu> of overlaid minimum-bias events (default %(default)g, as generate)")
    args = ap.parse_args(argv)
    print(f"<mu> = {args.pileup:g}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mpi = str(mpi_init_file(Path(tempfile.mkdtemp())))
    results = {}
    for name, spec, label, target in [("X(125)->bb", spec_x_bb(), "X_bb", 125.0),
                                      ("X(80)->qq'", spec_x_qq(), None, 80.0)]:
        t = run(spec, args.events, mpi, args.pileup)
        lab = t.column("jet_label").to_numpy()
        m = t.column("jet_sdmass").to_numpy()
        if label:
            m = m[lab == label_index(label)]
        mu, s = peak(m, 20, 250)
        results[name] = m
        print(f"{name:<12} jets={len(m):5d}  m_SD peak = {mu:6.1f} GeV (sigma {s:4.1f}),"
              f" {100 * (mu / target - 1):+5.1f}% of {target:.0f};  labels {np.bincount(lab, minlength=15)[:15].tolist()}")
    t = run(spec_qcd(), args.events, mpi, args.pileup)
    m = t.column("jet_sdmass").to_numpy()
    results["QCD"] = m
    h, edges = np.histogram(m, bins=np.arange(0, 320, 20))
    print(f"QCD          jets={len(m):5d}  m_SD counts per 20 GeV from 0: {h.tolist()}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep
    with plt.style.context(mplhep.style.CMS):
        fig, ax = plt.subplots()
        for name, m in results.items():
            hh, ee = np.histogram(m, bins=np.arange(0, 302, 6))
            mplhep.histplot(hh / max(hh.sum(), 1), ee, ax=ax, label=f"{name} ({len(m)} jets)")
        ax.set_xlabel(r"$m_{SD}$ [GeV]")
        ax.set_ylabel("fraction of jets")
        ax.legend()
        fig.savefig(out / "sdmass.png", dpi=90)
    print(f"plot: {out / 'sdmass.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
