"""CMS-like fast detector response: tracks, ECAL/HCAL cells and particle flow (docs/design.md).

A vectorised numpy re-implementation of the Delphes CMS card used for JetClass-II
(ParticlePropagator, *TrackingEfficiency, *MomentumSmearing, TrackSmearing, SimpleCalorimeter
ECal/HCal, EFlowMerger). Every physics number comes from a detector card (`detector_card.py`;
the built-in one is `cards/cms.yaml`). Simplifications with respect to Delphes, all chosen
because their effect on jets is far below the resolutions:
- |η| used for efficiencies, resolutions and calorimeter cells is the momentum η at the vertex
  (Delphes uses the position η at the calorimeter surface).
- Charged particles bend only in φ: the calorimeter impact is at φ0 − q·asin(0.3·B·R/(2 pT)),
  i.e. a positive charge in B along +z curves towards smaller φ (F = q v × B), for barrel and
  endcap alike; η is unchanged. Particles with pT < 0.3·B·R/2 curl up inside the solenoid and
  never reach the calorimeter (their tracks are still reconstructed).
- Impact parameters use the straight-line (zero-curvature) approximation near the vertex.
- Cells are a uniform η × φ grid up to |η| < 3 (the card's coarser HCAL towers above 1.65 and
  the HF are not modelled); particles beyond that are lost.
- Production time `vt` is accepted but unused (no timing layer).
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .detector_card import (TRACK_RESCALING_MODES, DetectorConfig, EffTable, IpTable, ResTable,
                            default_detector)

__all__ = ["DetectorConfig", "TRACK_RESCALING_MODES", "simulate_detector", "ip_resolution",
           "track_efficiency", "relative_pt_resolution", "ecal_sigma", "hcal_sigma"]

_INVISIBLE_LEPTONS = (12, 14, 16)
GEN_KEYS = ("event", "px", "py", "pz", "e", "pid", "charge", "vx", "vy", "vz")  # + vt, from_pv
PF_FLAGS = ("isElectron", "isMuon", "isPhoton", "isChargedHadron", "isNeutralHadron")
PF_KEYS = ("event", "px", "py", "pz", "e", "charge", "d0val", "d0err", "dzval", "dzerr",
           *PF_FLAGS, "from_pv")


# ---------------------------------------------------------------------------------------------
# lookups


def _region(abseta: np.ndarray, uppers: np.ndarray) -> np.ndarray:
    """Index of the |η| region (lo, hi]; len(uppers) means outside all regions."""
    return np.searchsorted(uppers, abseta, side="left")


def track_efficiency(table: EffTable, abseta: np.ndarray, pt: np.ndarray) -> np.ndarray:
    eff = np.zeros(len(pt))
    reg = _region(abseta, np.array([r[0] for r in table]))
    for i, (_, edges, effs) in enumerate(table):   # one pass per η region, vectorised inside
        m = reg == i
        lut = np.concatenate([[0.0], effs])
        eff[m] = lut[np.searchsorted(np.asarray(edges), pt[m], side="left")]
    return eff


def relative_pt_resolution(table: ResTable, abseta: np.ndarray, pt: np.ndarray) -> np.ndarray:
    reg = np.minimum(_region(abseta, np.array([r[0] for r in table])), len(table) - 1)
    a = np.array([r[1] for r in table])[reg]
    b = np.array([r[2] for r in table])[reg]
    return np.sqrt(a * a + (b * pt) ** 2)


def ip_resolution(abseta: np.ndarray, pt: np.ndarray, d0_table: IpTable, dz_table: IpTable
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(σ(d0), σ(dz)) in mm by (|η|, pT) bin; pT below the first bin uses the first bin, above
    the last the last, |η| above the last edge the last region."""
    out = []
    for table in (d0_table, dz_table):
        uppers = np.array([r[0] for r in table])
        reg = np.minimum(_region(abseta, uppers), len(uppers) - 1)
        sigma = np.empty(len(pt))
        for i, (_, edges, sig) in enumerate(table):     # one pass per η region
            m = reg == i
            pt_hi = np.asarray(edges[1:])
            sigma[m] = np.asarray(sig)[np.minimum(np.searchsorted(pt_hi, pt[m]), len(sig) - 1)]
        out.append(sigma)
    return out[0], out[1]


