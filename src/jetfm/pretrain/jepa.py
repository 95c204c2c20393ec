"""P-JEPA: predict, in latent space, the embeddings of masked particles.

- Masking happens *before* the context encoder: the context encoder (the backbone) runs with
  the targets masked out exactly like padding, so neither it nor the predictor ever sees a
  target particle's features (no leak through attention or pair features).
- Predictor (`predictor.py`): every context token of the context encoder plus one mask token
  per target carrying only the target's (Δη, Δφ); narrower and shallower than the encoder
  by default (half its width, half its depth, at least 2 blocks).
- Target encoder: a copy of the backbone, no gradients, updated only by EMA exactly once
  per optimizer step (`optimizer_step`, so never on gradient-accumulation micro-steps); it
  sees every particle and is the exported backbone. Its momentum ramps (cosine) from
  `ema_start` to 1; the default start, min(0.996, 1 − 10/steps), lets a short run forget
  the random initialisation (with 0.996 a 1000-step run keeps e^−2 ≈ 14 % of it).
- BatchNorm: the context encoder's statistics are those of jets with 30–50 % of their
  particles removed, so they are not copied into the target encoder; its BatchNorm layers
  run in training mode on the full jets it sees (and keep their own running statistics),
  everything else of it in eval mode (no dropout).
- Loss = w_particle · smooth-L1(predicted, layer-normed target embeddings of the masked
         particles)                                   (ijepa normalises its targets too)
       + w_pid · 5-class cross-entropy of the masked particles' type
       + w_vc · VICReg variance + covariance of the context encoder's class token (optional)
       + w_aggregate · smooth-L1(mean prediction over the targets, target encoder's class
         token over the targets alone)              (off by default: it collapsed the rank)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .heads import EMA
from .losses import variance_covariance
from .masking import random_particle_mask
from .module import PretrainModule
from .predictor import MaskedOptions, build_predictor


@dataclass(frozen=True)
class JepaOptions(MaskedOptions):
    ema_start: float | None = None        # None: min(0.996, 1 - 10 / max_steps)
    ema_end: float = 1.0
    particle_weight: float = 1.0
    aggregate_weight: float = 0.0
    pid_weight: float = 0.1
    vc_weight: float = 0.0
    normalize_targets: bool = True

    def __post_init__(self):
        super().__post_init__()
        if self.ema_start is not None and not 0 <= self.ema_start <= self.ema_end <= 1:
            raise ValueError("need 0 <= ema_start <= ema_end <= 1")
        if min(self.particle_weight, self.aggregate_weight, self.pid_weight,
               self.vc_weight) < 0:
            raise ValueError("loss weights must be >= 0")


def default_ema_start(max_steps: int) -> float:
    """min(0.996, 1 − 10/steps): the target forgets ≥ 99 % of its initialisation; 0 (copy
    the online encoder) for runs too short for any average."""
    return max(0.0, min(0.996, 1.0 - 10.0 / max(max_steps, 1)))


def teacher_mode(net: nn.Module) -> nn.Module:
    """Eval mode (no dropout) except BatchNorm, which normalises with (and updates its
    running statistics from) the batch the teacher sees."""
    net.eval()
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()
    return net


class JepaModule(PretrainModule):
    def __init__(self, backbone, optim, max_steps: int, options: JepaOptions):
        super().__init__(backbone, optim, max_steps, options)
        options.check_features(backbone.config.input_dim)
        dim = backbone.config.embed_dims[-1]
        self.predictor = build_predictor(backbone.config, options, dim)
        self.pid_head = nn.Linear(dim, len(options.pid_features))
        self.target = copy.deepcopy(backbone).requires_grad_(False)
        start = options.ema_start if options.ema_start is not None else \
            default_ema_start(max_steps)
        # buffers are not copied: the target's BatchNorm statistics come from full jets
        self.ema = EMA(start, options.ema_end, total=max_steps, copy_buffers=False)
        self.ema_updates = 0

    def export_backbone(self):
        return self.target

    def encode_context(self, x, v, mask, target):
        """The context encoder's output with every target particle masked out."""
        context = mask & ~target[:, None, :]
        return self.backbone(x, v, context)

    def predict(self, x, v, mask, target):
        """Predictions (N, P, D) in the target slots, and the context encoder's output."""
        ctx = self.encode_context(x, v, mask, target)
        positions = x[:, list(self.options.position_features), :].transpose(1, 2)
        context = mask[:, 0] & ~target
        return self.predictor(ctx.particle_embeddings, context, positions, target), ctx

    def compute_loss(self, batch: dict):
        o = self.options
        x, v, mask = batch["x"], batch["v"], batch["mask"].bool()
        target = random_particle_mask(mask[:, 0], o.mask_min, o.mask_max)
        pred, ctx = self.predict(x, v, mask, target)
        with torch.no_grad():
            if self.training:
                teacher_mode(self.target)
            else:      # validation must not move the target's BatchNorm statistics
                self.target.eval()
            full = self.target(x, v, mask).particle_embeddings[target]
            if o.normalize_targets:
                full = F.layer_norm(full, full.shape[-1:])
        pred_particles = pred[target]
        particle = F.smooth_l1_loss(pred_particles, full)
        pid_onehot = x[:, list(o.pid_features), :].transpose(1, 2)[target]
        pid = F.cross_entropy(self.pid_head(pred_particles), pid_onehot.argmax(dim=1))
        loss = o.particle_weight * particle + o.pid_weight * pid
        logs = {"particle": particle, "pid": pid, "masked": target.sum() / mask.sum()}
        if o.vc_weight > 0:
            var, cov = variance_covariance(ctx.embedding)
            loss = loss + o.vc_weight * (var + cov)
            logs.update(var=var, cov=cov)
        if o.aggregate_weight > 0:
            loss = loss + o.aggregate_weight * self._aggregate_loss(x, v, pred, target, logs)
        return loss, logs

    def _aggregate_loss(self, x, v, pred, target, logs):
        has = target.any(dim=1)
        with torch.no_grad():
            only = self.target(x[has], v[has], target[has][:, None, :]).embedding
        t = target[has].float()[..., None]
        mean_pred = (pred[has] * t).sum(dim=1) / t.sum(dim=1)
        logs["aggregate"] = F.smooth_l1_loss(mean_pred, only)
        return logs["aggregate"]

    def optimizer_step(self, *args, **kwargs):
        super().optimizer_step(*args, **kwargs)
        # exactly once per optimizer step: Lightning calls this hook only on real steps
        self.ema.update(self.target, self.backbone, self.global_step)
        self.ema_updates += 1
