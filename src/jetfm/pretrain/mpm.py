"""Masked particle modelling (MPM): predict masked particles' *input* features.

The input-space baseline of the BERT/MAE family (anchor: jetssl's MPM, MAE objective): a
fraction U(mask_min, mask_max) of each jet's particles is removed *before* the encoder (as
padding is, so no attention or pair feature carries them), the shared masked predictor
(`predictor.py`) sees every context token plus a mask token with each target's (Δη, Δφ),
and predicts that particle's other features:

- regression (smooth-L1) of every continuous input feature but the position (log pT,
  log E, their ratios, ΔR, charge, impact parameters and their errors), in the data
  config's normalised units;
- classification (cross-entropy) of the particle type from its five type flags.

Unlike P-JEPA the targets are fixed inputs, not an EMA encoder's outputs, so it cannot
collapse; the exported backbone is the encoder itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from .masking import random_particle_mask
from .module import PretrainModule
from .predictor import MaskedOptions, build_predictor


@dataclass(frozen=True)
class MpmOptions(MaskedOptions):
    regression_weight: float = 1.0
    pid_weight: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if min(self.regression_weight, self.pid_weight) < 0:
            raise ValueError("loss weights must be >= 0")


class MpmModule(PretrainModule):
    def __init__(self, backbone, optim, max_steps: int, options: MpmOptions):
        super().__init__(backbone, optim, max_steps, options)
        cfg, o = backbone.config, options
        o.check_features(cfg.input_dim)
        skip = set(o.position_features) | set(o.pid_features)
        self.regressed = [i for i in range(cfg.input_dim) if i not in skip]
        self.predictor = build_predictor(cfg, o, len(self.regressed) + len(o.pid_features))

    def predict(self, x, v, mask, target):
        """(N, P, regressed + types) predictions; only the target slots mean anything."""
        context = mask[:, 0] & ~target
        ctx = self.backbone(x, v, context[:, None, :])
        positions = x[:, list(self.options.position_features), :].transpose(1, 2)
        return self.predictor(ctx.particle_embeddings, context, positions, target)

    def compute_loss(self, batch: dict):
        o = self.options
        x, v, mask = batch["x"], batch["v"], batch["mask"].bool()
        target = random_particle_mask(mask[:, 0], o.mask_min, o.mask_max)
        pred = self.predict(x, v, mask, target)[target]
        truth = x.transpose(1, 2)[target]                 # (masked particles, features)
        n_reg = len(self.regressed)
        regression = F.smooth_l1_loss(pred[:, :n_reg], truth[:, self.regressed])
        pid_truth = truth[:, list(o.pid_features)].argmax(dim=1)
        pid = F.cross_entropy(pred[:, n_reg:], pid_truth)
        pid_acc = (pred[:, n_reg:].argmax(dim=1) == pid_truth).float().mean()
        loss = o.regression_weight * regression + o.pid_weight * pid
        return loss, {"regression": regression, "pid": pid, "pid_acc": pid_acc,
                      "masked": target.sum() / mask.sum()}
