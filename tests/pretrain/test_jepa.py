"""P-JEPA: masking rules, no leak of target particles into the context, EMA exactly once per
optimizer step (also under gradient accumulation), the target encoder is what is exported."""
from __future__ import annotations

import lightning as L
import torch

from jetfm.models import build_model
from jetfm.pretrain.config import OptimConfig
from jetfm.pretrain.jepa import JepaModule, JepaOptions
from jetfm.pretrain.masking import random_particle_mask

SMALL = JepaOptions(predictor_dim=16, predictor_heads=2, predictor_blocks=1)


def _jets(n=8, p=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, p + 1, (n,), generator=g)
    lengths[0], lengths[1] = 1, 2                       # edge cases
    real = torch.arange(p)[None, :] < lengths[:, None]
    x = torch.randn(n, 17, p, generator=g) * real[:, None]
    x[:, 6:11] = 0
    x[torch.arange(n)[:, None], 6 + torch.randint(0, 5, (n, p), generator=g),
      torch.arange(p)[None, :]] = 1.0                   # one PID flag per particle
    x[:, 6:11] *= real[:, None]
    v = (torch.rand(n, 4, p, generator=g) + 1) * real[:, None]
    v[:, 3] += 3
    return x, v, real[:, None, :]


def test_masking_fractions_and_rules():
    _, _, mask = _jets(n=200, p=40, seed=1)
    real = mask[:, 0]
    target = random_particle_mask(real, 0.3, 0.5, torch.Generator().manual_seed(2))
    assert not (target & ~real).any()                    # never padding
    n, k = real.sum(1), target.sum(1)
    assert k[n == 1].eq(0).all()                         # one particle: nothing to predict
    many = n >= 2
    assert (k[many] >= 1).all() and (k[many] <= n[many] - 1).all()   # ≥ 1 target, ≥ 1 context
    frac = k[n >= 10].float() / n[n >= 10]
    assert frac.min() >= 0.25 and frac.max() <= 0.55 and 0.35 < frac.mean() < 0.45


def test_target_particles_do_not_reach_the_context_encoder():
    torch.manual_seed(0)
    module = JepaModule(build_model("tiny", num_classes=None, fc_params=()), OptimConfig(), 10,
                        SMALL)
    x, v, mask = _jets()
    target = random_particle_mask(mask[:, 0], generator=torch.Generator().manual_seed(3))
    for train in (False, True):
        module.train(train)
        torch.manual_seed(4)                             # same dropout masks in train mode
        a = module.encode_context(x, v, mask, target)
        x2, v2 = x.clone(), v.clone()
        x2.transpose(1, 2)[target] += 7.0                # change every target particle
        v2.transpose(1, 2)[target] *= 3.0
        torch.manual_seed(4)
        b = module.encode_context(x2, v2, mask, target)
        context = mask[:, 0] & ~target
        assert torch.equal(a.embedding, b.embedding)
        assert torch.equal(a.particle_embeddings[context], b.particle_embeddings[context])


class _Batches(torch.utils.data.IterableDataset):
    def __iter__(self):
        for i in range(100):
            x, v, mask = _jets(seed=i)
            yield {"x": x, "v": v, "mask": mask}


def test_ema_once_per_optimizer_step_even_with_gradient_accumulation():
    torch.manual_seed(0)
    module = JepaModule(build_model("tiny", num_classes=None, fc_params=()),
                        OptimConfig(lr=1e-3), 10, SMALL)
    before = [p.detach().clone() for p in module.target.parameters()]
    trainer = L.Trainer(max_steps=3, accumulate_grad_batches=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, torch.utils.data.DataLoader(_Batches(), batch_size=None))
    assert trainer.global_step == 3 and module.ema_updates == 3
    assert not any(p.requires_grad for p in module.target.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, module.target.parameters()))
    assert module.export_backbone() is module.target


def _perturb_targets(x, v, target):
    """Every feature of the target particles but their (Δη, Δφ), and their four-vectors."""
    x2, v2 = x.clone(), v.clone()
    xt = x2.transpose(1, 2)
    keep = xt[..., 15:17].clone()
    xt[target] += 7.0
    xt[..., 15:17] = keep
    v2.transpose(1, 2)[target] *= 3.0
    return x2, v2


def test_predictor_sees_every_context_token_and_no_target():
    torch.manual_seed(0)
    module = JepaModule(build_model("tiny", num_classes=None, fc_params=()), OptimConfig(), 10,
                        JepaOptions()).eval()
    x, v, mask = _jets(n=6, p=12, seed=5)
    target = random_particle_mask(mask[:, 0], generator=torch.Generator().manual_seed(6))
    pred, _ = module.predict(x, v, mask, target)
    x2, v2 = _perturb_targets(x, v, target)
    pred2, _ = module.predict(x2, v2, mask, target)
    assert torch.allclose(pred[target], pred2[target], atol=1e-6)     # no target leaks in
    # every context particle reaches the predictions (not just one aggregated token)
    context = mask[:, 0] & ~target
    jet = int(torch.nonzero((context.sum(1) >= 2) & target.any(1))[0])
    for p in torch.nonzero(context[jet]).flatten():
        x3 = x.clone()
        x3[jet, :15, p] += 1.0
        pred3, _ = module.predict(x3, v, mask, target)
        assert not torch.allclose(pred[jet][target[jet]], pred3[jet][target[jet]])


def test_predictor_is_narrower_than_the_encoder_by_default():
    for preset in ("tiny", "small", "default"):
        backbone = build_model(preset, num_classes=None, fc_params=())
        module = JepaModule(backbone, OptimConfig(), 1000, JepaOptions())
        width = module.predictor.context_in.out_features
        assert width < backbone.config.embed_dims[-1]
        assert len(module.predictor.blocks.layers) <= backbone.config.num_layers


def test_ema_start_suits_the_run_length():
    from jetfm.pretrain.jepa import default_ema_start
    assert default_ema_start(1000) == 0.99 and default_ema_start(10**6) == 0.996
    module = JepaModule(build_model("tiny", num_classes=None, fc_params=()), OptimConfig(),
                        1000, JepaOptions())
    assert module.ema.momentum(0) == 0.99 and module.ema.momentum(1000) == 1.0


def test_target_batchnorm_statistics_come_from_full_jets():
    torch.manual_seed(0)
    module = JepaModule(build_model("tiny", num_classes=None, fc_params=()), OptimConfig(), 10,
                        SMALL).train()
    x, v, mask = _jets(n=16, p=12, seed=7)
    bn_target = module.target.embed.input_bn
    bn_online = module.backbone.embed.input_bn
    module.compute_loss({"x": x, "v": v, "mask": mask})
    full_mean = (x * mask).mean(dim=(0, 2))              # BatchNorm sees padding as zeros
    assert torch.allclose(bn_target.running_mean, bn_target.momentum * full_mean, atol=1e-5)
    assert not torch.allclose(bn_online.running_mean, bn_target.running_mean, atol=1e-4)
    kept = bn_target.running_mean.clone()
    module.ema.update(module.target, module.backbone, 1)  # the EMA does not overwrite them
    assert torch.equal(bn_target.running_mean, kept)
    assert not any(m.training for m in module.target.modules()
                   if isinstance(m, torch.nn.Dropout))
