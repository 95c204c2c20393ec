"""Pileup mitigation on particle-flow candidates: charged-hadron subtraction + PUPPI neutrals.

Simplified from PUPPI (Bertolini, Harris, Low, Tran, JHEP 10 (2014) 059) as run by Delphes'
RunPUPPI / CMS PuppiProducer in the tracker region:
- CHS: every track (charged candidate) whose particle did not come from the primary vertex is
  removed. Vertex association uses the truth `from_pv` flag, i.e. a perfect z-vertex
  association (Delphes' TrackPileUpSubtractor with a vanishing ZVertexResolution).
- For each neutral i: α_i = log Σ_j (pT_j / ΔR_ij)² over PV tracks j with r_min ≤ ΔR_ij < r0.
  Pairs closer than r_min are skipped (as CMS does below ΔR = 0.01) so that a neutral sitting on
  a track cannot get an unbounded α. A neutral with no PV track nearby has α = −∞ (weight 0).
- The PU reference is the same α computed for the PU tracks (|η| < 2.5) of the same event;
  tracks with no PV neighbour (α = −∞) are left out of it, as CMS leaves out α = 0 entries.
  median and RMS (around the median, floored at 1e-5 like CMS) give
  χ²_i = Θ(α_i − med) (α_i − med)² / RMS², w_i = F_χ²(1 dof)(χ²_i).
- Events with no PU track at all have nothing to learn from and keep all neutrals (w = 1); in an
  event whose PU tracks all lack PV neighbours, med = −∞: neutrals with any PV neighbour keep
  w = 1 and isolated ones get w = 0.
- A neutral's 4-momentum is scaled by w (w < 0.05 counts as 0); it is dropped when
  w·pT < 0.2 GeV + 0.006 GeV × NPV (Delphes RunPUPPI with the JetClass-II card: about 0.5 GeV
  at ⟨μ⟩ = 50). The cone R0 = 0.4 is the card's ConeSizeBin.
Neutrals at 2.5 < |η| < 3 see no tracks and are weighted like the others (mostly removed);
the forward-region PUPPI variant (all particles as neighbours) is not modelled.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from jetfm.errors import ConfigError, DataError

_CHARGED_FLAGS = ("isChargedHadron", "isElectron", "isMuon")
_RMS_FLOOR = 1e-5


def _charged(pf: dict[str, np.ndarray]) -> np.ndarray:
    return np.any([np.asarray(pf[k], bool) for k in _CHARGED_FLAGS], axis=0)


def _eta_phi_pt(pf: dict[str, np.ndarray], idx: np.ndarray):
    px, py, pz = pf["px"][idx], pf["py"][idx], pf["pz"][idx]
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    return eta, np.arctan2(py, px), pt


def _alpha(ev_q, eta_q, phi_q, ev_n, eta_n, phi_n, pt_n, r0: float, r_min: float) -> np.ndarray:
    """α for every query particle from its neighbours (same event, r_min ≤ ΔR < r0).

    Events are separated by shifting η by a large per-event offset, so a single periodic-in-φ
    k-d tree finds all pairs of the whole chunk at once (no loop over events)."""
    out = np.full(len(eta_q), -np.inf)
    fq, fn = np.isfinite(eta_q), np.isfinite(eta_n)
    if not fq.all() or not fn.all():        # pT = 0 candidates have no direction: no α
        out[fq] = _alpha(ev_q[fq], eta_q[fq], phi_q[fq], ev_n[fn], eta_n[fn], phi_n[fn],
                         pt_n[fn], r0, r_min)
        return out
    if len(eta_q) == 0 or len(eta_n) == 0:
        return out
    gap = 4.0 * r0 + 100.0                  # wider than any η range plus the search radius
    lo = min(eta_q.min(), eta_n.min())

    def pts(ev, eta, phi):
        phi = np.mod(phi, 2 * np.pi)
        phi[phi >= 2 * np.pi] = 0.0         # np.mod can round up to exactly 2π
        return np.column_stack([(eta - lo) + ev * gap + r0, phi])

    box = [(max(ev_q.max(), ev_n.max()) + 2) * gap, 2 * np.pi]
    tq = cKDTree(pts(ev_q, eta_q, phi_q), boxsize=box)
    tn = cKDTree(pts(ev_n, eta_n, phi_n), boxsize=box)
    pairs = tq.sparse_distance_matrix(tn, r0, output_type="ndarray")
    i, j, dr = pairs["i"], pairs["j"], pairs["v"]
    ok = (dr >= r_min) & (dr < r0)
    total = np.bincount(i[ok], (pt_n[j[ok]] / dr[ok]) ** 2, len(eta_q))
    has = total > 0
    out[has] = np.log(total[has])
    return out


def _median_rms(ev: np.ndarray, alpha: np.ndarray, n_events: int):
    """Per-event median and RMS-around-median of the finite α values (vectorised)."""
    fin = np.isfinite(alpha)
    ev, alpha = ev[fin], alpha[fin]
    order = np.lexsort((alpha, ev))
    ev, alpha = ev[order], alpha[order]
    count = np.bincount(ev, minlength=n_events)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    med = np.full(n_events, -np.inf)
    has = count > 0
    lo_i = start[has] + (count[has] - 1) // 2
    hi_i = start[has] + count[has] // 2
    med[has] = 0.5 * (alpha[lo_i] + alpha[hi_i])
    rms = np.ones(n_events)
    dev2 = np.bincount(ev, (alpha - med[ev]) ** 2, n_events)
    rms[has] = np.maximum(np.sqrt(dev2[has] / count[has]), _RMS_FLOOR)
    return med, rms


def puppi_weights(pf: dict[str, np.ndarray], *, r0: float = 0.3, r_min: float = 0.01,
                  ref_eta_max: float = 2.5) -> np.ndarray:
    """PUPPI weight per candidate: 1 for tracks, w ∈ [0, 1] for neutrals (see module doc)."""
    if not r0 > 0 or not 0 <= r_min < r0 or not ref_eta_max > 0:
        raise ConfigError(f"PUPPI needs r0 > 0, 0 <= r_min < r0, ref_eta_max > 0 "
                          f"(got r0={r0}, r_min={r_min}, ref_eta_max={ref_eta_max})")
    missing = [k for k in ("event", "px", "py", "pz", "from_pv", *_CHARGED_FLAGS) if k not in pf]
    if missing:
        raise DataError(f"PUPPI: PF candidates lack {missing}")
    n = len(pf["px"])
    w = np.ones(n)
    if n == 0:
        return w
    charged = _charged(pf)
    pv = np.asarray(pf["from_pv"], bool)
    _, ev = np.unique(np.asarray(pf["event"]), return_inverse=True)   # compact event index
    n_events = int(ev.max()) + 1

    i_neu = np.flatnonzero(~charged)
    i_pv = np.flatnonzero(charged & pv)
    i_pu = np.flatnonzero(charged & ~pv)
    eta_n, phi_n, _ = _eta_phi_pt(pf, i_neu)
    eta_v, phi_v, pt_v = _eta_phi_pt(pf, i_pv)
    eta_u, phi_u, _ = _eta_phi_pt(pf, i_pu)
    ref = np.abs(eta_u) < ref_eta_max
    i_pu, eta_u, phi_u = i_pu[ref], eta_u[ref], phi_u[ref]

    # one neighbour search for neutrals and PU tracks together
    q_idx = np.concatenate([i_neu, i_pu])
    alpha = _alpha(ev[q_idx], np.concatenate([eta_n, eta_u]), np.concatenate([phi_n, phi_u]),
                   ev[i_pv], eta_v, phi_v, pt_v, r0, r_min)
    a_neu, a_pu = alpha[:len(i_neu)], alpha[len(i_neu):]
    med, rms = _median_rms(ev[i_pu], a_pu, n_events)

    e_n = ev[i_neu]
    med_n, rms_n = med[e_n], rms[e_n]
    above = a_neu > med_n                   # α = −∞ (no PV neighbour) is never above
    chi2_val = np.zeros(len(i_neu))
    chi2_val[above] = ((a_neu[above] - med_n[above]) / rms_n[above]) ** 2   # ∞ if med = −∞
    w_neu = chi2.cdf(chi2_val, df=1)
    has_pu = np.bincount(ev[charged & ~pv], minlength=n_events) > 0
    w_neu[~has_pu[e_n]] = 1.0
    w[i_neu] = w_neu
    return w


def apply_chs_puppi(pf: dict[str, np.ndarray], *, r0: float = 0.4, r_min: float = 0.01,
                    ref_eta_max: float = 2.5, min_weight: float = 0.05,
                    neutral_min_pt: float = 0.2, neutral_pt_slope: float = 0.006,
                    npv: np.ndarray | float = 1.0) -> dict[str, np.ndarray]:
    """CHS (drop PU tracks) + PUPPI-weighted neutrals. Same keys as `pf`, rows filtered,
    neutral 4-momenta scaled by their weight, order (sorted by event) preserved.

    As Delphes' RunPUPPI (JetClass-II card: MinPuppiWeight 0.05, NeutralMinE 0.2,
    NeutralPtSlope 0.006): a weight below `min_weight` is 0 and a neutral is dropped when
    w·pT < neutral_min_pt + neutral_pt_slope · NPV, NPV = the event's number of vertices
    (`npv`: one value, or one per event index)."""
    if min(neutral_min_pt, neutral_pt_slope) < 0 or not 0 <= min_weight <= 1:
        raise ConfigError("PUPPI needs neutral_min_pt >= 0, neutral_pt_slope >= 0 and "
                          f"min_weight in [0, 1] (got {neutral_min_pt}, {neutral_pt_slope}, "
                          f"{min_weight})")
    w = puppi_weights(pf, r0=r0, r_min=r_min, ref_eta_max=ref_eta_max)
    w[w < min_weight] = 0.0
    charged = _charged(pf)
    pv = np.asarray(pf["from_pv"], bool)
    npv_row = np.asarray(npv, np.float64)
    if npv_row.ndim:
        npv_row = npv_row[np.asarray(pf["event"], np.int64)]
    pt_w = np.hypot(pf["px"], pf["py"]) * w
    keep = np.where(charged, pv, (pt_w > 0) & (pt_w >= neutral_min_pt + neutral_pt_slope * npv_row))
    out = {k: np.asarray(v)[keep] for k, v in pf.items()}
    wk = w[keep]
    for k in ("px", "py", "pz", "e"):
        out[k] = out[k] * wk
    return out
