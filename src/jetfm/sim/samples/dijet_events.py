"""Dijet events for resonance searches (`dijet: True`: the two leading jets of an event, kept
together, with `jet_index`, `event_mjj`, `event_weight`; `sim/dijets.py`):

- `dijet-qcd`: `HardQCD:all` events with pT̂ > 500 GeV, biased towards high pT̂
  (`PhaseSpace:bias2Selection`, weight ∝ pT̂⁴ at generation, compensated by the stored
  `event_weight`), so the 2–4.5 TeV m_JJ range of the searches is populated; labelled by the
  QCD rules. Option `--pthat-min GEV`: unbiased above it instead, unit weights.
- `wprime`: W′ (3 TeV, width 30 GeV, `NewGaugeBoson:ffbar2Wprime`, both charges) → W φ with
  φ = `H2` (35, 400 GeV) → W⁺W⁻, every W → qq̄′; unlabelled (−1), the anomaly-detection signal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from ..processes import UNLABELLED_FAMILY, W_TO_QUARKS, ChunkSpec
from .record import Sample, SampleOptions

DIJET_COLUMNS = ("jet_index", "event_mjj", "event_weight")    # filled by chunk.py
DIJET_PTHAT_MIN = 500.0
WPRIME_MASS, WPRIME_WIDTH, PHI_MASS = 3000.0, 30.0, 400.0


def dijet_qcd_chunk(rng: np.random.Generator, pthat_min: float | None = None) -> ChunkSpec:
    """Biased (pT̂⁴, weighted) by default; with `pthat_min` unbiased above it, unit weights:
    an unweighted, data-like spectrum for the resonance searches (events kept ∝ σ)."""
    if pthat_min is not None:
        lines = ("HardQCD:all = on", f"PhaseSpace:pTHatMin = {pthat_min:g}")
        return ChunkSpec("dijet-qcd", "qcd", lines, {"pthat_min": pthat_min, "unweighted": True})
    lines = ("HardQCD:all = on", f"PhaseSpace:pTHatMin = {DIJET_PTHAT_MIN:g}",
             "PhaseSpace:bias2Selection = on", "PhaseSpace:bias2SelectionPow = 4",
             f"PhaseSpace:bias2SelectionRef = {DIJET_PTHAT_MIN:g}")
    return ChunkSpec("dijet-qcd", "qcd", lines, {"pthat_min": DIJET_PTHAT_MIN})


def wprime_chunk(rng: np.random.Generator) -> ChunkSpec:
    # the W′⁻ channel is the charge conjugate of 34's W⁺ φ: Pythia adds it itself
    lines = ("Higgs:useBSM = on", "NewGaugeBoson:ffbar2Wprime = on",
             f"34:m0 = {WPRIME_MASS:g}", f"34:mWidth = {WPRIME_WIDTH:g}", "34:onMode = off",
             "34:addChannel = 1 1.0 100 24 35", f"35:m0 = {PHI_MASS:g}", "35:onMode = off",
             "35:addChannel = 1 1.0 100 24 -24", *W_TO_QUARKS)
    return ChunkSpec("wprime", UNLABELLED_FAMILY, lines,
                     {"m_Wprime": WPRIME_MASS, "m_phi": PHI_MASS})


@dataclass(frozen=True)
class DijetQCDOptions(SampleOptions):
    pthat_min: float | None = None      # GeV: unbiased above it, unit weights (None: biased)

    def validate(self) -> None:
        if self.pthat_min is not None and not (math.isfinite(self.pthat_min)
                                               and self.pthat_min > 0):
            raise ConfigError(f"--pthat-min {self.pthat_min}: must be a finite number of GeV > 0")


SAMPLES = (
    Sample("dijet-qcd", "QCD dijet events (pTHat-biased, weighted) for resonance searches",
           "qcd", lambda rng, o: dijet_qcd_chunk(rng, o.pthat_min),
           truth_columns=DIJET_COLUMNS, options=DijetQCDOptions, dijet=True),
    Sample("wprime", "W'(3 TeV) -> W phi(400 GeV) -> WWW dijet events; jet_label = -1",
           UNLABELLED_FAMILY, lambda rng, o: wprime_chunk(rng),
           truth_columns=DIJET_COLUMNS, dijet=True),
)
