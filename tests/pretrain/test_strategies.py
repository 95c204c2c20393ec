"""The self-supervised strategies end to end on tiny generated data: the loss falls, the
embeddings do not collapse, the checkpoint loads as a backbone and exports to ONNX."""
from __future__ import annotations

import csv

import numpy as np
import onnxruntime as ort
import pytest
import torch

from jetfm.cli import main
from jetfm.data.config import load_data_config
from jetfm.data.dataset import JetDataset
from jetfm.run_logs import csv_logs
from jetfm.pretrained import load_backbone
from jetfm.pretrain.registry import REGISTRY

torch.set_num_threads(1)


def _train(data, out, strategy, steps, *extra):
    args = ["pretrain", "--strategy", strategy, "--data", str(data), "--preset", "tiny",
            "--batch-size", "16", "--out", str(out), "--no-progress", "--max-steps", str(steps),
            "--val-every-steps", str(steps), "--checkpoint-every-steps", str(steps),
            "--set", "log_every_steps=1", "--set", "optimizer.lr=2e-3",
            "--set", "optimizer.schedule=constant", *extra]   # 30 steps: no decay
    assert main(args) == 0
    rows = [r for log in csv_logs(out) for r in csv.DictReader(log.open())]
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    final = {k: float(v) for r in rows for k, v in r.items() if v and "/" in k}
    return losses, final


@pytest.mark.parametrize("strategy,extra", [("autoencoder", ()),
                                             ("mpm", ()),
                                             ("resim", ()),
                                             ("jepa", ("--set", "strategy_options.predictor_dim=32",
                                                       "--set", "strategy_options.predictor_heads=4",
                                                       "--set", "strategy_options.predictor_blocks=2"))])
def test_ssl_strategy_learns_and_exports(resim_jets, tmp_path, strategy, extra, capsys):
    losses, final = _train(resim_jets, tmp_path / "run", strategy, 30, *extra)
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses
    assert final["embed/std_mean"] > 1e-3 and final["embed/collapsed"] == 0
    assert "probe/acc" in final
    # the same probe on a frozen random initialisation, and the difference
    assert final["probe/gain"] == pytest.approx(final["probe/acc"] - final["probe/random_acc"])
    model = load_backbone(tmp_path / "run")
    assert model.config.num_classes is None
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx")]) == 0
    names = [o.name for o in ort.InferenceSession(str(tmp_path / "m.onnx")).get_outputs()]
    assert names == ["embedding"]
    # no class head, no class scores: evaluate says so and points to transfer
    assert main(["evaluate", str(tmp_path / "run"), "--out", str(tmp_path / "ev")]) == 2
    assert not (tmp_path / "ev").exists()
    assert "no class head" in capsys.readouterr().err.splitlines()[-1]


def test_resim_batches_hold_explicit_pairs(resim_jets):
    cfg = load_data_config("jetclass2")
    ds = JetDataset(resim_jets, cfg, batch_size=8, shuffle=True, seed=3, buffer_size=16,
                    pair_by="resim_group")
    batches = list(ds)
    assert batches and all({"x2", "v2", "mask2", "resim_group"} <= set(b) for b in batches)
    n_pairs = sum(len(b["x"]) for b in batches)
    assert n_pairs > 20


def test_resim_without_pairs_names_the_file(sim_jets, tmp_path, capsys):
    assert main(["pretrain", "--strategy", "resim", "--data", str(sim_jets / "qcd"), "--preset",
                 "tiny", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "qcd_0000" in err and "jetfm generate --resim 2" in err
    assert not (tmp_path / "r").exists()


def test_supervised_backbone_loads_with_or_without_its_head(sim_jets, tmp_path):
    assert main(["pretrain", "--data", str(sim_jets), "--preset", "tiny", "--batch-size", "16",
                 "--max-steps", "2", "--out", str(tmp_path / "s"), "--no-progress"]) == 0
    full = load_backbone(tmp_path / "s")
    bare = load_backbone(tmp_path / "s", drop_head=True)
    assert full.config.num_classes == 188 and bare.config.num_classes is None
    x = torch.randn(2, 17, 5)
    v = torch.rand(2, 4, 5) + 1
    mask = torch.ones(2, 1, 5, dtype=torch.bool)
    assert torch.equal(full(x, v, mask).embedding, bare(x, v, mask).embedding)


def test_bad_strategy_options_are_refused(sim_jets, tmp_path, capsys):
    for opt, needle in (("strategy_options.latent=0", "must be >= 1"),
                        ("strategy_options.nope=1", "strategy_options.nope")):
        assert main(["pretrain", "--strategy", "autoencoder", "--data", str(sim_jets),
                     "--out", str(tmp_path / "x"), "--set", opt]) == 2
        assert needle in capsys.readouterr().err


def test_pretrain_says_what_each_split_holds_and_warns_below_five_files(resim_jets, capsys,
                                                                         caplog):
    from jetfm.data.paths import expand_paths
    from jetfm.pretrain.run import _describe_splits
    files = expand_paths([resim_jets])
    assert len(files) == 4
    with caplog.at_level("WARNING", logger="jetfm.pretrain.run"):
        _describe_splits({"train": files[:2], "val": files[2:3], "test": files[3:]},
                         "resim_group", verbose=True)
    err = capsys.readouterr().err
    assert "train split: 2 file(s), 120 jets" in err and "pairs" in err.splitlines()[0]
    assert "test split: 1 file(s), 60 jets" in err and "pairs" not in err.splitlines()[2]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3 and all("< 5" in w for w in warned)
    caplog.clear()
    with caplog.at_level("WARNING", logger="jetfm.pretrain.run"):
        _describe_splits({"train": files * 2}, None, verbose=False)   # 8 files: no warning
    assert not caplog.records


@pytest.mark.parametrize("strategy", sorted(REGISTRY))
def test_every_registered_strategy_trains_and_exports(resim_jets, tmp_path, strategy):
    """The contract a new strategy must meet: registered = trains, saves, loads, exports."""
    run = tmp_path / "run"
    assert main(["pretrain", "--strategy", strategy, "--data", str(resim_jets), "--preset",
                 "tiny", "--batch-size", "16", "--out", str(run), "--no-progress",
                 "--max-steps", "2", "--val-every-steps", "2",
                 "--checkpoint-every-steps", "2"]) == 0
    assert load_backbone(run).config.embed_dim > 0
    assert main(["export", str(run), "--out", str(tmp_path / "m.onnx")]) == 0
    assert ort.InferenceSession(str(tmp_path / "m.onnx")).get_outputs()
