"""Per-jet truth of the downstream samples (`schema.TRUTH_COLUMNS`), from the same Pythia
event record as the JetClass-II labels (`truth.py`), on top of them:

- `truth_charge` (wplus/wminus): the charge of the W whose two decay quarks are both inside
  the jet (the Res2P rule that labelled it), from the sign of its PDG id.
- `truth_mass_ratio` (xww): m_W / m_X of the chunk (one grid point per chunk).
- `truth_parton_pid` (quark/gluon): the hard outgoing parton (status ±23, a quark or gluon) of
  the event within ΔR < R of the jet axis. Jets with none (e.g. an initial-state-radiation
  jet) or with two (flavour ambiguous) are dropped, and so are quark jets from a c or b
  quark (the sample is light quarks: u, d, s); the reasons are counted.
"""
from __future__ import annotations

import numpy as np

from .truth import EventTruth, _delta_r, _kinematics

HARD_STATUS = 23
LIGHT_QUARKS = (1, 2, 3)
DROP_REASONS = ("no hard parton in the jet", "two hard partons in the jet",
                "heavy-flavour quark")


def hard_partons(record: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Kinematics (pt, eta, phi, mass, pid) of the outgoing quarks and gluons of the hard
    process, at their creation (status ±23)."""
    aid = np.abs(record["id"])
    sel = (np.abs(record["status"]) == HARD_STATUS) & (((aid >= 1) & (aid <= 6)) | (aid == 21))
    return _kinematics(record, np.flatnonzero(sel))


def parton_truth(record, sample: str, jet_eta, jet_phi, r: float):
    """(truth_parton_pid, keep, reason index or −1) per jet of one event."""
    hard = hard_partons(record)
    inside = _delta_r(jet_eta, jet_phi, hard["eta"], hard["phi"]) < r
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


def w_charge(truth: EventTruth, jet_eta, jet_phi, r: float) -> np.ndarray:
    """+1 / −1 for the W with both decay quarks inside each jet, 0 for none."""
    inside = _delta_r(jet_eta, jet_phi, truth.prod_eta, truth.prod_phi) < r
    charge = np.zeros(len(inside), np.int32)
    for s in range(truth.n_systems):
        in_sys = truth.prod_system == s
        both = inside[:, in_sys].all(axis=1) if in_sys.any() else np.zeros(len(inside), bool)
        sign = int(np.sign(truth.prod_parent_id[in_sys][0])) if in_sys.any() else 0
        charge = np.where((charge == 0) & both, sign, charge)
    return charge


def jet_truth(sample: str, params: dict, record, truth: EventTruth, jet_eta, jet_phi,
              r: float) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(truth columns, keep mask, drop reason per jet (−1: kept)) for one event's jets."""
    n = len(jet_eta)
    keep, reason = np.ones(n, bool), np.full(n, -1)
    if sample in ("wplus", "wminus"):
        cols = {"truth_charge": w_charge(truth, jet_eta, jet_phi, r)}
    elif sample == "xww":
        cols = {"truth_mass_ratio": np.full(n, params["mass_ratio"], np.float32)}
    elif sample in ("quark", "gluon"):
        pid, keep, reason = parton_truth(record, sample, jet_eta, jet_phi, r)
        cols = {"truth_parton_pid": pid}
    else:
        cols = {}
    return cols, keep, reason
