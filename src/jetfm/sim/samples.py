"""Every sample `jetfm generate --sample NAME` knows: how a chunk's Pythia card is drawn and
which truth columns its files carry besides the JetClass-II schema."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ConfigError
from .downstream import (MASS_RATIOS, darkjet_chunk, dijet_qcd_chunk, tau_chunk, w_chunk, wprime_chunk,
                         xbs_chunk, xww_chunk, zjet_chunk)
from .processes import JETCLASS2_SAMPLES, ChunkSpec


@dataclass(frozen=True)
class SampleOptions:
    """Sample-specific settings of a run (recorded with its files)."""
    mass_ratios: tuple[float, ...] | None = None     # xww: subset of MASS_RATIOS (None: all)
    hv_model: str | None = None                      # darkjet: one of HV_MODELS (None: "B")
    mass_range: tuple[float, float] | None = None    # res2p/res34p: m_X grid points in range
    pthat_min: float | None = None                   # dijet-qcd: unbiased, unit weights above it
    y_decays: str | None = None                      # res34p: RES34P_Y_DECAYS key (None: jetclass2)
    x_decays: str | None = None                      # res2p: RES2P_X_DECAYS key (None: jetclass2)


@dataclass(frozen=True)
class Sample:
    draw: Callable[[np.random.Generator, SampleOptions], ChunkSpec]
    summary: str
    truth_columns: tuple[str, ...] = ()
    dijet: bool = False        # events: the two leading jets, kept together (sim/dijets.py)
    # False: no JetClass-II label fits the jets (jet_label = −1 by design) although the
    # family's truth is collected; the sample's own rule (downstream_truth) decides which to keep
    labelled: bool = True


DEFAULT_HV_MODEL = "B"
DIJET_COLUMNS = ("jet_index", "event_mjj", "event_weight")

SAMPLES: dict[str, Sample] = {
    "res2p": Sample(lambda rng, o: JETCLASS2_SAMPLES["res2p"](rng, mass_range=o.mass_range,
                                                               x_decays=o.x_decays),
                    "JetClass-II Res2P: X -> 2 prongs (labels 0-14)"),
    "res34p": Sample(lambda rng, o: JETCLASS2_SAMPLES["res34p"](rng, mass_range=o.mass_range,
                                                                 y_decays=o.y_decays),
                     "JetClass-II Res34P: X -> YY -> 3/4 prongs (labels 15-160)"),
    "qcd": Sample(lambda rng, o: JETCLASS2_SAMPLES["qcd"](rng),
                  "JetClass-II QCD multijet (labels 161-187)"),
    "wplus": Sample(lambda rng, o: w_chunk(rng, +1, "wplus"), "W+ -> qq' jets",
                    ("truth_charge",)),
    "wminus": Sample(lambda rng, o: w_chunk(rng, -1, "wminus"), "W- -> qq' jets",
                     ("truth_charge",)),
    "xww": Sample(lambda rng, o: xww_chunk(rng, o.mass_ratios or MASS_RATIOS),
                  "X -> WW(*) -> 4 quarks at m_W/m_X in {0.2, 0.4, 0.6432, 0.8}",
                  ("truth_mass_ratio",)),
    "xbs": Sample(lambda rng, o: xbs_chunk(rng), "X(200) -> b sbar jets, both quarks in the jet; "
                  "jet_label = -1", labelled=False),
    "tau": Sample(lambda rng, o: tau_chunk(rng), "hadronic tau jets (W -> tau nu, tau -> hadrons); "
                  "jet_label = -1", ("truth_tau_decay_mode",)),
    "quark": Sample(lambda rng, o: zjet_chunk(rng, "quark"),
                    "light-quark jets (Z(->nunu) + q)", ("truth_parton_pid",)),
    "gluon": Sample(lambda rng, o: zjet_chunk(rng, "gluon"),
                    "gluon jets (Z(->nunu) + g)", ("truth_parton_pid",)),
    "darkjet": Sample(lambda rng, o: darkjet_chunk(rng, o.hv_model or DEFAULT_HV_MODEL),
                      "semi-visible dark jets (Pythia Hidden Valley, --hv-model A|B|C|D); "
                      "jet_label = -1", ("truth_invisible_fraction",)),
    "dijet-qcd": Sample(lambda rng, o: dijet_qcd_chunk(rng, o.pthat_min),
                        "QCD dijet events (pTHat-biased, weighted) for resonance searches",
                        DIJET_COLUMNS, dijet=True),
    "wprime": Sample(lambda rng, o: wprime_chunk(rng),
                     "W'(3 TeV) -> W phi(400 GeV) -> WWW dijet events; jet_label = -1",
                     DIJET_COLUMNS, dijet=True),
}


def get_sample(name: str) -> Sample:
    try:
        return SAMPLES[name]
    except KeyError:
        raise ConfigError(f"--sample {name!r} is not known; choose one of {sorted(SAMPLES)}") from None


def draw_chunk(sample: str, rng: np.random.Generator,
               options: SampleOptions = SampleOptions()) -> ChunkSpec:
    return get_sample(sample).draw(rng, options)
