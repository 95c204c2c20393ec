"""CMS-like fast detector response: tracks, ECAL/HCAL cells and particle flow (DESIGN §3).

A vectorised numpy re-implementation of the Delphes CMS card used for JetClass-II
(ParticlePropagator, *TrackingEfficiency, *MomentumSmearing, TrackSmearing, SimpleCalorimeter
ECal/HCal, EFlowMerger). Every physics number lives in `DetectorConfig`. Simplifications with
respect to Delphes, all chosen because their effect on jets is far below the resolutions:
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

import csv
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from jetfm.errors import ConfigError, DataError
from jetfm.reference import reference_file

# Efficiency table: per |η| region (upper |η| edge, pT edges, efficiency in each pT bin above
# the first edge); pT <= first edge has efficiency 0. Bins are (lo, hi] as in Delphes formulas.
EffTable = tuple[tuple[float, tuple[float, ...], tuple[float, ...]], ...]
# Resolution table: per |η| region (upper |η| edge, a, b) with σ(pT)/pT = sqrt(a² + (b·pT)²).
ResTable = tuple[tuple[float, float, float], ...]

_INVISIBLE_LEPTONS = (12, 14, 16)
GEN_KEYS = ("event", "px", "py", "pz", "e", "pid", "charge", "vx", "vy", "vz")  # + vt, from_pv
PF_FLAGS = ("isElectron", "isMuon", "isPhoton", "isChargedHadron", "isNeutralHadron")
PF_KEYS = ("event", "px", "py", "pz", "e", "charge", "d0val", "d0err", "dzval", "dzerr",
           *PF_FLAGS, "from_pv")
TRACK_RESCALING_MODES = ("none", "calo", "combine")


@dataclass(frozen=True)
class DetectorConfig:
    # --- solenoid (ParticlePropagator) ---
    b_field: float = 3.8            # T
    calo_radius: float = 1.29       # m, inner radius of the calorimeter / end of the field
    tracker_eta_max: float = 2.5
    calo_eta_max: float = 3.0
    # --- tracking efficiency (Delphes CMS card, JetClass-II version) ---
    hadron_track_eff: EffTable = ((1.5, (0.1, 1.0), (0.70, 0.95)),
                                  (2.5, (0.1, 1.0), (0.60, 0.85)))
    electron_track_eff: EffTable = ((1.5, (0.1, 1.0, 100.0), (0.73, 0.95, 0.99)),
                                    (2.5, (0.1, 1.0, 100.0), (0.50, 0.83, 0.90)))
    muon_track_eff: EffTable = ((1.5, (0.1, 1.0), (0.75, 0.99)),
                                (2.5, (0.1, 1.0), (0.70, 0.98)))
    # card: above 1 TeV the muon efficiency falls as exp(0.5 − pT·5e-4) (=1 at 1 TeV)
    muon_eff_falloff_pt: float = 1000.0
    muon_eff_falloff_slope: float = 5.0e-4
    # --- track momentum resolution (MomentumSmearing, log-normal in pT, direction kept) ---
    hadron_pt_res: ResTable = ((0.5, 0.06, 1.3e-3), (1.5, 0.10, 1.7e-3), (2.5, 0.25, 3.1e-3))
    electron_pt_res: ResTable = ((0.5, 0.03, 1.3e-3), (1.5, 0.05, 1.7e-3), (2.5, 0.15, 3.1e-3))
    muon_pt_res: ResTable = ((0.5, 0.01, 1.0e-4), (1.5, 0.015, 1.5e-4), (2.5, 0.025, 3.5e-4))
    # --- impact parameters (TrackSmearing): σ table by (|η|, pT), from shared/reference ---
    ip_table: str = "delphes_cms_ip_resolution.csv"
    # --- calorimeter granularity ---
    ecal_deta: float = 0.0174
    ecal_dphi_deg: float = 1.0
    hcal_deta: float = 0.087
    hcal_dphi_deg: float = 5.0
    # --- ECAL fraction of the particle energy (HCAL gets 1 − f for hadrons) ---
    em_pids: tuple[int, ...] = (11, 22, 111)          # e, γ, π0 → ECAL only
    split_pids: tuple[int, ...] = (310, 3122)         # K0S, Λ (if left stable)
    split_ecal_fraction: float = 0.3                  # … 0.3 ECAL / 0.7 HCAL
    # --- ECAL resolution: S = sqrt((c·E)² + s²·E + n²); |η|≤1.5: (1+k·η²)·S;
    #     1.5<|η|≤2.5: (p0 + p1·(|η|−p2)²)·S; above: sqrt((cf·E)² + sf²·E) ---
    ecal_constant: float = 0.008
    ecal_stochastic: float = 0.11
    ecal_noise: float = 0.40
    ecal_barrel_eta: float = 1.5
    ecal_barrel_eta_coef: float = 0.64
    ecal_endcap_eta: float = 2.5
    ecal_endcap_shape: tuple[float, float, float] = (2.16, 5.6, 2.0)
    ecal_forward_constant: float = 0.107
    ecal_forward_stochastic: float = 2.08
    # --- HCAL resolution σ = sqrt((c·E)² + s²·E) ---
    hcal_constant: float = 0.05
    hcal_stochastic: float = 1.5
    # --- cell thresholds: E > E_min and E > significance·σ(E) (card EnergySignificanceMin) ---
    ecal_e_min: float = 0.5
    hcal_e_min: float = 1.0
    ecal_significance_min: float = 2.0
    hcal_significance_min: float = 1.0
    # --- particle flow: what happens to tracks in a cell without a significant neutral excess.
    # "combine" (default): stock Delphes inverse-variance track+calorimeter combination — the
    # card's hadron track resolution grows like 1.3e-3·pT (130 % at 1 TeV), so without it the
    # log-normal tail gives multi-TeV "tracks"; the HCAL (5 % constant term) takes over there.
    # "none": tracks kept exactly as measured. "calo": track energy replaced by the cell energy
    # (what the JetClass-II cards do, because their TrackSmearing zeroes TrackResolution). ---
    track_rescaling: str = "combine"

    def __post_init__(self) -> None:
        pos = ("b_field", "calo_radius", "tracker_eta_max", "calo_eta_max", "ecal_deta",
               "ecal_dphi_deg", "hcal_deta", "hcal_dphi_deg")
        for name in pos:
            if not getattr(self, name) > 0:
                raise ConfigError(f"DetectorConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("ecal_dphi_deg", "hcal_dphi_deg"):
            n = 360.0 / getattr(self, name)
            if abs(n - round(n)) > 1e-9:
                raise ConfigError(f"DetectorConfig.{name} must divide 360 degrees")
        for name in ("ecal_e_min", "hcal_e_min", "ecal_significance_min",
                     "hcal_significance_min"):
            if getattr(self, name) < 0:
                raise ConfigError(f"DetectorConfig.{name} must be >= 0")
        if not 0.0 <= self.split_ecal_fraction <= 1.0:
            raise ConfigError("DetectorConfig.split_ecal_fraction must be in [0, 1]")
        if self.track_rescaling not in TRACK_RESCALING_MODES:
            raise ConfigError(f"DetectorConfig.track_rescaling must be one of "
                              f"{TRACK_RESCALING_MODES}, got {self.track_rescaling!r}")
        for name in ("hadron_track_eff", "electron_track_eff", "muon_track_eff"):
            table = getattr(self, name)
            _check_edges(name, [r[0] for r in table])
            for _, edges, effs in table:
                _check_edges(name, list(edges))
                if len(effs) != len(edges) or not all(0.0 <= x <= 1.0 for x in effs):
                    raise ConfigError(f"DetectorConfig.{name}: need one efficiency in [0, 1] "
                                      f"per pT bin above each edge")
        for name in ("hadron_pt_res", "electron_pt_res", "muon_pt_res"):
            table = getattr(self, name)
            _check_edges(name, [r[0] for r in table])
            if any(a < 0 or b < 0 for _, a, b in table):
                raise ConfigError(f"DetectorConfig.{name}: resolution terms must be >= 0")


def _check_edges(name: str, edges: list[float]) -> None:
    if not edges or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ConfigError(f"DetectorConfig.{name}: edges must be non-empty and increasing")


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


@lru_cache(maxsize=4)
def _load_ip_table(name: str) -> dict[str, tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]]:
    """{quantity: (|η| upper edges, [(pT upper edges, σ) per η region])} from the CSV."""
    rows: dict[str, dict[float, list[tuple[float, float]]]] = {}
    with open(reference_file(name), newline="") as f:
        for r in csv.DictReader(f):
            q = rows.setdefault(r["quantity"].upper(), {})
            q.setdefault(float(r["abseta_hi"]), []).append((float(r["pt_hi"]),
                                                             float(r["sigma_mm"])))
    out = {}
    for q, regions in rows.items():
        uppers = np.array(sorted(regions))
        bins = []
        for hi in uppers:
            pts, sig = np.array(sorted(regions[hi])).T
            bins.append((pts, sig))
        out[q] = (uppers, bins)
    if not {"D0", "DZ"} <= set(out):
        raise DataError(f"{name}: expected D0 and DZ rows")
    return out


def ip_resolution(abseta: np.ndarray, pt: np.ndarray, table: str = DetectorConfig.ip_table
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(σ(d0), σ(dz)) in mm by (|η|, pT) bin; pT below the first bin uses the first bin, above
    the last the last, |η| above the last edge the last region."""
    out = []
    for quantity in ("D0", "DZ"):
        uppers, bins = _load_ip_table(table)[quantity]
        reg = np.minimum(_region(abseta, uppers), len(uppers) - 1)
        sigma = np.empty(len(pt))
        for i, (pt_hi, sig) in enumerate(bins):     # one pass per η region
            m = reg == i
            sigma[m] = sig[np.minimum(np.searchsorted(pt_hi, pt[m]), len(sig) - 1)]
        out.append(sigma)
    return out[0], out[1]


