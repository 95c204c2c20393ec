"""Jets and jet substructure (docs/design.md "Jets and truth"): PF candidates → AK8 jets in the
JetClass-II column layout (docs/design.md), with soft-drop mass, N-subjettiness and matched
GEN-jets.

Everything runs on whole chunks: fastjet's awkward multi-event API clusters every event (and,
for grooming/N-subjettiness, every jet) in one C++ call; the rest is flat numpy on index arrays.
There is no Python loop over particles or jets.
"""
from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from jetfm.errors import JetfmError
from jetfm.io import quiet_stdout
from jetfm.sim.substructure import nsubjettiness, recluster, softdrop_mass
from jetfm.schema import (GENJET_FLOAT, GENJET_INT, GENPART_FLOAT, GENPART_INT, JET_FLOAT,
                          JET_INT, PARTICLE_BOOL, PARTICLE_FLOAT, PARTICLE_INT)

__all__ = ["build_jets", "output_columns"]

# Soft drop (beta=0, z_cut=0.1) and N-subjettiness (beta=1, one-pass kT axes, normalised
# measure), as in the JetClass-II / CMS AK8 set-up; R0 is the jet radius (0.8 for AK8).
SD_BETA, SD_ZCUT = 0.0, 0.1
NSUB_BETA = 1.0

# input flag names: the schema's part_is* without the prefix
PF_FLAGS = [c.removeprefix("part_") for c in PARTICLE_BOOL]
# GEN-jets softer than this are never match candidates: a soft underlying-event cluster is not
# the truth counterpart of a > 200 GeV jet, and fastjet's constituent extraction costs
# O(jets × particles) per event, so thousands of soft GEN-jets would dominate the run time.
GENJET_PT_MIN = 10.0


def output_columns() -> list[str]:
    """Names `build_jets` returns: `event` plus every part_/jet_/genpart_/genjet_ column
    of the schema except `jet_label` (truth labelling is a separate step)."""
    jet = [c for c in JET_FLOAT + JET_INT if c != "jet_label"]
    return (["event"] + PARTICLE_FLOAT + PARTICLE_INT + PARTICLE_BOOL + jet
            + GENPART_FLOAT + GENPART_INT + GENJET_FLOAT + GENJET_INT)


# --------------------------------------------------------------------------------------------
# small vectorised kinematics helpers

def _pt_eta_phi(px, py, pz):
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        # pseudorapidity asinh(pz/pT); a particle along the beam gets a huge |η| instead of nan
        eta = np.arcsinh(np.divide(pz, pt, out=np.copysign(np.full_like(pz, 1e10), pz),
                                   where=pt > 0))
    return pt, eta, _wrap_phi(np.arctan2(py, px))


def _wrap_phi(dphi):
    """Map angles into (−π, π]."""
    return -((np.pi - dphi) % (2 * np.pi) - np.pi)


def _eta_sign(eta):
    # JetClass-II flips Δη for backward jets so that Δη > 0 always points to larger |η|;
    # η = 0 exactly counts as positive.
    return np.where(eta >= 0, 1.0, -1.0)


# --------------------------------------------------------------------------------------------
# fastjet wrappers (one C++ call per chunk)

def _zip4(px, py, pz, e, counts) -> ak.Array:
    counts = np.asarray(counts, dtype=np.int64)
    return ak.zip({k: ak.unflatten(np.ascontiguousarray(v, dtype=np.float64), counts)
                   for k, v in (("px", px), ("py", py), ("pz", pz), ("E", e))})


