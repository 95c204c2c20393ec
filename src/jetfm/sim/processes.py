"""The pieces every sample's Pythia card is made of (the cards themselves: `samples/`).

A sample is a recipe that, given a random generator, draws the settings of one *chunk* of ~100
events: the hard process, the resonance masses and decay tables, and `PhaseSpace:pTHatMin`
from the log grid. Pythia is re-initialised per chunk, as JetClass-II drew one grid point per
100-event batch. Cards are plain `readString` lines, so a chunk is reproducible from its record.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


ECM_GEV = 13000.0
# JetClass-II's resonance pT cut (jet-universe/jetclass2_generation, gen_configs/jetclass2/*:
# MG5 `pt_min_pdg`), 50 log points 100...2499 GeV, one drawn per batch (here: per chunk)
# together with the mass; the downstream samples draw from it too.
RESONANCE_PT_CUTS = np.logspace(2, np.log10(2500), 50).astype(int).astype(float)
UNLABELLED_FAMILY = "unlabelled"             # no JetClass-II label applies: jet_label = −1

# Decays as in JetClass-II: Pythia's defaults — B/D hadrons, tau, and also K0S, Lambda and the
# other weakly decaying hyperons decay, with displaced vertices (K0L, K+-, pi+- stay).
COMMON_SETTINGS = (
    f"Beams:eCM = {ECM_GEV}",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Init:showProcesses = off",
    "Init:showMultipartonInteractions = off",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Print:quiet = on",
)
# `--long-lived detector`: particles with c*tau > 10 mm (K0S, Lambda, Sigma, Xi, Omega) are
# left to the detector, a Geant-like split (jetfm's behaviour before JetClass-II's was followed).
LONG_LIVED_TO_DETECTOR = ("ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 10")
LONG_LIVED_MODES = ("pythia", "detector")


@dataclass(frozen=True)
class ChunkSpec:
    """Settings of one chunk: the sample, its truth family and the Pythia card lines."""
    sample: str
    family: str                   # res2p | res34p | qcd | UNLABELLED_FAMILY: labelling rules
    settings: tuple[str, ...]
    params: dict = field(default_factory=dict)   # drawn grid values, for the record
    x_ids: tuple[int, ...] | None = None         # resonance ids for labelling (None: family's)
    y_ids: tuple[int, ...] | None = None


# The neutral X (SM-like h0, 25) produced against a recoiling parton: Res2P and its variants.
NEUTRAL_X_PRODUCTION = ("HiggsSM:gg2Hg(l:t) = on", "HiggsSM:qg2Hq(l:t) = on",
                        "HiggsSM:qqbar2Hg(l:t) = on")
# W → quarks only (both charges): the W decays of xww and wprime
W_TO_QUARKS = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")


def decay_table(pid: int, channels, width: float) -> list[str]:
    """Replace `pid`'s decay table by `channels`: switch the built-in channels off and add ours
    with matrix-element mode 100 (use the given BR). With mode 0 user channels get zero width
    and init() fails with "vanishing cross sections"; `oneChannel` fails the same way for the
    BSM H1 -> YY chain, while `onMode = off` + `addChannel` works for every resonance here."""
    lines = [f"{pid}:mWidth = {width:.6g}", f"{pid}:onMode = off"]
    for ids, br in channels:
        lines.append(f"{pid}:addChannel = 1 {br:.6g} 100 {' '.join(str(d) for d in ids)}")
    return lines


def mass_lines(pid: int, mass: float, width: float) -> list[str]:
    # Narrow resonance; mMin/mMax bracket it so Pythia's Breit-Wigner stays physical.
    return [f"{pid}:m0 = {mass:.6g}", f"{pid}:mMin = {max(mass - 10 * width, 0.1):.6g}",
            f"{pid}:mMax = {mass + 10 * width:.6g}"]


def resonance_width(mass: float) -> float:
    return max(1e-3 * mass, 0.01)


def draw_pthat(rng: np.random.Generator, grid: np.ndarray = RESONANCE_PT_CUTS
               ) -> tuple[list[str], float]:
    """A pT cut from `grid`, applied as PhaseSpace:pTHatMin. The resonance is produced
    against a recoiling parton, so pTHat is its pT: the cut acts on the resonance like
    JetClass-II's `pt_min_pdg` on each resonance of its MG5 pair (`p p > h h`)."""
    pthat = float(rng.choice(grid))
    return [f"PhaseSpace:pTHatMin = {pthat:.6g}"], pthat


def in_range(grid: np.ndarray, mass_range: tuple[float, float] | None) -> np.ndarray:
    """The grid points within `mass_range` (GeV, inclusive; None: all)."""
    if mass_range is None:
        return grid
    return grid[(grid >= mass_range[0]) & (grid <= mass_range[1])]
