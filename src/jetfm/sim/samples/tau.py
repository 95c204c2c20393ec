"""`tau`: W + parton with W → τν and τ → hadrons only (`15:offIfAny = 11 13`; Pythia's τ
decays keep their polarisation and branching fractions among the open channels). Only the jet
of the visible τ decay products is kept; it has no JetClass-II label (`jet_label = −1`).

Truth `truth_tau_decay_mode`: 5 · (charged hadrons − 1) + min(π⁰s, 2) among the τ's
descendants, as CMS numbers τ_h decay modes (0: h±, 1: h± π⁰, 2: h± ≥2π⁰, 10: 3h±,
11: 3h± π⁰, ...). The jet kept is the one within ΔR < R of the visible τ decay products'
momentum sum; the others (the recoiling parton's) are dropped.
"""
from __future__ import annotations

import numpy as np

from ..processes import UNLABELLED_FAMILY, ChunkSpec, draw_pthat
from ..pythia_run import charges
from ..truth import bottom_copy, daughters, delta_r
from .record import EventJets, JetTruth, Sample

NOT_TAU_JET = "not the tau_h jet"
_NEUTRINOS = (12, 14, 16)
_LEPTONS = (11, 13)


def tau_chunk(rng: np.random.Generator) -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng)
    lines = ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
             "24:onMode = off", "24:onIfAny = 15", "15:offIfAny = 11 13"]
    return ChunkSpec("tau", UNLABELLED_FAMILY, tuple(lines + pthat_lines), {"pthat_min": pthat})


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
    mode, reason = np.full(n, -1, np.int32), np.full(n, 0)
    for n_charged, n_pi0, p4 in tau_decays(record):
        pt = np.hypot(p4[0], p4[1])
        eta, phi = np.arcsinh(p4[2] / max(pt, 1e-9)), np.arctan2(p4[1], p4[0])
        dr = delta_r(jet_eta, jet_phi, [eta], [phi])[:, 0]
        j = int(np.argmin(dr)) if n else -1
        if n and dr[j] < r and n_charged > 0:
            mode[j] = 5 * (n_charged - 1) + min(n_pi0, 2)
            reason[j] = -1
    return mode, reason < 0, reason


def decay_mode_truth(jets: EventJets) -> JetTruth:
    mode, keep, reason = tau_truth(jets.record, jets.eta, jets.phi, jets.r)
    return JetTruth({"truth_tau_decay_mode": mode}, keep, reason)


SAMPLES = (
    Sample("tau", "hadronic tau jets (W -> tau nu, tau -> hadrons); jet_label = -1",
           UNLABELLED_FAMILY, lambda rng, o: tau_chunk(rng), truth=decay_mode_truth,
           truth_columns=("truth_tau_decay_mode",), drop_reasons=(NOT_TAU_JET,)),
)
