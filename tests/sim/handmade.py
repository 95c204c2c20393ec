"""Hand-built particle events for the jet and substructure tests (known answers)."""
from __future__ import annotations

import numpy as np

PF_FLAGS = ["isElectron", "isMuon", "isPhoton", "isChargedHadron", "isNeutralHadron"]


def p4(pt, eta, phi, m=0.0):
    pt, eta, phi, m = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64)
                                            for x in (pt, eta, phi, m)))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return px, py, pz, np.sqrt(px ** 2 + py ** 2 + pz ** 2 + m ** 2)


def particles(rows):
    """rows: list of (event, pt, eta, phi[, m]) → flat float arrays sorted by event."""
    rows = sorted(rows, key=lambda r: r[0])
    if not rows:
        return {k: np.zeros(0) for k in ("px", "py", "pz", "e")} | {"event": np.zeros(0, np.int64)}
    a = np.array([tuple(r) + (0.0,) * (5 - len(r)) for r in rows], dtype=np.float64)
    px, py, pz, e = p4(a[:, 1], a[:, 2], a[:, 3], a[:, 4])
    return {"event": a[:, 0].astype(np.int64), "px": px, "py": py, "pz": pz, "e": e}


def make_pf(rows):
    """PF candidates whose extra columns encode the candidate's index, to check the copying."""
    pf = particles(rows)
    n = len(pf["event"])
    idx = np.arange(n, dtype=np.float64)
    pf.update(charge=(np.arange(n) % 3 - 1).astype(np.int32), d0val=idx, d0err=idx + 0.5,
              dzval=-idx, dzerr=idx + 0.25)
    for k, f in enumerate(PF_FLAGS):
        pf[f] = (np.arange(n) % 5) == k
    return pf


def make_gen(rows):
    gen = particles(rows)
    n = len(gen["event"])
    idx = np.arange(n, dtype=np.float64)
    gen.update(pid=(211 + np.arange(n)).astype(np.int64), vx=idx, vy=2 * idx, vz=3 * idx,
               vt=4 * idx)
    return gen


def group(event, pt_tot, eta, phi, n=5, spread=0.05, seed=0):
    """n particles around (eta, phi) summing to ~pt_tot, with distinct pTs."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, n)
    pts = pt_tot * w / w.sum()
    return [(event, pts[i], eta + rng.uniform(-spread, spread),
             phi + rng.uniform(-spread, spread)) for i in range(n)]


def sums(pf, sel):
    px, py, pz, e = (pf[k][sel].sum() for k in ("px", "py", "pz", "e"))
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / pt), np.arctan2(py, px), e


def wrap(x):
    return -((np.pi - x) % (2 * np.pi) - np.pi)


EMPTY_GEN = make_gen([])
