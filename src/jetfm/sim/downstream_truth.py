"""Per-jet truth of the downstream samples (`schema.TRUTH_COLUMNS`), from the same Pythia
event record as the JetClass-II labels (`truth.py`), on top of them:

- `truth_charge` (wplus/wminus): the charge of the W whose two decay quarks are both inside
  the jet (the Res2P rule that labelled it), from the sign of its PDG id.
- `truth_mass_ratio` (xww): m_W / m_X of the chunk (one grid point per chunk).
- `truth_parton_pid` (quark/gluon): the hard outgoing parton (status ±23, a quark or gluon) of
  the event within ΔR < R of the jet axis. Jets with none (e.g. an initial-state-radiation
  jet) or with two (flavour ambiguous) are dropped, and so are quark jets from a c or b
  quark (the sample is light quarks: u, d, s); the reasons are counted.
- `truth_tau_decay_mode` (tau): 5 · (charged hadrons − 1) + min(π⁰s, 2) among the τ's
  descendants, as CMS numbers τ_h decay modes (0: h±, 1: h± π⁰, 2: h± ≥2π⁰, 10: 3h±,
  11: 3h± π⁰, ...). The jet kept is the one within ΔR < R of the visible τ decay products'
  momentum sum; the others (the recoiling parton's) are dropped.
- xbs (no column): a jet is kept when both quarks of the X → bs̄ decay are within ΔR < R
  (the Res2P containment rule; there is no JetClass-II label for it).
- `truth_invisible_fraction` (darkjet): Σ pT of the stable invisible dark states within
  ΔR < R of the jet / (that + jet pT); jets with no dark quark (status ±23, 4900101) within
  ΔR < R are dropped.
"""
from __future__ import annotations

import numpy as np

from .pythia_run import charges
from .truth import EventTruth, bottom_copy, daughters, delta_r, kinematics

HARD_STATUS = 23
LIGHT_QUARKS = (1, 2, 3)
DROP_REASONS = ("no hard parton in the jet", "two hard partons in the jet",
                "heavy-flavour quark", "not the tau_h jet", "no dark quark in the jet",
                "decay products not both in the jet")
DARK_QUARK = 4900101
HV_RANGE = (4_900_000, 5_000_000)
_NEUTRINOS = (12, 14, 16)
_LEPTONS = (11, 13)


