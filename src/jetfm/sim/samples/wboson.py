"""`wplus`, `wminus`: W± + parton (`WeakBosonAndParton:qqbar2Wg, qg2Wq`), W → qq̄′ only, one
charge: `24:onPosIfAny` (W⁺) or `24:onNegIfAny` (W⁻) opens the quark channels of that charge
alone, so Pythia produces only it. Physical W mass. Labelled by the Res2P rules.

Truth `truth_charge`: the charge of the W whose two decay quarks are both inside the jet (the
Res2P rule that labelled it), from the sign of its PDG id.
"""
from __future__ import annotations

import numpy as np

from ..processes import ChunkSpec, draw_pthat
from ..truth import EventTruth, delta_r
from .record import EventJets, JetTruth, Sample


def w_chunk(rng: np.random.Generator, charge: int, sample: str) -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng)
    open_one_charge = "onPosIfAny" if charge > 0 else "onNegIfAny"
    lines = ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
             "24:onMode = off", f"24:{open_one_charge} = 1 2 3 4 5"]
    return ChunkSpec(sample, "res2p", tuple(lines + pthat_lines),
                     {"pthat_min": pthat, "w_charge": charge}, x_ids=(24,))


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


def charge_truth(jets: EventJets) -> JetTruth:
    return JetTruth.keep_all(len(jets.eta),
                             truth_charge=w_charge(jets.truth, jets.eta, jets.phi, jets.r))


SAMPLES = (
    Sample("wplus", "W+ -> qq' jets", "res2p", lambda rng, o: w_chunk(rng, +1, "wplus"),
           truth=charge_truth, truth_columns=("truth_charge",)),
    Sample("wminus", "W- -> qq' jets", "res2p", lambda rng, o: w_chunk(rng, -1, "wminus"),
           truth=charge_truth, truth_columns=("truth_charge",)),
)
