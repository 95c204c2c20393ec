"""`xbs`: X (`h0`, 25, produced like Res2P's neutral X, same pT grid) at m_X = 200 GeV → b s̄
or s b̄ (equal branching ratios), the Sophon paper's "unseen class": JetClass-II has no X → bs
label, so the jets get `jet_label = −1`. A jet is kept when both quarks are within ΔR < R (the
Res2P containment rule), and `aux_genpart` carries the X and both quarks as in Res2P. No
truth column.
"""
from __future__ import annotations

import numpy as np

from ..processes import (NEUTRAL_X_PRODUCTION, ChunkSpec, decay_table, draw_pthat, mass_lines,
                         resonance_width)
from ..truth import EventTruth, delta_r
from .record import EventJets, JetTruth, Sample

XBS_MASS = 200.0
BS_CHANNELS = (((5, -3), 0.5), ((3, -5), 0.5))
NOT_CONTAINED = "decay products not both in the jet"


def xbs_chunk(rng: np.random.Generator) -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng)
    w = resonance_width(XBS_MASS)
    lines = [*NEUTRAL_X_PRODUCTION, *mass_lines(25, XBS_MASS, w), *decay_table(25, BS_CHANNELS, w)]
    return ChunkSpec("xbs", "res2p", tuple(lines + pthat_lines),
                     {"m_X": XBS_MASS, "pthat_min": pthat}, x_ids=(25,))


def contained(truth: EventTruth, jet_eta, jet_phi, r: float) -> np.ndarray:
    """Per jet: all direct decay products of one resonance (a system) lie within ΔR < r."""
    inside = delta_r(jet_eta, jet_phi, truth.prod_eta, truth.prod_phi) < r
    out = np.zeros(len(inside), bool)
    for s in range(truth.n_systems):
        out |= inside[:, truth.prod_system == s].all(axis=1)
    return out


def containment_truth(jets: EventJets) -> JetTruth:
    keep = contained(jets.truth, jets.eta, jets.phi, jets.r)
    return JetTruth({}, keep, np.where(keep, -1, 0))


SAMPLES = (
    Sample("xbs", "X(200) -> b sbar jets, both quarks in the jet; jet_label = -1", "res2p",
           lambda rng, o: xbs_chunk(rng), truth=containment_truth,
           drop_reasons=(NOT_CONTAINED,), labelled=False),
)
