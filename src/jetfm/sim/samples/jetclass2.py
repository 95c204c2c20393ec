"""The JetClass-II samples: `res2p`, `res34p`, `qcd` (docs/design.md), labelled by their
family's rules (`truth.py`); no truth columns of their own.

Resonance stand-ins (documented choices):
- Res2P neutral X: the SM-like `h0` (25) produced with a recoiling parton (`HiggsSM:*2H*(l:t)`)
  with its decay table replaced by the JetClass-II table (matrix-element mode 100).
- Res2P charged X: a W-like spin-1 boson (24, `WeakBosonAndParton:qqbar2Wg/qg2Wq`) with its
  mass moved to m_X and six equal quark channels — the documented stand-in for X±.
- Res34P: BSM `H1` (25) → Y Y with Y = `H2` (35, neutral, Res2P table) or `H±` (37, six quark
  channels + lν). Charge conjugate channels of 24/37 are implied by Pythia.

Options: `--mass-range LO HI` (res2p, res34p: only the m_X grid points in it), `--x-decays`
(res2p) and `--y-decays` (res34p): other decay tables, same labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from ..processes import (NEUTRAL_X_PRODUCTION, RESONANCE_PT_CUTS, ChunkSpec, decay_table,
                         draw_pthat, in_range, mass_lines, resonance_width)
from .record import Sample, SampleOptions, check_choice

# JetClass-II's grids (jet-universe/jetclass2_generation, gen_configs/jetclass2/*): the
# resonance pT cut (processes.RESONANCE_PT_CUTS); QCD: PhaseSpace:pTHatMin, 200 log points
# 100-5000.
QCD_PTHAT_GRID = np.round(np.geomspace(100.0, 5000.0, 200), 1)
RES2P_MASSES = np.arange(15.0, 500.0 + 1e-9, 5.0)      # m_X grid (GeV), JetClass-II Res2P
# Res34P: the published grid file is not public. Ours is chosen to reproduce the published
# Res34P jets (median m_SD/pT 0.33, pT_X/m_X 2.3, m_Y 92 (71-219) GeV): m_X on a log grid
# 120-600 GeV, m_Y = 60, 65, ... <= m_X/2, and the pT cut drawn among the grid points
# within [1, 2.5] x m_X (low boosts, where the 3-4 prongs just fit in one R = 0.8 jet).
RES34P_MX = np.round(np.geomspace(120.0, 600.0, 30))
RES34P_MY_MIN, RES34P_MY_STEP = 60.0, 5.0
RES34P_BOOST = (1.0, 2.5)

# (daughter ids, branching ratio) for a neutral spin-0 X or Y (docs/design.md Res2P table).
NEUTRAL_TABLE = (
    ((5, -5), 0.125), ((4, -4), 0.125), ((3, -3), 0.125), ((2, -2), 0.0625), ((1, -1), 0.0625),
    ((21, 21), 0.125), ((11, -11), 0.0625), ((13, -13), 0.0625), ((15, -15), 0.25),
)
# Six equal quark channels of a positive charged X (W-like 24): ud~, us~, ub~, cd~, cs~, cb~.
CHARGED_QUARKS = ((2, -1), (2, -3), (2, -5), (4, -1), (4, -3), (4, -5))
# H+ (37) for Res34P: six quark channels ~0.104 each, e nu .0625, mu nu .0625, tau nu .25.
CHARGED_Y_TABLE = tuple((q, 0.625 / 6) for q in CHARGED_QUARKS) + (
    ((-11, 12), 0.0625), ((-13, 14), 0.0625), ((-15, 16), 0.25))
# `--y-decays`: Res34P's (X channels, H+ table). `jetclass2` (default): X -> H0 H0 or H+ H-
# (0.5 each) with the tables above. `charged-emu` enriches the rare lepton classes for studies
# that need many jets per class (tagging10's t->blv, H->lvqq): X -> H+ H- only, each H+ to the
# six quark channels (1/12 each), e nu or mu nu (1/4 each), no tau nu. t->blv-like jets are then
# ~10x more frequent (14.6 % vs 1.6 % of the jets at m_X 150-200 GeV). Only the class priors
# change: every jet is still labelled by its actual decay.
CHARGED_EMU_TABLE = tuple((q, 0.5 / 6) for q in CHARGED_QUARKS) + (((-11, 12), 0.25),
                                                                   ((-13, 14), 0.25))
# `charged-quarks` enriches the multi-quark classes (t->bqq at 150-200 GeV, H->4q at 100-149):
# X -> H+ H- only, each H+ to the six quark channels (1/6 each).
CHARGED_QUARKS_TABLE = tuple((q, 1.0 / 6) for q in CHARGED_QUARKS)
DEFAULT_Y_DECAYS = "jetclass2"
RES34P_Y_DECAYS = {
    "jetclass2": ((((35, 35), 0.5), ((37, -37), 0.5)), CHARGED_Y_TABLE),
    "charged-emu": ((((37, -37), 1.0),), CHARGED_EMU_TABLE),
    "charged-quarks": ((((37, -37), 1.0),), CHARGED_QUARKS_TABLE),
}
# `--x-decays`: Res2P's (probability of the neutral X, its table); otherwise the charged X goes
# to the six quark channels. `jetclass2` (default) is 60 % neutral with the table above.
# `neutral-hadronic` (neutral X to quarks and gluons only; H->bb/cc/gg, Z->qq) and `charged`
# (W->qq) enrich tagging10's two-prong classes; again only the class priors change.
_HADRONIC = tuple((ids, br) for ids, br in NEUTRAL_TABLE if abs(ids[0]) in (1, 2, 3, 4, 5, 21))
NEUTRAL_HADRONIC_TABLE = tuple((ids, br / sum(b for _, b in _HADRONIC)) for ids, br in _HADRONIC)
DEFAULT_X_DECAYS = "jetclass2"
RES2P_X_DECAYS = {
    "jetclass2": (0.6, NEUTRAL_TABLE),
    "neutral-hadronic": (1.0, NEUTRAL_HADRONIC_TABLE),
    "charged": (0.0, NEUTRAL_TABLE),
}



def res2p_chunk(rng: np.random.Generator, sample: str = "res2p",
                mass_range: tuple[float, float] | None = None,
                x_decays: str | None = None) -> ChunkSpec:
    mass = float(rng.choice(in_range(RES2P_MASSES, mass_range)))
    pthat_lines, pthat = draw_pthat(rng)
    w = resonance_width(mass)
    p_neutral, neutral_table = RES2P_X_DECAYS[x_decays or DEFAULT_X_DECAYS]
    # 10 of the 15 Res2P labels come from the neutral X, 5 (+ half of X_qq) from the charged.
    if rng.random() < p_neutral:
        lines = [*NEUTRAL_X_PRODUCTION, *mass_lines(25, mass, w),
                 *decay_table(25, neutral_table, w)]
        kind = "neutral"
    else:
        eq = 1.0 / len(CHARGED_QUARKS)
        lines = ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
                 *mass_lines(24, mass, w), *decay_table(24, [(q, eq) for q in CHARGED_QUARKS], w)]
        kind = "charged"
    return ChunkSpec(sample, "res2p", tuple(lines + pthat_lines),
                     {"m_X": mass, "pthat_min": pthat, "x_charge": kind})


def res34p_chunk(rng: np.random.Generator, sample: str = "res34p",
                 mass_range: tuple[float, float] | None = None,
                 y_decays: str | None = None) -> ChunkSpec:
    m_x = float(rng.choice(in_range(RES34P_MX, mass_range)))
    my_grid = np.arange(RES34P_MY_MIN, m_x / 2.0 + 1e-9, RES34P_MY_STEP)
    m_y = float(rng.choice(my_grid))
    lo, hi = RES34P_BOOST[0] * m_x, RES34P_BOOST[1] * m_x
    cuts = RESONANCE_PT_CUTS[(RESONANCE_PT_CUTS >= lo) & (RESONANCE_PT_CUTS <= hi)]
    pthat_lines, pthat = draw_pthat(rng, cuts)
    wx, wy = resonance_width(m_x), resonance_width(m_y)
    x_channels, charged_table = RES34P_Y_DECAYS[y_decays or DEFAULT_Y_DECAYS]
    lines = ["Higgs:useBSM = on", "HiggsBSM:gg2H1g(l:t) = on", "HiggsBSM:qg2H1q(l:t) = on",
             "HiggsBSM:qqbar2H1g(l:t) = on",
             *mass_lines(25, m_x, wx), *decay_table(25, x_channels, wx),
             *mass_lines(35, m_y, wy), *decay_table(35, NEUTRAL_TABLE, wy),
             *mass_lines(37, m_y, wy), *decay_table(37, charged_table, wy)]
    return ChunkSpec(sample, "res34p", tuple(lines + pthat_lines),
                     {"m_X": m_x, "m_Y": m_y, "pthat_min": pthat})


def qcd_chunk(rng: np.random.Generator, sample: str = "qcd") -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng, QCD_PTHAT_GRID)
    return ChunkSpec(sample, "qcd", tuple(["HardQCD:all = on"] + pthat_lines), {"pthat_min": pthat})


def check_mass_range(mass_range: tuple[float, float] | None, grid: np.ndarray, sample: str):
    if mass_range is not None:
        lo, hi = mass_range
        if not len(in_range(grid, (lo, hi))):
            raise ConfigError(f"--mass-range {lo:g} {hi:g}: no m_X grid point of {sample} in "
                              f"it (grid {grid.min():g}-{grid.max():g} GeV)")


@dataclass(frozen=True)
class Res2POptions(SampleOptions):
    mass_range: tuple[float, float] | None = None   # only the m_X grid points in range
    x_decays: str | None = None                     # a RES2P_X_DECAYS key (None: jetclass2)

    def validate(self) -> None:
        check_mass_range(self.mass_range, RES2P_MASSES, "res2p")
        check_choice("x_decays", self.x_decays, RES2P_X_DECAYS)

    def canonical(self) -> Res2POptions:
        # the default decays given explicitly = unset: the same files
        return self if self.x_decays != DEFAULT_X_DECAYS else Res2POptions(self.mass_range)


@dataclass(frozen=True)
class Res34POptions(SampleOptions):
    mass_range: tuple[float, float] | None = None   # only the m_X grid points in range
    y_decays: str | None = None                     # a RES34P_Y_DECAYS key (None: jetclass2)

    def validate(self) -> None:
        check_mass_range(self.mass_range, RES34P_MX, "res34p")
        check_choice("y_decays", self.y_decays, RES34P_Y_DECAYS)

    def canonical(self) -> Res34POptions:
        return self if self.y_decays != DEFAULT_Y_DECAYS else Res34POptions(self.mass_range)


SAMPLES = (
    Sample("res2p", "JetClass-II Res2P: X -> 2 prongs (labels 0-14)", "res2p",
           lambda rng, o: res2p_chunk(rng, mass_range=o.mass_range, x_decays=o.x_decays),
           options=Res2POptions),
    Sample("res34p", "JetClass-II Res34P: X -> YY -> 3/4 prongs (labels 15-160)", "res34p",
           lambda rng, o: res34p_chunk(rng, mass_range=o.mass_range, y_decays=o.y_decays),
           options=Res34POptions),
    Sample("qcd", "JetClass-II QCD multijet (labels 161-187)", "qcd",
           lambda rng, o: qcd_chunk(rng)),
)
