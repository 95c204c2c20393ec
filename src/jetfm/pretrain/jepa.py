"""P-JEPA: predict, in latent space, the embeddings of masked particles.

- Masking happens *before* the context encoder: the context encoder (the backbone) runs with
  the targets masked out exactly like padding, so neither it nor the predictor ever sees a
  target particle's features (no leak through attention or pair features).
- Predictor: a narrow plain transformer fed the context's aggregated token (class attention)
  and one mask token per target particle. A mask token is a learned vector plus an MLP
  embedding of that particle's (Δη, Δφ) — *where* to predict, nothing about *what* is there.
- Target encoder: a copy of the backbone, no gradients, updated only by EMA (momentum 0.996 →
  1, cosine, over the run) exactly once per optimizer step (`optimizer_step`, so never on
  gradient-accumulation micro-steps); it sees every particle. It is the exported backbone.
- Loss = w_particle · smooth-L1(predicted, target embeddings of the masked particles)
       + w_aggregate · smooth-L1(predicted aggregate, target encoder's class-attention token
         over the masked particles alone)
       + w_pid · 5-class cross-entropy of the particle type of the masked particles.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .heads import EMA, mlp
from .masking import random_particle_mask
from .module import PretrainModule


@dataclass(frozen=True)
class JepaOptions:
    mask_min: float = 0.3
    mask_max: float = 0.5
    predictor_dim: int = 192
    predictor_heads: int = 6
    predictor_blocks: int = 4
    ema_start: float = 0.996
    ema_end: float = 1.0
    particle_weight: float = 1.0
    aggregate_weight: float = 1.0
    pid_weight: float = 0.1
    position_features: tuple[int, ...] = (15, 16)     # Δη, Δφ in the jetclass2 data config
    pid_features: tuple[int, ...] = (6, 7, 8, 9, 10)  # ch. hadron, n. hadron, γ, e, μ flags

    def __post_init__(self):
        if not 0 < self.mask_min <= self.mask_max < 1:
            raise ValueError("need 0 < mask_min <= mask_max < 1")
        if self.predictor_dim % self.predictor_heads:
            raise ValueError("predictor_dim must be divisible by predictor_heads")
        if not 0 <= self.ema_start <= self.ema_end <= 1:
            raise ValueError("need 0 <= ema_start <= ema_end <= 1")
        if len(self.position_features) != 2:
            raise ValueError("position_features: the indices of Δη and Δφ")


class Predictor(nn.Module):
    def __init__(self, dim: int, o: JepaOptions):
        super().__init__()
        w = o.predictor_dim
        self.agg_in = nn.Linear(dim, w)
        self.mask_token = nn.Parameter(torch.zeros(w))
        self.position = mlp([2, w, w])
        layer = nn.TransformerEncoderLayer(w, o.predictor_heads, 4 * w, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, o.predictor_blocks, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, dim))

    def forward(self, aggregate, positions, target):
        """aggregate (N, D), positions (N, P, 2), target (N, P) → (N, 1 + P, D)."""
        tokens = torch.cat([self.agg_in(aggregate)[:, None],
                            self.mask_token + self.position(positions)], dim=1)
        keep = torch.cat([torch.ones_like(target[:, :1]), target], dim=1)
        return self.out(self.blocks(tokens, src_key_padding_mask=~keep))


class JepaModule(PretrainModule):
    def __init__(self, backbone, optim, max_steps: int, options: JepaOptions):
        super().__init__(backbone, optim, max_steps, options)
        n_in = backbone.config.input_dim
        if max(options.position_features + options.pid_features) >= n_in:
            raise ValueError(f"feature indices must be < the {n_in} input features")
        dim = backbone.config.embed_dims[-1]
        self.predictor = Predictor(dim, options)
        self.pid_head = nn.Linear(dim, len(options.pid_features))
        self.target = copy.deepcopy(backbone).requires_grad_(False)
        self.ema = EMA(options.ema_start, options.ema_end, total=max_steps)
        self.ema_updates = 0

    def export_backbone(self):
        return self.target

    def encode_context(self, x, v, mask, target):
        """The context encoder's output with every target particle masked out."""
        context = mask & ~target[:, None, :]
        return self.backbone(x, v, context)

    def compute_loss(self, batch: dict):
        o = self.options
        x, v, mask = batch["x"], batch["v"], batch["mask"].bool()
        target = random_particle_mask(mask[:, 0], o.mask_min, o.mask_max)
        ctx = self.encode_context(x, v, mask, target)
        with torch.no_grad():
            self.target.eval()   # fixed BatchNorm/dropout: a teacher, not a student
            full = self.target(x, v, mask)
            has = target.any(dim=1)
            only = self.target(x[has], v[has], target[has][:, None, :])
        positions = x[:, list(o.position_features), :].transpose(1, 2)
        pred = self.predictor(ctx.embedding, positions, target)
        pred_particles, pred_aggregate = pred[:, 1:][target], pred[:, 0][has]
        particle = F.smooth_l1_loss(pred_particles, full.particle_embeddings[target])
        aggregate = F.smooth_l1_loss(pred_aggregate, only.embedding)
        pid_onehot = x[:, list(o.pid_features), :].transpose(1, 2)[target]
        pid = F.cross_entropy(self.pid_head(pred_particles), pid_onehot.argmax(dim=1))
        loss = (o.particle_weight * particle + o.aggregate_weight * aggregate
                + o.pid_weight * pid)
        return loss, {"particle": particle, "aggregate": aggregate, "pid": pid,
                      "masked": target.sum() / mask.sum()}

    def optimizer_step(self, *args, **kwargs):
        super().optimizer_step(*args, **kwargs)
        # exactly once per optimizer step: Lightning calls this hook only on real steps
        self.ema.update(self.target, self.backbone, self.global_step)
        self.ema_updates += 1