def ecal_sigma(energy: np.ndarray, eta: np.ndarray, c: DetectorConfig = DetectorConfig()
               ) -> np.ndarray:
    a = np.abs(eta)
    s = np.sqrt((c.ecal_constant * energy) ** 2 + c.ecal_stochastic ** 2 * energy
                + c.ecal_noise ** 2)
    p0, p1, p2 = c.ecal_endcap_shape
    fwd = np.sqrt((c.ecal_forward_constant * energy) ** 2
                  + c.ecal_forward_stochastic ** 2 * energy)
    return np.where(a <= c.ecal_barrel_eta, (1 + c.ecal_barrel_eta_coef * eta ** 2) * s,
                    np.where(a <= c.ecal_endcap_eta, (p0 + p1 * (a - p2) ** 2) * s, fwd))


def hcal_sigma(energy: np.ndarray, eta: np.ndarray, c: DetectorConfig = DetectorConfig()
               ) -> np.ndarray:
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
    e_meas[(e_meas < e_min) | (e_meas < s_min * sig)] = 0.0

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
                      config: DetectorConfig = DetectorConfig()) -> dict[str, np.ndarray]:
    """Particle-flow candidates (keys `PF_KEYS`, sorted by event) for the stable particles of
    a chunk of events. All randomness comes from `rng` (same state → identical output)."""
    c = config
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
    # work only on particles inside the detector: transcendental numpy ops dominate the time
    eta_max = max(c.calo_eta_max, c.tracker_eta_max)
    inside = np.flatnonzero(visible & (np.abs(pz) < pt * np.sinh(eta_max)))
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
    s_d0, s_dz = ip_resolution(abseta[t], pt_t, c.ip_table)
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
