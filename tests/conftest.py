"""Shared fixtures: a small set of real simulated jets (Pythia + detector + AK8), made once."""
from __future__ import annotations

import os
import tempfile

import pytest

from jetfm.sim.generate import GenerateConfig, generate


def pytest_configure(config):
    """Tests never write into the user's real cache (~/.cache/jetfm): they get their own, kept
    in pytest's cache folder so the pileup library is built once per checkout, not per run."""
    if not os.environ.get("JETFM_CACHE_DIR"):
        cache = getattr(config, "cache", None)
        folder = cache.mkdir("jetfm-cache") if cache is not None else tempfile.mkdtemp()
        os.environ["JETFM_CACHE_DIR"] = str(folder)


@pytest.fixture(scope="session")
def sim_jets(tmp_path_factory):
    """5 files of 20 QCD jets and 5 of 20 Res2P jets (JetClass-II schema), ~15 s once."""
    root = tmp_path_factory.mktemp("sim_jets")
    for sample in ("qcd", "res2p"):
        generate(GenerateConfig(sample=sample, jets=100, out=str(root / sample), seed=11,
                                jets_per_file=20, chunk_events=40), progress=False)
    return root


@pytest.fixture(scope="session")
def resim_jets(tmp_path_factory):
    """4 files of 60 QCD jets, each shower hadronised twice (pairs share resim_group)."""
    out = tmp_path_factory.mktemp("resim") / "qcd"
    generate(GenerateConfig(sample="qcd", jets=240, out=str(out), seed=5, jets_per_file=60,
                            chunk_events=20, resim=2), progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_run(sim_jets, tmp_path_factory):
    """A 4-step supervised run of the tiny ParT on sim_jets: a trained run for the tests that
    only need one (transfer, the run seam, quiet output)."""
    from jetfm.cli import main
    out = tmp_path_factory.mktemp("tiny_run") / "sup"
    assert main(["pretrain", "--strategy", "supervised", "--data", str(sim_jets), "--preset",
                 "tiny", "--max-steps", "4", "--batch-size", "16", "--out", str(out),
                 "--no-progress"]) == 0
    return out
