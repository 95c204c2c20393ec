"""How far the bump hunt's asymptotic Z can be trusted at the counts a CWoLa selection leaves.

Background-only toys: Poisson counts in the 15 CWoLa bins (2001–4350 GeV) from the dijet
function with the shape fitted to the sophon-search study's 100k QCD dijet events
(p2 = 14.43, p3 = 3.62), scaled to N events; every toy is refitted and tested at every
signal-region centre (3 bins). A calibrated Z gives P(Z > 2) = 2.3 %, P(Z > 3) = 0.13 %.

    python bench/bumpfit_calibration.py                    # N = 33, 66, 330, 3300; ~2 min
    python bench/bumpfit_calibration.py --events 66 --toys 1000
"""
from __future__ import annotations

import argparse

import numpy as np

from jetfm.anomaly.bumpfit import SQRT_S, FitResult, Spectrum, bump_hunt
from jetfm.anomaly.cwola import CwolaConfig
from jetfm.errors import DataError


def shape(edges: np.ndarray, p2: float, p3: float) -> np.ndarray:
    """The dijet function's expected fraction of events per bin."""
    n = len(edges) - 1
    mu = FitResult(np.array([0.0, p2, p3]), np.zeros((3, 3)), edges, np.zeros(n),
                   np.ones(n, bool), SQRT_S, 0.0, 0).expected()
    return mu / mu.sum()


def calibrate(events: int, toys: int, p2: float, p3: float, seed: int = 0) -> dict:
    cfg = CwolaConfig()
    frac = shape(cfg.edges, p2, p3)
    rng = np.random.default_rng(seed)
    zs, failed = [], 0
    for _ in range(toys):
        counts = rng.poisson(frac * events).astype(float)
        for c in cfg.centres():
            try:
                zs.append(bump_hunt(Spectrum(cfg.edges, counts), cfg.regions(c)[0]).z)
            except DataError:           # too few events outside the signal region to fit
                failed += 1
    zs = np.array(zs)
    return {"events": events, "tests": len(zs), "no_fit": failed,
            "p_z_above_2": float(np.mean(zs > 2)), "p_z_above_3": float(np.mean(zs > 3)),
            "max_z": float(zs.max())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, nargs="+", default=[33, 66, 330, 3300])
    ap.add_argument("--toys", type=int, default=300, help="toys per N (default 300)")
    ap.add_argument("--p2", type=float, default=14.43)
    ap.add_argument("--p3", type=float, default=3.62)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.toys < 1 or min(args.events) < 20:
        ap.error("--toys must be >= 1 and every --events >= 20 (the fit needs 20 events)")
    print("| events | tests | no fit | P(Z > 2) (2.3 %) | P(Z > 3) (0.13 %) | max Z |")
    print("|---|---|---|---|---|---|")
    for n in args.events:
        r = calibrate(n, args.toys, args.p2, args.p3, args.seed)
        print(f"| {n} | {r['tests']} | {r['no_fit']} | {100 * r['p_z_above_2']:.2f} % | "
              f"{100 * r['p_z_above_3']:.2f} % | {r['max_z']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