def _cluster(px, py, pz, e, counts, r: float, min_pt: float):
    """Anti-kT on every event of a chunk; jets with pT ≥ `min_pt`. Returns (jet_event, con_jet,
    con_idx): for each jet the event it belongs to, and for each constituent its jet number and
    its index in the flat particle arrays. Jets are grouped by event, constituents by jet."""
    counts = np.asarray(counts, dtype=np.int64)
    empty = np.zeros(0, np.int64)
    if counts.sum() == 0:
        return empty, empty, empty
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, r)  # default E-scheme
    with quiet_stdout():   # FastJet prints its banner on first use
        cs = fastjet.ClusterSequence(_zip4(px, py, pz, e, counts), jetdef)
    ci = cs.constituent_index(min_pt)  # events → jets → index within the event
    jets_per_event = ak.to_numpy(ak.num(ci, axis=1)).astype(np.int64)
    cons_per_jet = ak.to_numpy(ak.flatten(ak.num(ci, axis=2))).astype(np.int64)
    local = ak.to_numpy(ak.flatten(ci, axis=None)).astype(np.int64)
    jet_event = np.repeat(np.arange(len(counts)), jets_per_event)
    con_jet = np.repeat(np.arange(len(cons_per_jet)), cons_per_jet)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return jet_event, con_jet, local + starts[jet_event[con_jet]]


def _groom(px, py, pz, e, counts, with_taus: bool, r0: float):
    """Soft-drop mass (and τ1..τ4) of many jets at once (see `substructure`)."""
    cs = recluster(px, py, pz, e, counts)
    sdmass = softdrop_mass(cs, counts, zcut=SD_ZCUT, beta=SD_BETA, r0=r0)
    taus = (nsubjettiness(cs, len(counts), n_max=4, beta=NSUB_BETA, r0=r0)
            if with_taus else None)
    return sdmass, taus


# --------------------------------------------------------------------------------------------

def _check(name: str, cols: dict, n_events: int, required: list[str]) -> np.ndarray:
    missing = [c for c in required if c not in cols]
    if missing:
        raise JetfmError(f"build_jets: {name} is missing columns {missing}")
    ev = np.asarray(cols["event"], dtype=np.int64)
    if ev.size and (ev[0] < 0 or ev[-1] >= n_events or np.any(np.diff(ev) < 0)):
        raise JetfmError(f"build_jets: {name}['event'] must be non-decreasing in [0, {n_events})")
    return np.bincount(ev, minlength=n_events)


def _ranges(starts, counts) -> np.ndarray:
    """Concatenation of arange(s, s + c) over (starts, counts), without a loop."""
    counts = np.asarray(counts, dtype=np.int64)
    first = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, np.int64) - first, counts) + np.arange(counts.sum())


def _jagged(values, counts, dtype) -> ak.Array:
    return ak.unflatten(np.asarray(values, dtype=dtype), np.asarray(counts, dtype=np.int64))


