"""Shared fixtures: a small set of real simulated jets (Pythia + detector + AK8), made once."""
from __future__ import annotations

import pytest

from jetfm.sim.generate import GenerateConfig, generate


@pytest.fixture(scope="session")
def sim_jets(tmp_path_factory):
    """5 files of 20 QCD jets and 5 of 20 Res2P jets (JetClass-II schema), ~15 s once."""
    root = tmp_path_factory.mktemp("sim_jets")
    for sample in ("qcd", "res2p"):
        generate(GenerateConfig(sample=sample, jets=100, out=str(root / sample), seed=11,
                                jets_per_file=20, chunk_events=40), progress=False)
    return root
