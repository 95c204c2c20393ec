"""`quark`, `gluon`: Z(→ νν̄) + one parton, `qg → Z q` or `qq̄ → Z g` (the standard q/g
recipe: one hard parton per event, the Z invisible). Labelled by the QCD rules.

Truth `truth_parton_pid`: the hard outgoing parton (status ±23, a quark or gluon) of the event
within ΔR < R of the jet axis. Jets with none (e.g. an initial-state-radiation jet) or with two
(flavour ambiguous) are dropped, and so are quark jets from a c or b quark (the sample is light
quarks: u, d, s); the reasons are counted.
"""
from __future__ import annotations

import numpy as np

from ..processes import ChunkSpec, draw_pthat
from ..truth import HARD_STATUS, delta_r, kinematics
from .record import EventJets, JetTruth, Sample

Z_TO_NEUTRINOS = ("WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 12 14 16")
LIGHT_QUARKS = (1, 2, 3)
PARTON_DROP_REASONS = ("no hard parton in the jet", "two hard partons in the jet",
                       "heavy-flavour quark")


def zjet_chunk(rng: np.random.Generator, parton: str) -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng)
    process = {"quark": "WeakBosonAndParton:qg2gmZq = on",
               "gluon": "WeakBosonAndParton:qqbar2gmZg = on"}[parton]
    return ChunkSpec(parton, "qcd", (process, *Z_TO_NEUTRINOS, *pthat_lines),
                     {"pthat_min": pthat})


def hard_partons(record: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Kinematics (pt, eta, phi, mass, pid) of the outgoing quarks and gluons of the hard
    process, at their creation (status ±23)."""
    aid = np.abs(record["id"])
    sel = (np.abs(record["status"]) == HARD_STATUS) & (((aid >= 1) & (aid <= 6)) | (aid == 21))
    return kinematics(record, np.flatnonzero(sel))


def parton_truth(record, jet_eta, jet_phi, r: float, light_quarks_only: bool = False):
    """(truth_parton_pid, keep, reason: index into PARTON_DROP_REASONS or −1) per jet of one
    event; `light_quarks_only` drops the jets of c and b quarks too."""
    hard = hard_partons(record)
    inside = delta_r(jet_eta, jet_phi, hard["eta"], hard["phi"]) < r
    n_in = inside.sum(axis=1)
    pid = np.zeros(len(n_in), np.int32)
    if len(hard["pid"]):
        pid = np.where(n_in == 1, hard["pid"][np.argmax(inside, axis=1)], 0).astype(np.int32)
    reason = np.full(len(n_in), -1)
    reason[n_in == 0] = 0
    reason[n_in >= 2] = 1
    if light_quarks_only:
        reason[(n_in == 1) & ~np.isin(np.abs(pid), LIGHT_QUARKS)] = 2
    return pid, reason < 0, reason


def quark_truth(jets: EventJets) -> JetTruth:
    pid, keep, reason = parton_truth(jets.record, jets.eta, jets.phi, jets.r,
                                     light_quarks_only=True)
    return JetTruth({"truth_parton_pid": pid}, keep, reason)


def gluon_truth(jets: EventJets) -> JetTruth:
    # (qq̄ → Z g has only gluons: nothing more to drop than for any parton)
    pid, keep, reason = parton_truth(jets.record, jets.eta, jets.phi, jets.r)
    return JetTruth({"truth_parton_pid": pid}, keep, reason)


SAMPLES = (
    Sample("quark", "light-quark jets (Z(->nunu) + q)", "qcd",
           lambda rng, o: zjet_chunk(rng, "quark"), truth=quark_truth,
           truth_columns=("truth_parton_pid",), drop_reasons=PARTON_DROP_REASONS),
    Sample("gluon", "gluon jets (Z(->nunu) + g)", "qcd",
           lambda rng, o: zjet_chunk(rng, "gluon"), truth=gluon_truth,
           truth_columns=("truth_parton_pid",), drop_reasons=PARTON_DROP_REASONS),
)