def hard_partons(record: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Kinematics (pt, eta, phi, mass, pid) of the outgoing quarks and gluons of the hard
    process, at their creation (status ±23)."""
    aid = np.abs(record["id"])
    sel = (np.abs(record["status"]) == HARD_STATUS) & (((aid >= 1) & (aid <= 6)) | (aid == 21))
    return kinematics(record, np.flatnonzero(sel))


def parton_truth(record, sample: str, jet_eta, jet_phi, r: float):
    """(truth_parton_pid, keep, reason index or −1) per jet of one event."""
    hard = hard_partons(record)
    inside = delta_r(jet_eta, jet_phi, hard["eta"], hard["phi"]) < r
    n_in = inside.sum(axis=1)
    pid = np.zeros(len(n_in), np.int32)
    if len(hard["pid"]):
        pid = np.where(n_in == 1, hard["pid"][np.argmax(inside, axis=1)], 0).astype(np.int32)
    reason = np.full(len(n_in), -1)
    reason[n_in == 0] = 0
    reason[n_in >= 2] = 1
    if sample == "quark":      # (qq̄ → Z g has only gluons: nothing more to drop for `gluon`)
        reason[(n_in == 1) & ~np.isin(np.abs(pid), LIGHT_QUARKS)] = 2
    return pid, reason < 0, reason


def contained(truth: EventTruth, jet_eta, jet_phi, r: float) -> np.ndarray:
    """Per jet: all direct decay products of one resonance (a system) lie within ΔR < r."""
    inside = delta_r(jet_eta, jet_phi, truth.prod_eta, truth.prod_phi) < r
    out = np.zeros(len(inside), bool)
    for s in range(truth.n_systems):
        out |= inside[:, truth.prod_system == s].all(axis=1)
    return out


def w_charge(truth: EventTruth, jet_eta, jet_phi, r: float) -> np.ndarray:
    """+1 / −1 for the W with both decay quarks inside each jet, 0 for none."""
    inside = delta_r(jet_eta, jet_phi, truth.prod_eta, truth.prod_phi) < r
    charge = np.zeros(len(inside), np.int32)
    for s in range(truth.n_systems):
        in_sys = truth.prod_system == s
        both = inside[:, in_sys].all(axis=1) if in_sys.any() else np.zeros(len(inside), bool)
        sign = int(np.sign(truth.prod_parent_id[in_sys][0])) if in_sys.any() else 0
        charge = np.where((charge == 0) & both, sign, charge)
    return charge


def tau_decays(record) -> list[tuple[int, int, np.ndarray]]:
    """(charged hadrons, π⁰s, visible 4-momentum) of each τ's decay (bottom copies)."""
    aid = np.abs(record["id"])
    out = []
    for tau in sorted({bottom_copy(record, int(i)) for i in np.flatnonzero(aid == 15)}):
        stack, final, n_pi0 = daughters(record, tau), [], 0
        while stack:
            j = stack.pop()
            n_pi0 += int(aid[j] == 111)
            if record["status"][j] > 0:
                final.append(j)
            else:
                stack += daughters(record, j)
        if not final:            # an undecayed τ (no hadronisation): nothing to match
            continue
        final = np.asarray(final)
        visible = final[~np.isin(aid[final], _NEUTRINOS)]
        hadrons = visible[~np.isin(aid[visible], _LEPTONS)]
        n_charged = int((charges(record["id"][hadrons]) != 0).sum())
        p4 = np.array([record[k][visible].sum() for k in ("px", "py", "pz", "e")])
        out.append((n_charged, n_pi0, p4))
    return out


def tau_truth(record, jet_eta, jet_phi, r: float):
    """(truth_tau_decay_mode, keep, reason) per jet: the jet of the visible τ_h is kept."""
    n = len(jet_eta)
    mode, reason = np.full(n, -1, np.int32), np.full(n, 3)
    for n_charged, n_pi0, p4 in tau_decays(record):
        pt = np.hypot(p4[0], p4[1])
        eta, phi = np.arcsinh(p4[2] / max(pt, 1e-9)), np.arctan2(p4[1], p4[0])
        dr = delta_r(jet_eta, jet_phi, [eta], [phi])[:, 0]
        j = int(np.argmin(dr)) if n else -1
        if n and dr[j] < r and n_charged > 0:
            mode[j] = 5 * (n_charged - 1) + min(n_pi0, 2)
            reason[j] = -1
    return mode, reason < 0, reason


def dark_truth(record, jet_eta, jet_phi, jet_pt, r: float):
    """(truth_invisible_fraction, keep, reason) per jet of one Hidden Valley event."""
    aid = np.abs(record["id"])
    quarks = kinematics(record, np.flatnonzero((aid == DARK_QUARK)
                                                & (np.abs(record["status"]) == HARD_STATUS)))
    has_quark = (delta_r(jet_eta, jet_phi, quarks["eta"], quarks["phi"]) < r).any(axis=1)
    inv = kinematics(record, np.flatnonzero((record["status"] > 0) & (aid >= HV_RANGE[0])
                                             & (aid < HV_RANGE[1])))
    inside = delta_r(jet_eta, jet_phi, inv["eta"], inv["phi"]) < r
    inv_pt = (inside * inv["pt"][None, :]).sum(axis=1) if len(inv["pt"]) else np.zeros(len(jet_pt))
    fraction = (inv_pt / np.maximum(inv_pt + jet_pt, 1e-9)).astype(np.float32)
    return fraction, has_quark, np.where(has_quark, -1, 4)


def jet_truth(sample: str, params: dict, record, truth: EventTruth, jet_eta, jet_phi,
              jet_pt, r: float) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(truth columns, keep mask, drop reason per jet (−1: kept)) for one event's jets."""
    n = len(jet_eta)
    keep, reason = np.ones(n, bool), np.full(n, -1)
    if sample in ("wplus", "wminus"):
        cols = {"truth_charge": w_charge(truth, jet_eta, jet_phi, r)}
    elif sample == "xww":
        cols = {"truth_mass_ratio": np.full(n, params["mass_ratio"], np.float32)}
    elif sample == "xbs":
        cols, keep = {}, contained(truth, jet_eta, jet_phi, r)
        reason = np.where(keep, -1, DROP_REASONS.index("decay products not both in the jet"))
    elif sample == "tau":
        mode, keep, reason = tau_truth(record, jet_eta, jet_phi, r)
        cols = {"truth_tau_decay_mode": mode}
    elif sample == "darkjet":
        fraction, keep, reason = dark_truth(record, jet_eta, jet_phi, jet_pt, r)
        cols = {"truth_invisible_fraction": fraction}
    elif sample in ("quark", "gluon"):
        pid, keep, reason = parton_truth(record, sample, jet_eta, jet_phi, r)
        cols = {"truth_parton_pid": pid}
    else:
        cols = {}
    return cols, keep, reason
