"""A sample is one record: the toy sample below is a whole sample definition (Pythia card,
truth family, truth rule and columns, its own option), written as its own file under
src/jetfm/sim/samples/ would hold it. Registered here, it runs through `generate()` with no
other file knowing it — and no module outside samples/ special-cases a sample by name."""
from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

import jetfm.sim
from jetfm.errors import ConfigError
from jetfm.sim.generate import GenerateConfig, generate
from jetfm.sim.processes import ChunkSpec
from jetfm.sim.samples import (SAMPLES, EventJets, JetTruth, Sample, SampleOptions, get_sample,
                               option_names, register)
from jetfm.sim.samples.record import option_flag
from jetfm.sim.samples.zjets import Z_TO_NEUTRINOS, hard_partons
from jetfm.sim.truth import delta_r

# ---- the toy sample, as its own file would hold it ---------------------------------------
# `zjet-toy`: Z(→νν̄) + any hard parton (both q/g processes), above a fixed pT̂; labelled by
# the QCD rules; truth: the PDG id of the one hard parton in the jet (jets with none dropped).


@dataclass(frozen=True)
class ZJetToyOptions(SampleOptions):
    pthat_min: float | None = None       # GeV (None: 250)

    def validate(self) -> None:
        if self.pthat_min is not None and not (math.isfinite(self.pthat_min)
                                               and self.pthat_min > 100):
            raise ConfigError(f"--pthat-min {self.pthat_min}: zjet-toy needs > 100 GeV")


def zjet_toy_card(rng: np.random.Generator, options: ZJetToyOptions) -> ChunkSpec:
    pthat = options.pthat_min or 250.0
    return ChunkSpec("zjet-toy", "qcd", ("WeakBosonAndParton:qg2gmZq = on",
                                         "WeakBosonAndParton:qqbar2gmZg = on", *Z_TO_NEUTRINOS,
                                         f"PhaseSpace:pTHatMin = {pthat:g}"),
                     {"pthat_min": pthat})


def one_parton_truth(jets: EventJets) -> JetTruth:
    hard = hard_partons(jets.record)
    inside = delta_r(jets.eta, jets.phi, hard["eta"], hard["phi"]) < jets.r
    one = inside.sum(axis=1) == 1
    pid = np.where(one, hard["pid"][np.argmax(inside, axis=1)] if len(hard["pid"]) else 0, 0)
    return JetTruth({"truth_parton_pid": pid.astype(np.int32)}, one, np.where(one, -1, 0))


ZJET_TOY = Sample("zjet-toy", "Z(->nunu) + any parton (a toy)", "qcd", zjet_toy_card,
                  truth=one_parton_truth, truth_columns=("truth_parton_pid",),
                  drop_reasons=("not one hard parton in the jet",), options=ZJetToyOptions)
# ---- end of the toy sample ---------------------------------------------------------------


@pytest.fixture
def toy():
    register(ZJET_TOY)
    try:
        yield ZJET_TOY
    finally:
        SAMPLES.pop(ZJET_TOY.name)


def test_a_registered_sample_generates_with_its_card_truth_and_option(toy, tmp_path):
    out = tmp_path / "toy"
    cfg = GenerateConfig(sample=toy.name, jets=6, jets_per_file=3, chunk_events=20, pileup=0.0,
                         seed=4, out=str(out), pthat_min=300.0)
    summary = generate(cfg, progress=False)
    assert summary["jets"] == 6 and set(summary["dropped"]) <= set(toy.drop_reasons)
    files = sorted(out.glob("*.parquet"))
    assert [f.name for f in files] == ["zjet-toy_00000.parquet", "zjet-toy_00001.parquet"]
    table = pq.read_table(files).to_pandas()
    assert (table["sample"] == toy.name).all()
    assert table["jet_label"].between(161, 187).all()            # the QCD family's labels
    assert set(np.abs(table["truth_parton_pid"])) <= {1, 2, 3, 4, 5, 21}
    assert table["jet_pt"].min() > 200
    settings = yaml.safe_load((out / "generate_config.yaml").read_text())["settings"]
    assert settings["sample"] == toy.name and settings["pthat_min"] == 300.0


def test_a_registered_sample_validates_its_own_options(toy):
    with pytest.raises(ConfigError, match="zjet-toy needs > 100 GeV"):
        GenerateConfig(sample=toy.name, jets=2, out="x", pthat_min=50.0).validate()
    with pytest.raises(ConfigError, match="--hv-model applies to --sample darkjet only"):
        GenerateConfig(sample=toy.name, jets=2, out="x", hv_model="A").validate()
    with pytest.raises(ConfigError, match="--pthat-min applies to --sample dijet-qcd and "
                                          "zjet-toy only"):
        GenerateConfig(sample="qcd", jets=2, out="x", pthat_min=500.0).validate()
    # the record stamps its name and family on the card it draws
    spec = get_sample(toy.name).draw(np.random.default_rng(0), ZJetToyOptions(400.0))
    assert (spec.sample, spec.family, spec.params) == ("zjet-toy", "qcd", {"pthat_min": 400.0})


def test_the_registry_refuses_a_second_name_and_undeclared_truth_columns(toy):
    with pytest.raises(ValueError, match="registered already"):
        register(ZJET_TOY)
    with pytest.raises(ValueError, match="not declared"):
        register(Sample("bad", "", "qcd", zjet_toy_card, truth=one_parton_truth,
                        truth_columns=("truth_made_up",)))
    assert "bad" not in SAMPLES


def test_every_sample_option_is_a_generate_field_and_a_cli_flag():
    from jetfm.cli import build_parser
    generate_fields = {f.name for f in fields(GenerateConfig)}
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction)).choices
    flags = {flag for action in commands["generate"]._actions for flag in action.option_strings}
    for name in option_names():
        assert name in generate_fields and option_flag(name) in flags, name


def test_no_module_outside_samples_names_a_sample():
    """Special cases by name are what made a new sample touch ten files."""
    sim = Path(jetfm.sim.__file__).parent
    modules = [p for p in sim.glob("*.py") if p.name != "truth.py"]   # truth: family rules
    modules.append(sim.parent / "cli" / "generate.py")
    # res2p/res34p/qcd are also family names (truth.py); xww etc. are samples only
    names = [n for n in SAMPLES if n not in ("res2p", "res34p", "qcd")]
    pattern = re.compile("|".join(f"[\"']{re.escape(n)}[\"']" for n in names))
    for path in modules:
        assert not pattern.search(path.read_text()), path.name


def test_the_order_of_mass_ratios_does_not_change_the_jets(tmp_path):
    """The settings record --mass-ratios sorted, so the jets must not depend on the order."""
    import hashlib
    from jetfm.sim.generate import GenerateConfig, generate
    digests = []
    for ratios in ((0.8, 0.4), (0.4, 0.8)):
        out = tmp_path / "-".join(map(str, ratios))
        generate(GenerateConfig(sample="xww", jets=6, out=str(out), seed=3, pileup=0.0,
                                chunk_events=20, mass_ratios=ratios), progress=False)
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in sorted(out.glob("*.parquet"))])
    assert digests[0] and digests[0] == digests[1]
