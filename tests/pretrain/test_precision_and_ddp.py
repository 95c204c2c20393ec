"""Every strategy runs with the same machinery as `supervised`: bf16 mixed precision and DDP
(two CPU ranks under torchrun, gloo), with explicit pairs intact across ranks."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import Counter
from importlib import resources

import numpy as np
import pytest
import torch
import yaml

from jetfm.cli import main
from jetfm.data.config import load_data_config
from jetfm.data.dataset import JetDataset
from jetfm.run_logs import csv_logs

SMALL_JEPA = ("--set", "strategy_options.predictor_dim=32", "--set",
              "strategy_options.predictor_heads=4", "--set", "strategy_options.predictor_blocks=2")
SMALL_CLIP = ("--set", "strategy_options.projection=[32,32]", "--set",
              "strategy_options.gen_embed=[16,16]", "--set", "strategy_options.gen_pair_embed=[8,8]",
              "--set", "strategy_options.gen_blocks=1", "--set", "strategy_options.gen_cls_blocks=1",
              "--set", "strategy_options.gen_fc=32")


def _args(strategy, data, out, steps, *extra):
    return ["pretrain", "--strategy", strategy, "--data", str(data), "--preset", "tiny",
            "--batch-size", "16", "--out", str(out), "--no-progress", "--max-steps", str(steps),
            "--val-every-steps", str(steps), "--checkpoint-every-steps", str(steps),
            "--set", "log_every_steps=1", *extra]


def _data(strategy, sim_jets, resim_jets):
    return resim_jets if strategy == "resim" else sim_jets


@pytest.mark.parametrize("strategy,extra", [("clip", SMALL_CLIP), ("jepa", SMALL_JEPA),
                                             ("resim", ()), ("autoencoder", ())])
def test_bf16_mixed_precision(sim_jets, resim_jets, tmp_path, strategy, extra):
    out = tmp_path / "run"
    assert main(_args(strategy, _data(strategy, sim_jets, resim_jets), out, 3,
                      "--precision", "bf16-mixed", *extra)) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["precision"] == "bf16-mixed"
    rows = [r for log in csv_logs(out) for r in csv.DictReader(log.open())]
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert len(losses) == 3 and np.isfinite(losses).all()
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 3


def test_pairs_survive_ddp_sharding(resim_jets):
    """Two ranks together yield exactly the pairs one process yields, none split or lost."""
    cfg = load_data_config("jetclass2")

    def pairs(**kw):
        ds = JetDataset(resim_jets, cfg, batch_size=8, shuffle=True, seed=3, buffer_size=16,
                        pair_by="resim_group", **kw)
        out = Counter()
        for b in ds:
            # a pair = its group and both views' first-particle features (x2 ≠ x: two jets)
            for g, a, c in zip(b["resim_group"].tolist(), b["x"][:, :, 0].tolist(),
                               b["x2"][:, :, 0].tolist()):
                out[(g, tuple(round(t, 4) for t in a), tuple(round(t, 4) for t in c))] += 1
        return out

    single = pairs()
    ranks = [pairs(rank=r, world_size=2) for r in range(2)]
    assert not set(ranks[0]) & set(ranks[1])
    assert ranks[0] + ranks[1] == single and sum(single.values()) > 20


# clip with α = 0 leaves its contrastive side without gradients: DDP must be told, or it stops
@pytest.mark.parametrize("strategy,extra", [("clip", ("--set", "strategy_options.alpha=0",
                                                      *SMALL_CLIP)),
                                             ("resim", ("--batch-size", "8"))])
def test_ddp_with_torchrun_on_cpu(sim_jets, resim_jets, tmp_path, strategy, extra):
    # the tiny resim set is mostly light QCD jets: without the sdmass cut each rank keeps
    # enough pairs for a batch
    data_cfg = yaml.safe_load(resources.files("jetfm.data.configs").joinpath(
        "jetclass2.yaml").read_text())
    data_cfg["selection"] = []
    (tmp_path / "nocut.yaml").write_text(yaml.safe_dump(data_cfg))
    extra = (*extra, "--data-config", str(tmp_path / "nocut.yaml"))
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m",
           "jetfm.cli", *_args(strategy, _data(strategy, sim_jets, resim_jets), out, 4,
                               "--accelerator", "cpu", "--devices", "2", *extra)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 4