def build_jets(pf: dict[str, np.ndarray], gen: dict[str, np.ndarray], n_events: int, *,
               pt_min: float = 200.0, abs_eta_max: float = 2.5, r: float = 0.8,
               genjet_pt_min: float = GENJET_PT_MIN) -> dict[str, object]:
    """Cluster PF candidates into anti-kT jets, keep pT > `pt_min`, |η| < `abs_eta_max`, and
    return JetClass-II columns, one row per jet ordered by (event, pT descending).

    `pf`/`gen` are flat per-particle arrays over a chunk of `n_events` events with a
    non-decreasing `event` column. List columns come back as awkward jagged arrays, scalar
    columns as numpy float32/int32, plus `event` (int64): the jet's event within the chunk.
    GEN-jets below `genjet_pt_min` are not match candidates.
    """
    pf_counts = _check("pf", pf, n_events, ["event", "px", "py", "pz", "e", "charge", "d0val",
                                             "d0err", "dzval", "dzerr"] + PF_FLAGS)
    gen_counts = _check("gen", gen, n_events, ["event", "px", "py", "pz", "e", "pid",
                                                "vx", "vy", "vz", "vt"])
    px, py, pz, e = (np.asarray(pf[k], dtype=np.float64) for k in ("px", "py", "pz", "e"))

    # ---- reco jets: 4-vectors are E-scheme sums of their constituents (exactly fastjet's)
    jet_event, con_jet, con_idx = _cluster(px, py, pz, e, pf_counts, r, pt_min)
    nj_all = len(jet_event)
    jsum = [np.bincount(con_jet, weights=v[con_idx], minlength=nj_all) for v in (px, py, pz, e)]
    jpt, jeta, jphi = _pt_eta_phi(*jsum[:3])
    sel = np.flatnonzero((jpt > pt_min) & (np.abs(jeta) < abs_eta_max))
    sel = sel[np.lexsort((-jpt[sel], jet_event[sel]))]   # (event, pT desc)
    nj = len(sel)
    rank = np.full(nj_all, -1, np.int64)
    rank[sel] = np.arange(nj)

    # constituents of kept jets, grouped by jet rank and pT-descending inside each jet
    crank = rank[con_jet]
    keep = crank >= 0
    crank, cidx = crank[keep], con_idx[keep]
    c_pt, c_eta, c_phi = _pt_eta_phi(px[cidx], py[cidx], pz[cidx])
    order = np.lexsort((-c_pt, crank))
    crank, cidx, c_eta, c_phi = crank[order], cidx[order], c_eta[order], c_phi[order]
    ncon = np.bincount(crank, minlength=nj)

    j_px, j_py, j_pz, j_e = (v[sel] for v in jsum)
    j_pt, j_eta, j_phi = jpt[sel], jeta[sel], jphi[sel]
    sgn = _eta_sign(j_eta)

    out: dict[str, object] = {"event": jet_event[sel].astype(np.int64)}
    for col, src in (("part_px", px), ("part_py", py), ("part_pz", pz), ("part_energy", e)):
        out[col] = _jagged(src[cidx], ncon, np.float32)
    out["part_deta"] = _jagged(sgn[crank] * (c_eta - j_eta[crank]), ncon, np.float32)
    out["part_dphi"] = _jagged(_wrap_phi(c_phi - j_phi[crank]), ncon, np.float32)
    for col in ("d0val", "d0err", "dzval", "dzerr"):
        out["part_" + col] = _jagged(np.asarray(pf[col])[cidx], ncon, np.float32)
    out["part_charge"] = _jagged(np.asarray(pf["charge"])[cidx], ncon, np.int32)
    for col in PF_FLAGS:
        out["part_" + col] = _jagged(np.asarray(pf[col])[cidx], ncon, np.bool_)

    sdmass, taus = _groom(px[cidx], py[cidx], pz[cidx], e[cidx], ncon, with_taus=True, r0=r)
    out["jet_pt"] = j_pt.astype(np.float32)
    out["jet_eta"] = j_eta.astype(np.float32)
    out["jet_phi"] = j_phi.astype(np.float32)
    out["jet_energy"] = j_e.astype(np.float32)
    out["jet_sdmass"] = sdmass.astype(np.float32)
    for n in range(4):
        out[f"jet_tau{n + 1}"] = taus[:, n].astype(np.float32)
    out["jet_nparticles"] = ncon.astype(np.int32)

    out.update(_gen_columns(gen, gen_counts, jet_event[sel], j_pt, j_eta, j_phi, sgn, r,
                            genjet_pt_min))
    return out


def _greedy_match(p_reco, p_gen, dr, jet_event, j_pt, r) -> np.ndarray:
    """GEN-jet index per reco jet (-1: none): reco jets by event and descending pT, each takes
    its closest GEN-jet within ΔR < r that no harder jet took (pairs are few per event)."""
    match = np.full(len(j_pt), -1, np.int64)
    rank = np.empty(len(j_pt), np.int64)
    rank[np.lexsort((-j_pt, jet_event))] = np.arange(len(j_pt))
    used = set()
    done = np.zeros(len(j_pt), bool)
    for k in np.lexsort((dr, rank[p_reco])):     # by reco rank, then ΔR
        j, g = p_reco[k], p_gen[k]
        if done[j] or g in used or not dr[k] < r:
            continue
        match[j], done[j] = g, True
        used.add(g)
    return match