def ecal_sigma(energy: np.ndarray, eta: np.ndarray, c: DetectorConfig) -> np.ndarray:
    a = np.abs(eta)
    s = np.sqrt((c.ecal_constant * energy) ** 2 + c.ecal_stochastic ** 2 * energy
                + c.ecal_noise ** 2)
    p0, p1, p2 = c.ecal_endcap_shape
    fwd = np.sqrt((c.ecal_forward_constant * energy) ** 2
                  + c.ecal_forward_stochastic ** 2 * energy)
    return np.where(a <= c.ecal_barrel_eta, (1 + c.ecal_barrel_eta_coef * eta ** 2) * s,
                    np.where(a <= c.ecal_endcap_eta, (p0 + p1 * (a - p2) ** 2) * s, fwd))


def hcal_sigma(energy: np.ndarray, eta: np.ndarray, c: DetectorConfig) -> np.ndarray:
    return np.sqrt((c.hcal_constant * energy) ** 2 + c.hcal_stochastic ** 2 * energy)


def lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Delphes' LogNormal: a log-normal variate with the given mean and standard deviation
    (0 where mean <= 0). One normal is drawn per entry so the rng stream length is fixed."""
    z = rng.standard_normal(len(mean))
    out = np.zeros(len(mean))
    m = mean > 0
    b2 = np.log1p((sigma[m] / mean[m]) ** 2)
    out[m] = mean[m] * np.exp(np.sqrt(b2) * z[m] - 0.5 * b2)
    return out


# ---------------------------------------------------------------------------------------------
# calorimeter + particle flow


def _calorimeter(rng, c: DetectorConfig, is_ecal: bool, ev, eta, phi, dep_idx, dep_e, dep_pv,
                 trk_idx, trk_e, trk_sigma):
    """Fill one calorimeter, smear the cells and run the cell-level particle flow.

    dep_*: particles depositing here (index, deposited energy, from-PV flag); trk_*: tracks
    whose energy this calorimeter sees (particle index — always also a depositing particle —,
    track energy × fraction, absolute track-energy σ). Returns (neutral candidates, per-track
    rescale factors).
    """
    deta = c.ecal_deta if is_ecal else c.hcal_deta
    nphi = int(round(360.0 / (c.ecal_dphi_deg if is_ecal else c.hcal_dphi_deg)))
    dphi = 2 * np.pi / nphi
    off = int(np.ceil(c.calo_eta_max / deta)) + 1
    neta = 2 * off
    # one integer key per (event, η cell, φ cell) so that np.unique groups deposits per cell
    ieta = np.floor(eta[dep_idx] / deta).astype(np.int64) + off
    iphi = np.floor((phi[dep_idx] + np.pi) / dphi).astype(np.int64) % nphi
    cells, inv_dep = np.unique((ev[dep_idx] * neta + ieta) * nphi + iphi, return_inverse=True)
    where = np.full(len(eta), -1, np.int64)
    where[dep_idx] = inv_dep
    inv_trk = where[trk_idx]
    ncell = len(cells)
    e_true = np.bincount(inv_dep, dep_e, ncell)
    e_pv = np.bincount(inv_dep, dep_e * dep_pv, ncell)
    e_trk = np.bincount(inv_trk, trk_e, ncell)
    # JetClass-II's TrackSmearing sets TrackResolution = 0, so only "combine" sees a track σ
    s2_trk = (np.bincount(inv_trk, trk_sigma ** 2, ncell) if c.track_rescaling == "combine"
              else np.zeros(ncell))

    c_ieta = (cells // nphi) % neta - off
    c_iphi = cells % nphi
    c_eta = (c_ieta + 0.5) * deta
    sig = (ecal_sigma if is_ecal else hcal_sigma)(e_true, c_eta, c)
    e_meas = lognormal(rng, e_true, sig)
    e_min = c.ecal_e_min if is_ecal else c.hcal_e_min
    s_min = c.ecal_significance_min if is_ecal else c.hcal_significance_min
    # Delphes evaluates the threshold's σ at the measured energy
    sig_meas = (ecal_sigma if is_ecal else hcal_sigma)(e_meas, c_eta, c)
    e_meas[(e_meas < e_min) | (e_meas < s_min * sig_meas)] = 0.0

    # neutral = significant excess of the cell over the tracks pointing to it
    e_neu = np.maximum(e_meas - e_trk, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        signif = e_neu / np.sqrt(s2_trk + sig ** 2)
    neutral = (e_neu > e_min) & (signif > s_min)

    scale = np.ones(len(trk_idx))
    if c.track_rescaling != "none":
        resc = ~neutral & (e_trk > 0)
        w_trk = np.zeros(ncell)
        np.divide(1.0, s2_trk, out=w_trk, where=s2_trk > 0)
        w_cal = 1.0 / sig ** 2
        best = (w_trk * e_trk + w_cal * e_meas) / (w_trk + w_cal)
        cell_scale = np.ones(ncell)
        cell_scale[resc] = best[resc] / e_trk[resc]
        scale = cell_scale[inv_trk]

    n = int(neutral.sum())
    # SmearTowerCenter: uniform position inside the cell
    n_eta = (c_ieta[neutral] + rng.random(n)) * deta
    n_phi = (c_iphi[neutral] + rng.random(n)) * dphi - np.pi
    e_n = e_neu[neutral]
    pt_n = e_n / np.cosh(n_eta)
    cand = {"event": cells[neutral] // (neta * nphi), "px": pt_n * np.cos(n_phi),
            "py": pt_n * np.sin(n_phi), "pz": pt_n * np.sinh(n_eta), "e": e_n,
            "from_pv": e_pv[neutral] >= 0.5 * e_true[neutral]}
    return cand, scale


def _empty(n: int) -> dict[str, np.ndarray]:
    out = {k: np.zeros(n) for k in PF_KEYS}
    out.update(event=np.zeros(n, np.int64), charge=np.zeros(n, np.int32))
    out.update({k: np.zeros(n, bool) for k in PF_FLAGS + ("from_pv",)})
    return out


def simulate_detector(gen: dict[str, np.ndarray], rng: np.random.Generator,
                      config: DetectorConfig | None = None) -> dict[str, np.ndarray]:
    """Particle-flow candidates (keys `PF_KEYS`, sorted by event) for the stable particles of
    a chunk of events, with the built-in CMS card unless `config` is given. All randomness
    comes from `rng` (same state → identical output)."""
    c = default_detector() if config is None else config
    missing = [k for k in GEN_KEYS if k not in gen]
    if missing:
        raise DataError(f"simulate_detector: gen is missing {missing}")
    n = len(gen["px"])
    if any(len(gen[k]) != n for k in (*GEN_KEYS, "from_pv") if k in gen):
        raise DataError("simulate_detector: gen arrays have different lengths")
    ev = np.asarray(gen["event"], np.int64)
    px, py, pz, e = (np.asarray(gen[k], np.float64) for k in ("px", "py", "pz", "e"))
    pid = np.asarray(gen["pid"], np.int64)
    q = np.asarray(gen["charge"], np.float64)
    vx, vy, vz = (np.asarray(gen[k], np.float64) for k in ("vx", "vy", "vz"))
    pv = np.asarray(gen["from_pv"], bool) if "from_pv" in gen else np.ones(n, bool)
    if n and ev.min() < 0:
        raise DataError("simulate_detector: negative event index")

    apid = np.abs(pid)
    # ν and BSM invisibles (SUSY 100xxxx, Hidden Valley 49xxxxx); nuclei (>= 1e9) stay visible
    visible = ~np.isin(apid, _INVISIBLE_LEPTONS) & ~((apid >= 1_000_000) & (apid < 10 ** 9))
    pt = np.sqrt(px * px + py * py)
    # work only on particles inside the detector: transcendental numpy ops dominate the time.
    # Like Delphes' ParticlePropagator, a particle produced outside the tracker cylinder (e.g.
    # a late K0S or Lambda decay's daughters) is never seen. Vertices in mm, the card in m.
    eta_max = max(c.calo_eta_max, c.tracker_eta_max)
    produced_inside = ((vx * vx + vy * vy < (1e3 * c.calo_radius) ** 2)
                       & (np.abs(vz) < 1e3 * c.tracker_half_length))
    inside = np.flatnonzero(visible & produced_inside & (np.abs(pz) < pt * np.sinh(eta_max)))
    ev, px, py, pz, e, pt, apid, q, vx, vy, vz, pv = (
        x[inside] for x in (ev, px, py, pz, e, pt, apid, q, vx, vy, vz, pv))
    n = len(inside)
    abseta = np.log((np.sqrt(pt * pt + pz * pz) + np.abs(pz)) / pt)   # = |asinh(pz/pt)|, faster
    eta = np.copysign(abseta, pz)
    mass = np.sqrt(np.maximum(e * e - pt * pt - pz * pz, 0.0))
    charged = q != 0
    is_e = charged & (apid == 11)
    is_mu = charged & (apid == 13)
    is_h = charged & ~is_e & ~is_mu

    # ---- tracking: efficiency, then log-normal pT smearing with the direction kept ----
    eff = np.zeros(n)
    res = np.zeros(n)
    for m, et, rt in ((is_h, c.hadron_track_eff, c.hadron_pt_res),
                      (is_e, c.electron_track_eff, c.electron_pt_res),
                      (is_mu, c.muon_track_eff, c.muon_pt_res)):
        eff[m] = track_efficiency(et, abseta[m], pt[m])
        res[m] = relative_pt_resolution(rt, abseta[m], pt[m])
    hi = is_mu & (pt > c.muon_eff_falloff_pt)
    eff[hi] *= np.exp(0.5 - pt[hi] * c.muon_eff_falloff_slope)
    eff[abseta > c.tracker_eta_max] = 0.0
    tracked = charged & (rng.random(n) < eff)
    t = np.flatnonzero(tracked)
    pt_t = lognormal(rng, pt[t], res[t] * pt[t])
    # impact parameters from the production vertex, straight-line approximation
    d0_true = (vx[t] * py[t] - vy[t] * px[t]) / pt[t]
    dz_true = vz[t] - (vx[t] * px[t] + vy[t] * py[t]) / pt[t] * pz[t] / pt[t]
    s_d0, s_dz = ip_resolution(abseta[t], pt_t, c.ip_d0_resolution, c.ip_dz_resolution)
    d0 = d0_true + s_d0 * rng.standard_normal(len(t))
    dz = dz_true + s_dz * rng.standard_normal(len(t))

    # ---- calorimeter impact: helix bending in φ; loopers never arrive ----
    k_bend = 0.3 * c.b_field * c.calo_radius / 2.0          # GeV: pT of a track with 2r = R
    reach = ~is_mu & (abseta < c.calo_eta_max) & ~(charged & (pt < k_bend))
    phi_c = np.arctan2(py, px)
    bent = reach & charged
    phi_c[bent] -= np.sign(q[bent]) * np.arcsin(k_bend / pt[bent])
    em = np.isin(apid, c.em_pids)
    split = np.isin(apid, c.split_pids)
    f_ecal = np.where(em, 1.0, np.where(split, c.split_ecal_fraction, 0.0))
    f_hcal = np.where(em, 0.0, 1.0 - f_ecal)
    ratio = pt_t / pt[t]                    # direction kept: scale the 3-momentum
    e_trk_full = np.sqrt(ratio ** 2 * (pt[t] ** 2 + pz[t] ** 2) + mass[t] ** 2)
    scale = np.ones(len(t))
    neutrals = []
    for is_ecal, frac in ((True, f_ecal), (False, f_hcal)):
        dep = np.flatnonzero(reach & (frac > 0))
        tm = reach[t] & (frac[t] > 0)       # tracks whose energy this calorimeter sees
        e_seen = e_trk_full[tm] * frac[t][tm]
        cand, resc = _calorimeter(rng, c, is_ecal, ev, eta, phi_c, dep, e[dep] * frac[dep],
                                  pv[dep], t[tm], e_seen, res[t][tm] * e_seen)
        scale[tm] *= resc
        neutrals.append(cand)

    # ---- assemble: tracks, photons (ECAL), neutral hadrons (HCAL) ----
    ratio = ratio * scale
    keep = ratio > 0                        # "calo" rescaling can zero a track
    t, ratio, d0, dz, s_d0, s_dz = t[keep], ratio[keep], d0[keep], dz[keep], s_d0[keep], s_dz[keep]
    nt, ng, nh = len(t), len(neutrals[0]["e"]), len(neutrals[1]["e"])
    out = _empty(nt + ng + nh)
    tpx, tpy, tpz = px[t] * ratio, py[t] * ratio, pz[t] * ratio
    cols = {"event": ev[t], "px": tpx, "py": tpy, "pz": tpz,
            "e": np.sqrt(tpx ** 2 + tpy ** 2 + tpz ** 2 + mass[t] ** 2),
            "charge": np.rint(q[t]).astype(np.int32), "d0val": d0, "d0err": s_d0,
            "dzval": dz, "dzerr": s_dz, "isElectron": is_e[t], "isMuon": is_mu[t],
            "isChargedHadron": is_h[t], "from_pv": pv[t]}
    for k, v in cols.items():
        out[k][:nt] = v
    for (lo, hi_, cand, flag) in ((nt, nt + ng, neutrals[0], "isPhoton"),
                                  (nt + ng, nt + ng + nh, neutrals[1], "isNeutralHadron")):
        for k, v in cand.items():
            out[k][lo:hi_] = v
        out[flag][lo:hi_] = True
    order = np.argsort(out["event"], kind="stable")
    return {k: v[order] for k, v in out.items()}
