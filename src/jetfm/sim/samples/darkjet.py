"""`darkjet`: semi-visible jets from Pythia's Hidden Valley: Z_v (4900023) → q_v q̄_v
(`HiddenValley:ffbar2Zv`), SU(2) dark shower and hadronisation (one dark flavour: the diagonal
dark mesons 4900111/4900113 only), each dark meson decaying to a SM quark pair (`91`:
hadronised) with probability 1 − r_inv or to a pair of stable, invisible dark states
(4900211/4900213) with probability r_inv. Models A–D (`HV_MODELS`, option `--hv-model`) span
the dark-meson mass, Λ and r_inv. Unlabelled (`jet_label = −1`).

Truth `truth_invisible_fraction`: Σ pT of the stable invisible dark states within ΔR < R of the
jet / (that + jet pT); jets with no dark quark (status ±23, 4900101) within ΔR < R are dropped
(and counted).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..processes import UNLABELLED_FAMILY, ChunkSpec
from ..truth import HARD_STATUS, delta_r, kinematics
from .record import EventJets, JetTruth, Sample, SampleOptions, check_choice

# Hidden Valley benchmarks: (dark meson mass = Λ_dark, GeV; r_inv). Our spanning choice around
# the CMS semi-visible-jet baseline (m_dark = 20 GeV, r_inv = 0.3): lighter and heavier dark
# hadrons, and a mostly invisible variant.
HV_MODELS = {"A": (5.0, 0.3), "B": (20.0, 0.3), "C": (20.0, 0.7), "D": (50.0, 0.3)}
DEFAULT_HV_MODEL = "B"
ZV_MASS = 1500.0
DARK_QUARK = 4900101
HV_RANGE = (4_900_000, 5_000_000)
NO_DARK_QUARK = "no dark quark in the jet"


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


@dataclass(frozen=True)
class DarkjetOptions(SampleOptions):
    hv_model: str | None = None      # one of HV_MODELS (None: DEFAULT_HV_MODEL)

    def validate(self) -> None:
        check_choice("hv_model", self.hv_model, HV_MODELS)


def dark_truth(record, jet_eta, jet_phi, jet_pt, r: float):
    """(truth_invisible_fraction, keep, reason) per jet of one Hidden Valley event."""
    aid = np.abs(record["id"])
    quarks = kinematics(record, np.flatnonzero((aid == DARK_QUARK)
                                                & (np.abs(record["status"]) == HARD_STATUS)))
    has_quark = (delta_r(jet_eta, jet_phi, quarks["eta"], quarks["phi"]) < r).any(axis=1)
    inv = kinematics(record, np.flatnonzero((record["status"] > 0) & (aid >= HV_RANGE[0])
                                             & (aid < HV_RANGE[1])))
    inside = delta_r(jet_eta, jet_phi, inv["eta"], inv["phi"]) < r
    inv_pt = (inside * inv["pt"][None, :]).sum(axis=1) if len(inv["pt"]) else np.zeros(len(jet_pt))
    fraction = (inv_pt / np.maximum(inv_pt + jet_pt, 1e-9)).astype(np.float32)
    return fraction, has_quark, np.where(has_quark, -1, 0)


def invisible_fraction_truth(jets: EventJets) -> JetTruth:
    fraction, keep, reason = dark_truth(jets.record, jets.eta, jets.phi, jets.pt, jets.r)
    return JetTruth({"truth_invisible_fraction": fraction}, keep, reason)


SAMPLES = (
    Sample("darkjet", "semi-visible dark jets (Pythia Hidden Valley, --hv-model A|B|C|D); "
           "jet_label = -1", UNLABELLED_FAMILY,
           lambda rng, o: darkjet_chunk(rng, o.hv_model or DEFAULT_HV_MODEL),
           truth=invisible_fraction_truth, truth_columns=("truth_invisible_fraction",),
           drop_reasons=(NO_DARK_QUARK,), options=DarkjetOptions),
)
