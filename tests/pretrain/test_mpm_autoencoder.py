"""Masked particle modelling predicts masked particles' inputs without seeing them; AE(vc)
reconstructs the particles (not its own embedding) and exports its bottleneck."""
from __future__ import annotations

import torch

from jetfm.models import build_model
from jetfm.pretrain.autoencoder import AutoencoderModule, AutoencoderOptions
from jetfm.pretrain.config import OptimConfig
from jetfm.pretrain.masking import random_particle_mask
from jetfm.pretrain.mpm import MpmModule, MpmOptions
from tests.pretrain.test_jepa import _jets, _perturb_targets


def test_mpm_predictions_do_not_see_the_masked_particles():
    torch.manual_seed(0)
    module = MpmModule(build_model("tiny", num_classes=None, fc_params=()), OptimConfig(), 10,
                       MpmOptions()).eval()
    x, v, mask = _jets(n=6, p=12, seed=8)
    target = random_particle_mask(mask[:, 0], generator=torch.Generator().manual_seed(9))
    pred = module.predict(x, v, mask, target)
    x2, v2 = _perturb_targets(x, v, target)
    assert torch.allclose(pred[target], module.predict(x2, v2, mask, target)[target], atol=1e-6)
    assert pred.shape[-1] == 17 - 2 - 5 + 5       # regressed features + 5 particle types
    assert 15 not in module.regressed and 6 not in module.regressed


def test_mpm_loss_reaches_the_encoder():
    torch.manual_seed(0)
    module = MpmModule(build_model("tiny", num_classes=None, fc_params=()), OptimConfig(), 10,
                       MpmOptions()).train()
    x, v, mask = _jets(n=8, p=12, seed=10)
    loss, logs = module.compute_loss({"x": x, "v": v, "mask": mask})
    loss.backward()
    assert {"regression", "pid", "pid_acc"} <= set(logs)
    assert module.backbone.embed.embed[1].weight.grad.abs().sum() > 0


def test_autoencoder_reconstructs_the_particles_not_its_embedding():
    """Two batches the backbone embeds identically but whose particles differ must give
    different reconstruction losses: the target is the input, tied to the particles."""
    torch.manual_seed(0)
    module = AutoencoderModule(build_model("tiny", num_classes=None, fc_params=()),
                               OptimConfig(), 10, AutoencoderOptions(particles=8)).eval()
    x, v, mask = _jets(n=8, p=12, seed=11)
    fixed = module.backbone(x, v, mask)
    module.backbone.forward = lambda *a, **k: fixed        # same embedding whatever the input
    a, _ = module.compute_loss({"x": x, "v": v, "mask": mask})
    b, _ = module.compute_loss({"x": x * 2.0, "v": v, "mask": mask})
    assert not torch.isclose(a, b)
    assert set(module.representation_heads()) == {"bottleneck"}
    y = module.representation_heads()["bottleneck"](fixed.embedding)
    assert y.shape == (8, AutoencoderOptions().latent)
