"""`xww`: X (`h0`, 25, produced like Res2P's neutral X) → W⁺W⁻, W → qq̄′, with m_X = m_W / r
for r ∈ {0.2, 0.4, 0.6432, 0.8} (402, 201, 125, 100.5 GeV). Below 2 m_W one W is off shell:
Pythia draws both W masses from their Breit–Wigner within the phase space, as for the SM
h0 → W W*. Labelled by the Res34P rules with Y = W (≥ 3 quarks in the jet).

Truth `truth_mass_ratio`: m_W / m_X of the chunk (one grid point per chunk).
Option `--mass-ratios`: a subset of the grid points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from ..processes import (NEUTRAL_X_PRODUCTION, W_TO_QUARKS, ChunkSpec, decay_table, draw_pthat,
                         mass_lines, resonance_width)
from .record import EventJets, JetTruth, Sample, SampleOptions

W_MASS = 80.4                                  # GeV: m_X = W_MASS / ratio
MASS_RATIOS = (0.2, 0.4, 0.6432, 0.8)          # m_W / m_X of the X → WW(*) sample


def xww_chunk(rng: np.random.Generator, mass_ratios=MASS_RATIOS, sample: str = "xww") -> ChunkSpec:
    ratio = float(rng.choice(np.asarray(mass_ratios, dtype=float)))
    m_x = W_MASS / ratio
    pthat_lines, pthat = draw_pthat(rng)
    w = resonance_width(m_x)
    lines = [*NEUTRAL_X_PRODUCTION, *mass_lines(25, m_x, w),
             *decay_table(25, [((24, -24), 1.0)], w), *W_TO_QUARKS]
    return ChunkSpec(sample, "res34p", tuple(lines + pthat_lines),
                     {"m_X": m_x, "mass_ratio": ratio, "pthat_min": pthat},
                     x_ids=(25,), y_ids=(24,))


@dataclass(frozen=True)
class XWWOptions(SampleOptions):
    mass_ratios: tuple[float, ...] | None = None     # subset of MASS_RATIOS (None: all)

    def validate(self) -> None:
        if self.mass_ratios is not None:
            bad = [r for r in self.mass_ratios if r not in MASS_RATIOS]
            if bad or not self.mass_ratios:
                raise ConfigError(f"--mass-ratios {list(self.mass_ratios)}: each must be one "
                                  f"of {list(MASS_RATIOS)}")

    def canonical(self) -> XWWOptions:
        return XWWOptions(None if self.mass_ratios is None else tuple(sorted(self.mass_ratios)))


def mass_ratio_truth(jets: EventJets) -> JetTruth:
    n = len(jets.eta)
    return JetTruth.keep_all(n, truth_mass_ratio=np.full(n, jets.params["mass_ratio"], np.float32))


SAMPLES = (
    # drawn from the ratios in the order the settings record them (sorted): `--mass-ratios
    # 0.8 0.4` and `0.4 0.8` are one setting, so they must give the same jets
    Sample("xww", "X -> WW(*) -> 4 quarks at m_W/m_X in {0.2, 0.4, 0.6432, 0.8}", "res34p",
           lambda rng, o: xww_chunk(rng, o.canonical().mass_ratios or MASS_RATIOS),
           truth=mass_ratio_truth, truth_columns=("truth_mass_ratio",), options=XWWOptions),
)
