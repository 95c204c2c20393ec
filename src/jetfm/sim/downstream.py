"""Pythia cards of the samples the downstream benchmarks need beyond JetClass-II's three
families (docs/design.md "Extra samples"). Same chunk machinery: each function draws one chunk's
settings; pT comes from the same `PhaseSpace:pTHatMin` log grid as the other samples.

- `wplus`, `wminus`: W± + parton (`WeakBosonAndParton:qqbar2Wg, qg2Wq`), W → qq̄′ only, one
  charge: `24:onPosIfAny` (W⁺) or `24:onNegIfAny` (W⁻) opens the quark channels of that
  charge alone, so Pythia produces only it. Physical W mass. Labelled by the Res2P rules.
- `xww`: X (`h0`, 25, produced like Res2P's neutral X) → W⁺W⁻, W → qq̄′, with
  m_X = m_W / r for r ∈ {0.2, 0.4, 0.6432, 0.8} (402, 201, 125, 100.5 GeV). Below 2 m_W one W
  is off shell: Pythia draws both W masses from their Breit–Wigner within the phase space,
  as for the SM h0 → W W*. Labelled by the Res34P rules with Y = W (≥ 3 quarks in the jet).
- `tau`: W + parton with W → τν and τ → hadrons only (`15:offIfAny = 11 13`; Pythia's τ
  decays keep their polarisation and branching fractions among the open channels). Only the
  jet of the visible τ decay products is kept; it has no JetClass-II label (`jet_label = −1`).
- `xbs`: X (`h0`, 25, produced like Res2P's neutral X, same pT grid) at m_X = 200 GeV → b s̄ or
  s b̄ (equal branching ratios), the Sophon paper's "unseen class": JetClass-II has no X → bs
  label, so the jets get `jet_label = −1`; a jet is kept when both quarks are within ΔR < R
  (the Res2P containment rule), and `aux_genpart` carries the X and both quarks as in Res2P.
- `dijet-qcd`: `HardQCD:all` events with pT̂ > 500 GeV, biased towards high pT̂
  (`PhaseSpace:bias2Selection`, weight ∝ pT̂⁴ at generation, compensated by the stored
  `event_weight`), so the 2–4.5 TeV m_JJ range of the searches is populated; labelled by the
  QCD rules.
- `wprime`: W′ (3 TeV, width 30 GeV, `NewGaugeBoson:ffbar2Wprime`, both charges) → W φ with
  φ = `H2` (35, 400 GeV) → W⁺W⁻, every W → qq̄′; unlabelled (−1), the anomaly-detection signal.
- `darkjet`: semi-visible jets from Pythia's Hidden Valley: Z_v (4900023) → q_v q̄_v
  (`HiddenValley:ffbar2Zv`), SU(2) dark shower and hadronisation (one dark flavour: the
  diagonal dark mesons 4900111/4900113 only), each dark meson decaying to a SM quark pair
  (`91`: hadronised) with probability 1 − r_inv or to a pair of stable, invisible dark states
  (4900211/4900213) with probability r_inv. Models A–D (`HV_MODELS`) span the dark-meson mass,
  Λ and r_inv; only jets within ΔR < R of a dark quark are kept (the others are counted).
- `quark`, `gluon`: Z(→ νν̄) + one parton, `qg → Z q` or `qq̄ → Z g` (the standard q/g recipe:
  one hard parton per event, the Z invisible). Labelled by the QCD rules; the truth is the
  hard parton in the jet (`downstream_truth.py`).
"""
from __future__ import annotations

import numpy as np

from .processes import (NEUTRAL_X_PRODUCTION, ChunkSpec, decay_table, draw_pthat, mass_lines,
                        resonance_width)

UNLABELLED_FAMILY = "unlabelled"             # no JetClass-II label applies: jet_label = −1
W_MASS = 80.4                                  # GeV: m_X = W_MASS / ratio
MASS_RATIOS = (0.2, 0.4, 0.6432, 0.8)          # m_W / m_X of the X → WW(*) sample
W_TO_QUARKS = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
Z_TO_NEUTRINOS = ("WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 12 14 16")


