"""Sophon++ (`clip`): α = 0 is exactly the supervised objective, truth particles travel with
their jet, the zero-shot helper is the cosine of the two embeddings, and a short run learns."""
from __future__ import annotations

import csv

import numpy as np
import torch

from jetfm.cli import main
from jetfm.data.config import load_data_config
from jetfm.data.dataset import JetDataset
from jetfm.run_logs import csv_logs
from jetfm.models import build_model
from jetfm.pretrained import load_backbone
from jetfm.pretrain.clip import ClipModule, ClipOptions
from jetfm.pretrain.config import OptimConfig
from jetfm.pretrain.supervised import SupervisedModule

torch.set_num_threads(1)
SMALL = dict(projection=(16, 16), gen_embed=(8, 8), gen_pair_embed=(8,), gen_heads=2,
             gen_blocks=1, gen_cls_blocks=1, gen_fc=16)


def _batch(sim_jets):
    ds = JetDataset(sim_jets / "res2p", load_data_config("jetclass2"), batch_size=16,
                    gen_particles=True)
    return next(iter(ds))


def test_truth_particles_come_with_their_jet(sim_jets):
    b = _batch(sim_jets)
    assert {"gx", "gv", "gmask", "gen_valid"} <= set(b)
    assert b["gen_valid"].all()               # Res2P jets always have their X's daughters
    assert (b["gmask"].sum(dim=(1, 2)) >= 1).all()
    flavour = b["gx"][:, 5:, :].sum(dim=1)    # exactly one flavour per real truth particle
    assert torch.equal(flavour.bool(), b["gmask"][:, 0])


def test_alpha_zero_is_exactly_the_supervised_loss(sim_jets):
    batch = _batch(sim_jets)
    torch.manual_seed(0)
    backbone = build_model("tiny", num_classes=188)
    clip = ClipModule(backbone, OptimConfig(), 10, ClipOptions(alpha=0.0, **SMALL)).eval()
    sup = SupervisedModule(backbone, OptimConfig(), 10).eval()
    loss_clip, _ = clip.compute_loss(batch)
    loss_sup, _ = sup.compute_loss(batch)
    assert torch.equal(loss_clip, loss_sup)
    loss_clip.backward()
    for name, p in clip.named_parameters():
        if name.startswith(("contrastive_path", "jet_projection", "gen_", "log_temperature")):
            assert p.grad is None, name
    assert any(p.grad is not None for p in clip.backbone.parameters())
    # and with α > 0 the contrastive side does learn
    clip.options = ClipOptions(alpha=0.1, **SMALL)
    clip.zero_grad()
    clip.compute_loss(batch)[0].backward()
    assert clip.gen_encoder.cls_token.grad is not None and clip.log_temperature.grad is not None


def test_zero_shot_scores_are_cosines(sim_jets):
    b = _batch(sim_jets)
    torch.manual_seed(1)
    clip = ClipModule(build_model("tiny", num_classes=188), OptimConfig(), 10,
                      ClipOptions(**SMALL)).eval()
    hyp = slice(0, 3)                          # three jets' truth particles as hypotheses
    scores = clip.zero_shot_scores(b["x"], b["v"], b["mask"], b["gx"][hyp], b["gv"][hyp],
                                   b["gmask"][hyp])
    assert scores.shape == (16, 3) and scores.abs().max() <= 1 + 1e-6
    with torch.no_grad():
        jet = clip.jet_embedding(clip.backbone(b["x"], b["v"], b["mask"]))
        gen = clip.gen_embedding(b["gx"][hyp], b["gv"][hyp], b["gmask"][hyp])
    direct = torch.nn.functional.cosine_similarity(jet[:, None], gen[None], dim=2)
    assert torch.allclose(scores, direct, atol=1e-5)


def test_clip_run_learns_and_exports(sim_jets, tmp_path):
    opts = [f"--set=strategy_options.{k}={list(v) if isinstance(v, tuple) else v}"
            for k, v in SMALL.items()]
    args = ["pretrain", "--strategy", "clip", "--data", str(sim_jets), "--preset", "tiny",
            "--batch-size", "16", "--out", str(tmp_path / "run"), "--no-progress",
            "--max-steps", "30", "--val-every-steps", "30", "--checkpoint-every-steps", "30",
            "--set", "log_every_steps=1", "--set", "optimizer.lr=2e-3", *opts]
    assert main(args) == 0
    rows = [r for log in csv_logs(tmp_path / "run") for r in csv.DictReader(log.open())]
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses
    assert load_backbone(tmp_path / "run").config.num_classes == 188
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx")]) == 0
