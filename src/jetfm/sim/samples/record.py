"""What a sample is: one record holding everything `jetfm generate --sample NAME` needs from it.

A `Sample` names its Pythia card (`process`: one chunk's settings from a random generator and
the sample's options), its truth family (which JetClass-II labelling rules apply), its own
truth rule (`truth`: extra per-jet columns and which jets to keep), the truth columns it
writes, and its options (`options`: a frozen dataclass that validates its own values).
Everything else (`chunk.py`, `generate.py`, the CLI) reads the record and never the name.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable, NamedTuple

import numpy as np

from ...errors import ConfigError
from ..processes import ChunkSpec
from ..truth import EventTruth


def option_flag(name: str) -> str:
    """The command-line flag of an option field: `mass_range` → `--mass-range`."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class SampleOptions:
    """A sample's own `jetfm generate` options; this base has none. A sample with options
    subclasses it with one field per option, default None (unset), named like the
    `GenerateConfig` field and the flag (`option_flag`)."""

    def validate(self) -> None:
        """Raise ConfigError (one line naming the flag) for a value the sample cannot use."""

    def canonical(self) -> SampleOptions:
        """The options as recorded in a folder's settings: equal for runs that make the same
        files (e.g. an option given at its default = unset)."""
        return self

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def check_choice(name: str, value, choices) -> None:
    if value is not None and value not in choices:
        raise ConfigError(f"{option_flag(name)} {value!r}: choose one of {sorted(choices)}")


class EventJets(NamedTuple):
    """One event's jets and truth: what a sample's truth rule reads."""
    record: dict[str, np.ndarray] | None   # the Pythia event record (`truth.event_records`)
    truth: EventTruth | None               # its JetClass-II truth (None: unlabelled family)
    params: dict                           # the chunk's drawn parameters (`ChunkSpec.params`)
    eta: np.ndarray                        # per jet
    phi: np.ndarray
    pt: np.ndarray
    r: float                               # the truth-matching cone (= the jet radius)


class JetTruth(NamedTuple):
    """A truth rule's answer for one event's jets."""
    columns: dict[str, np.ndarray]          # truth column -> value per jet
    keep: np.ndarray                        # bool per jet
    reason: np.ndarray                      # per jet: index into `Sample.drop_reasons`, −1 kept

    @classmethod
    def keep_all(cls, n: int, **columns: np.ndarray) -> JetTruth:
        return cls(columns, np.ones(n, bool), np.full(n, -1))


@dataclass(frozen=True)
class Sample:
    name: str                    # the `--sample` value; also the files' `sample` column
    summary: str                 # one line for `--sample`'s help
    family: str                  # res2p | res34p | qcd | processes.UNLABELLED_FAMILY
    process: Callable[[np.random.Generator, SampleOptions], ChunkSpec]   # one chunk's card
    truth: Callable[[EventJets], JetTruth] | None = None    # None: no rule of its own
    truth_columns: tuple[str, ...] = ()     # names in schema.TRUTH_COLUMNS it writes
    drop_reasons: tuple[str, ...] = ()      # what `truth`'s reason indices mean
    options: type[SampleOptions] = SampleOptions
    dijet: bool = False        # events: the two leading jets, kept together (sim/dijets.py)
    # False: no JetClass-II label fits the jets (jet_label = −1 by design) although the
    # family's truth is collected; the sample's truth rule decides which jets to keep
    labelled: bool = True

    def draw(self, rng: np.random.Generator, options: SampleOptions | None = None) -> ChunkSpec:
        """One chunk's card, stamped with this record's name and family (so a process may
        be shared between samples)."""
        spec = self.process(rng, self.options() if options is None else options)
        return replace(spec, sample=self.name, family=self.family)