def w_chunk(rng: np.random.Generator, charge: int, sample: str) -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng)
    open_one_charge = "onPosIfAny" if charge > 0 else "onNegIfAny"
    lines = ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
             "24:onMode = off", f"24:{open_one_charge} = 1 2 3 4 5"]
    return ChunkSpec(sample, "res2p", tuple(lines + pthat_lines),
                     {"pthat_min": pthat, "w_charge": charge}, x_ids=(24,))


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


XBS_MASS = 200.0
BS_CHANNELS = (((5, -3), 0.5), ((3, -5), 0.5))


def xbs_chunk(rng: np.random.Generator) -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng)
    w = resonance_width(XBS_MASS)
    lines = [*NEUTRAL_X_PRODUCTION, *mass_lines(25, XBS_MASS, w), *decay_table(25, BS_CHANNELS, w)]
    return ChunkSpec("xbs", "res2p", tuple(lines + pthat_lines),
                     {"m_X": XBS_MASS, "pthat_min": pthat}, x_ids=(25,))


def zjet_chunk(rng: np.random.Generator, parton: str) -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng)
    process = {"quark": "WeakBosonAndParton:qg2gmZq = on",
               "gluon": "WeakBosonAndParton:qqbar2gmZg = on"}[parton]
    return ChunkSpec(parton, "qcd", (process, *Z_TO_NEUTRINOS, *pthat_lines),
                     {"pthat_min": pthat})


def tau_chunk(rng: np.random.Generator) -> ChunkSpec:
    pthat_lines, pthat = draw_pthat(rng)
    lines = ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on",
             "24:onMode = off", "24:onIfAny = 15", "15:offIfAny = 11 13"]
    return ChunkSpec("tau", UNLABELLED_FAMILY, tuple(lines + pthat_lines), {"pthat_min": pthat})


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


# Hidden Valley benchmarks: (dark meson mass = Λ_dark, GeV; r_inv). Our spanning choice around
# the CMS semi-visible-jet baseline (m_dark = 20 GeV, r_inv = 0.3): lighter and heavier dark
# hadrons, and a mostly invisible variant.
HV_MODELS = {"A": (5.0, 0.3), "B": (20.0, 0.3), "C": (20.0, 0.7), "D": (50.0, 0.3)}
ZV_MASS = 1500.0
DARK_QUARK = 4900101


def _dark_meson_decays(pid: int, invisible_pid: int, r_inv: float) -> list[str]:
    visible = (1.0 - r_inv) / 5.0          # d, u, s, c, b pairs, hadronised (mode 91)
    lines = [f"{pid}:oneChannel = 1 {visible:.6g} 91 1 -1"]
    lines += [f"{pid}:addChannel = 1 {visible:.6g} 91 {q} -{q}" for q in (2, 3, 4, 5)]
    lines.append(f"{pid}:addChannel = 1 {r_inv:.6g} 0 {invisible_pid} -{invisible_pid}")
    return lines


def darkjet_chunk(rng: np.random.Generator, model: str) -> ChunkSpec:
    mass, r_inv = HV_MODELS[model]
    lines = ["HiddenValley:ffbar2Zv = on", f"4900023:m0 = {ZV_MASS:g}",
             f"4900023:mWidth = {0.01 * ZV_MASS:g}", "4900023:onMode = off",
             f"4900023:onIfAny = {DARK_QUARK}",
             "HiddenValley:Ngauge = 2", "HiddenValley:nFlav = 1", "HiddenValley:fragment = on",
             "HiddenValley:FSR = on", "HiddenValley:alphaOrder = 1",
             f"HiddenValley:Lambda = {mass:g}", f"HiddenValley:pTminFSR = {1.1 * mass:g}",
             "HiddenValley:spinFv = 0", "HiddenValley:probVector = 0.75",
             f"{DARK_QUARK}:m0 = {mass / 2:g}", f"4900111:m0 = {mass:g}", f"4900113:m0 = {mass:g}",
             f"4900211:m0 = {0.4 * mass:g}", f"4900213:m0 = {0.4 * mass:g}",
             "4900211:mayDecay = off", "4900213:mayDecay = off",
             *_dark_meson_decays(4900111, 4900211, r_inv),
             *_dark_meson_decays(4900113, 4900213, r_inv)]
    return ChunkSpec("darkjet", UNLABELLED_FAMILY, tuple(lines),
                     {"hv_model": model, "m_dark": mass, "r_inv": r_inv, "m_Zv": ZV_MASS})
