"""Every sample `jetfm generate --sample NAME` knows: one `Sample` record each (`record.py`),
defined in the modules below and registered here, in the order `--sample` lists them.

A sample's module holds all of it: the Pythia card, its truth rule and truth columns, and its
options (docs/development.md, "Add a sample"); nothing else special-cases a sample by name.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

import numpy as np

from ...errors import ConfigError
from ...schema import TRUTH_COLUMNS
from ..processes import ChunkSpec
from . import darkjet, dijet_events, jetclass2, tau, wboson, xbs, xww, zjets
from .record import EventJets, JetTruth, Sample, SampleOptions, option_flag

__all__ = ["SAMPLES", "EventJets", "JetTruth", "Sample", "SampleOptions", "draw_chunk",
           "get_sample", "option_names", "register", "sample_options"]

SAMPLES: dict[str, Sample] = {}


def register(sample: Sample) -> Sample:
    """Add a sample to the registry. Built-in samples are registered at import; one added
    later is known to this process only (a run with `--workers` > 1 starts fresh processes),
    so a new built-in sample goes into the list below."""
    if sample.name in SAMPLES:
        raise ValueError(f"sample {sample.name!r} is registered already")
    unknown = [c for c in sample.truth_columns if c not in TRUTH_COLUMNS.names]
    if unknown:
        raise ValueError(f"sample {sample.name!r}: truth columns {unknown} are not declared "
                         "in jetfm.schema (_TRUTH)")
    if sample.drop_reasons and sample.truth is None:
        raise ValueError(f"sample {sample.name!r}: drop reasons without a truth rule")
    SAMPLES[sample.name] = sample
    return sample


for _module in (jetclass2, wboson, xww, xbs, tau, zjets, darkjet, dijet_events):
    for _sample in _module.SAMPLES:
        register(_sample)


def get_sample(name: str) -> Sample:
    try:
        return SAMPLES[name]
    except KeyError:
        raise ConfigError(f"--sample {name!r} is not known; choose one of {sorted(SAMPLES)}") from None


def draw_chunk(sample: str, rng: np.random.Generator,
               options: SampleOptions | None = None) -> ChunkSpec:
    return get_sample(sample).draw(rng, options)


def option_names() -> tuple[str, ...]:
    """Every sample option of the registered samples (field names), first seen first."""
    names = [f.name for s in SAMPLES.values() for f in fields(s.options)]
    return tuple(dict.fromkeys(names))


def sample_options(name: str, values: Mapping[str, Any]) -> SampleOptions:
    """The validated options of sample `name` from a run's option values (None: unset); a set
    option the sample does not have is refused, naming the samples that do."""
    options = get_sample(name).options
    own = options.names()
    for key, value in values.items():
        if value is not None and key not in own:
            owners = [s.name for s in SAMPLES.values() if key in s.options.names()]
            raise ConfigError(f"{option_flag(key)} applies to --sample {_listed(owners)} only")
    chosen = options(**{k: v for k, v in values.items() if k in own and v is not None})
    chosen.validate()
    return chosen


def _listed(names: list[str]) -> str:
    if not names:
        return "none of the samples"
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
