"""Generation throughput: jets/s/core per sample, ratio to bare Pythia, worker scaling, pileup.

    python bench/generate.py                    # every sample, 3 chunks x 100 events each
    python bench/generate.py --chunks 1 --skip-scaling --skip-pileup   # quick look

"Bare Pythia" runs the *same* chunks (same cards, same seeds, same per-chunk re-init) with
`next()` and nothing else, so the ratio measures what jetfm adds on top (detector, jets,
labels, Parquet) — target >= 0.8. The per-sample rates are without pileup; the pileup lines
time the same chunks with <mu> = 50 from the cached minimum-bias library (built first, its
one-off build time printed) against the same chunks clean — target >= 0.5.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jetfm.sim.chunk import ChunkTask, chunk_seeds, run_chunk
from jetfm.sim.generate import GenerateConfig, generate
from jetfm.sim.pileup_library import pileup_library_file
from jetfm.sim.samples import SAMPLES, draw_chunk
from jetfm.io import quiet_stdout
from jetfm.sim.pythia_run import make_pythia, mpi_init_file, seed_for_pythia


def bare_pythia(task: ChunkTask) -> float:
    """Seconds for the same chunk with Pythia alone: init + next() x n."""
    s_grid, s_pythia, _, _ = chunk_seeds(task)
    spec = draw_chunk(task.sample, np.random.default_rng(s_grid))
    t0 = time.perf_counter()
    pythia = make_pythia(spec.settings, seed_for_pythia(s_pythia), Path(task.mpi_file))
    with quiet_stdout():
        for _ in range(task.n_events):
            pythia.next()
    return time.perf_counter() - t0


def family_rates(sample: str, chunks: int, events: int, mpi: str, **kw) -> dict:
    t_full = t_bare = 0.0
    jets = n_events = 0
    for c in range(chunks):
        task = ChunkTask(sample, 12345, 0, c, events, mpi_file=mpi, **kw)
        if c == 0 and task.pileup:
            run_chunk(task)         # untimed: map the library, warm the caches
        t0 = time.perf_counter()
        res = run_chunk(task)
        t_full += time.perf_counter() - t0
        jets += res.table.num_rows
        n_events += res.n_events
        if not task.pileup and not task.resim:
            t_bare += bare_pythia(task)
    out = {"sample": sample, "events": n_events, "jets": jets, "seconds": t_full,
           "events_per_s": n_events / t_full, "jets_per_s": jets / t_full}
    if t_bare:
        out["bare_events_per_s"] = chunks * events / t_bare
        out["ratio"] = t_bare / t_full
    return out


def scaling(sample: str, jets: int) -> list[tuple[int, float]]:
    rows = []
    for workers in (1, 2):
        tmp = tempfile.mkdtemp(prefix="jetfm_bench_")
        try:
            t0 = time.perf_counter()
            generate(GenerateConfig(sample=sample, jets=jets, out=tmp, seed=7, workers=workers,
                                    jets_per_file=jets, pileup=0.0), progress=False)
            rows.append((workers, jets / (time.perf_counter() - t0)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", nargs="+", default=list(SAMPLES), choices=list(SAMPLES))
    ap.add_argument("--chunks", type=int, default=3)
    ap.add_argument("--events", type=int, default=100)
    ap.add_argument("--scaling-jets", type=int, default=400)
    ap.add_argument("--pileup-chunks", type=int, default=3)
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-pileup", action="store_true")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="jetfm_bench_mpi_"))
    mpi = str(mpi_init_file(tmp))
    print(f"{'sample':<8} {'events':>7} {'jets':>6} {'ev/s':>7} {'jets/s/core':>12} "
          f"{'bare ev/s':>10} {'ratio':>6}")
    for s in args.samples:
        r = family_rates(s, args.chunks, args.events, mpi)
        print(f"{s:<8} {r['events']:>7} {r['jets']:>6} {r['events_per_s']:>7.1f} "
              f"{r['jets_per_s']:>12.1f} {r['bare_events_per_s']:>10.1f} {r['ratio']:>6.2f}")
        sys.stdout.flush()
    r = family_rates("qcd", 1, args.events // 2 or 1, mpi, resim=3)
    print(f"qcd --resim 3: {r['events']} replica events, {r['events_per_s']:.1f} ev/s, "
          f"{r['jets_per_s']:.1f} jets/s")
    if not args.skip_pileup:
        t0 = time.perf_counter()
        library = str(pileup_library_file())
        print(f"pileup library: {time.perf_counter() - t0:.1f} s to build or verify")
        for s in ("qcd", "res34p"):
            clean = family_rates(s, args.pileup_chunks, args.events, mpi, pileup=0.0)
            piled = family_rates(s, args.pileup_chunks, args.events, mpi, pileup=50.0,
                                 pileup_library=library)
            print(f"{s} --pileup 50: {piled['events_per_s']:.1f} ev/s vs "
                  f"{clean['events_per_s']:.1f} clean = x{piled['events_per_s'] / clean['events_per_s']:.2f}")
    if not args.skip_scaling:
        rows = scaling("qcd", args.scaling_jets)
        base = rows[0][1]
        for w, rate in rows:
            print(f"qcd generate --pileup 0 --workers {w}: {rate:.1f} jets/s (x{rate / base:.2f})")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
