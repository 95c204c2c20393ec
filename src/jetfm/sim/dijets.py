"""Dijet events for resonance searches (`dijet-qcd`, `wprime`): the two leading jets of an
event (after the jet pT and |η| < 2.5 cuts), kept together when |Δη_JJ| < 1.3, with the dijet
invariant mass — the CMS/ATLAS dijet-search selection the CWoLa-hunting benchmarks use.

One row per jet as usual, plus `jet_index` (0 = leading, 1 = subleading), `event_mjj` (GeV)
and `event_weight` (Pythia's event weight: ≠ 1 for the pT̂-biased QCD sample); the two rows of
an event are consecutive and land in the same file (the writer splits files at even rows).
"""
from __future__ import annotations

import numpy as np

DIJET_DETA_MAX = 1.3


def select_dijets(jet_event: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray,
                  energy: np.ndarray, deta_max: float = DIJET_DETA_MAX):
    """Jets sorted by (event, pT descending) → (keep mask, jet_index, event_mjj) per jet."""
    n = len(jet_event)
    keep = np.zeros(n, bool)
    jet_index = np.full(n, -1, np.int32)
    mjj = np.zeros(n, np.float64)
    if n == 0:
        return keep, jet_index, mjj
    first = np.flatnonzero(np.r_[True, jet_event[1:] != jet_event[:-1]])
    lead = first[(first + 1 < n)]
    lead = lead[jet_event[np.minimum(lead + 1, n - 1)] == jet_event[lead]]   # ≥ 2 jets
    central = np.abs(eta[lead] - eta[lead + 1]) < deta_max
    lead = lead[central]
    sub = lead + 1
    px = pt * np.cos(phi)
    py = pt * np.sin(phi)
    pz = pt * np.sinh(eta)
    m2 = ((energy[lead] + energy[sub]) ** 2 - (px[lead] + px[sub]) ** 2
          - (py[lead] + py[sub]) ** 2 - (pz[lead] + pz[sub]) ** 2)
    for rows, index in ((lead, 0), (sub, 1)):
        keep[rows] = True
        jet_index[rows] = index
        mjj[rows] = np.sqrt(np.maximum(m2, 0.0))
    return keep, jet_index, mjj