def _gen_columns(gen, gen_counts, jet_event, j_pt, j_eta, j_phi, sgn, r, genjet_pt_min
                 ) -> dict[str, object]:
    """GEN-jets (anti-kT R on visible gen particles), matched as JetClass-II's makeNtuples.C
    does: reco jets in pT order each take the ΔR-closest GEN-jet of their event not taken yet,
    if ΔR < r (else genjet_* = 0); constituents get Δη/Δφ w.r.t. the reco axis."""
    nj = len(jet_event)
    gpx, gpy, gpz, ge = (np.asarray(gen[k], dtype=np.float64) for k in ("px", "py", "pz", "e"))
    # events without a selected reco jet need no GEN-jets: give them zero particles (exact,
    # since events are clustered independently)
    has_jet = np.zeros(len(gen_counts), bool)
    has_jet[jet_event] = True
    g_idx = np.flatnonzero(has_jet[np.asarray(gen["event"], dtype=np.int64)])
    g_event, gcon_jet, gcon_loc = _cluster(gpx[g_idx], gpy[g_idx], gpz[g_idx], ge[g_idx],
                                           np.where(has_jet, gen_counts, 0), r, genjet_pt_min)
    gcon_idx = g_idx[gcon_loc]
    ng_all = len(g_event)
    gsum = [np.bincount(gcon_jet, weights=v[gcon_idx], minlength=ng_all)
            for v in (gpx, gpy, gpz, ge)]
    gpt, geta, gphi = _pt_eta_phi(*gsum[:3])

    # all (reco jet, gen jet of the same event) pairs, from per-event gen-jet ranges
    g_per_ev = np.bincount(g_event, minlength=len(gen_counts))
    npair = g_per_ev[jet_event]
    p_reco = np.repeat(np.arange(nj), npair)
    p_gen = _ranges((np.cumsum(g_per_ev) - g_per_ev)[jet_event], npair)
    dr = np.hypot(geta[p_gen] - j_eta[p_reco], _wrap_phi(gphi[p_gen] - j_phi[p_reco]))
    match = _greedy_match(p_reco, p_gen, dr, jet_event, j_pt, r)

    # constituents of matched gen jets, placed under their reco jet, pT-descending; gcon_* are
    # grouped by gen jet already
    g_ncon = np.bincount(gcon_jet, minlength=ng_all)
    g_cstart = np.cumsum(g_ncon) - g_ncon
    reco = np.flatnonzero(match >= 0)
    n = g_ncon[match[reco]]
    crank = np.repeat(reco, n)
    cidx = gcon_idx[_ranges(g_cstart[match[reco]], n)]
    c_pt, c_eta, c_phi = _pt_eta_phi(gpx[cidx], gpy[cidx], gpz[cidx])
    order = np.lexsort((-c_pt, crank))
    crank, cidx, c_eta, c_phi = crank[order], cidx[order], c_eta[order], c_phi[order]
    ncon = np.bincount(crank, minlength=nj)

    out: dict[str, object] = {}
    for col, src in (("genpart_px", gpx), ("genpart_py", gpy), ("genpart_pz", gpz),
                     ("genpart_energy", ge)):
        out[col] = _jagged(src[cidx], ncon, np.float32)
    out["genpart_jet_deta"] = _jagged(sgn[crank] * (c_eta - j_eta[crank]), ncon, np.float32)
    out["genpart_jet_dphi"] = _jagged(_wrap_phi(c_phi - j_phi[crank]), ncon, np.float32)
    for col, src in (("genpart_x", "vx"), ("genpart_y", "vy"), ("genpart_z", "vz"),
                     ("genpart_t", "vt")):
        out[col] = _jagged(np.asarray(gen[src])[cidx], ncon, np.float32)
    out["genpart_pid"] = _jagged(np.asarray(gen["pid"])[cidx], ncon, np.int32)

    has = match >= 0
    m = match[has]
    sdm = np.zeros(nj)
    sdm[has] = _groom(gpx[cidx], gpy[cidx], gpz[cidx], ge[cidx], ncon[has], with_taus=False, r0=r)[0]
    for col, vals in (("genjet_pt", gpt), ("genjet_eta", geta), ("genjet_phi", gphi),
                      ("genjet_energy", gsum[3])):
        v = np.zeros(nj, np.float32)
        v[has] = vals[m]
        out[col] = v
    out["genjet_sdmass"] = sdm.astype(np.float32)
    out["genjet_nparticles"] = ncon.astype(np.int32)
    return out
