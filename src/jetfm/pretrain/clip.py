"""Sophon++: CLIP-style matching of a jet to its generator-level quarks and leptons, plus
188-class classification.

- Jet encoder: the backbone (ParT on reconstructed particles) with two class-token paths on
  the same particle embeddings: the backbone's own class attention + head for the 188
  classes, and a second class-attention stack (own class token, same depth and width) whose
  token goes through the contrastive projection MLP (512, 512, 512 at full size).
- Gen encoder: a small ParT (embed (64, 64, 64), pair (32, 32, 32), 4 heads, 4 blocks, 2
  class blocks) over the truth particles of `data/genparts.py`, then fc 256 → projection.
- Loss = α · symmetric InfoNCE (learnable temperature, initial 0.07, clamped to [0.01, 1])
  over jets that have truth particles + β · cross-entropy. α = 0 skips the contrastive path
  entirely: the loss is then exactly the supervised one and neither the second path nor the
  gen encoder gets a gradient.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.genparts import GEN_FEATURES
from ..models import ParticleTransformer
from ..models.blocks import Block
from ..models.config import ParTConfig
from .heads import mlp
from .losses import alignment, info_nce
from .module import PretrainModule
from .supervised import classification_loss


@dataclass(frozen=True)
class ClipOptions:
    alpha: float = 0.1                       # weight of the contrastive loss
    beta: float = 1.0                        # weight of the 188-class cross-entropy
    projection: tuple[int, ...] = (512, 512, 512)
    gen_embed: tuple[int, ...] = (64, 64, 64)
    gen_pair_embed: tuple[int, ...] = (32, 32, 32)
    gen_heads: int = 4
    gen_blocks: int = 4
    gen_cls_blocks: int = 2
    gen_fc: int = 256
    temperature: float = 0.07

    def __post_init__(self):
        if self.alpha < 0 or self.beta < 0 or self.alpha + self.beta == 0:
            raise ValueError("alpha, beta must be >= 0 and not both 0")
        if not 0.01 <= self.temperature <= 1:
            raise ValueError("temperature must be in [0.01, 1]")


class ClassAttentionPath(nn.Module):
    """A second class token + class-attention stack over the backbone's particle embeddings."""

    def __init__(self, cfg: ParTConfig):
        super().__init__()
        dim = cfg.embed_dims[-1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.blocks = nn.ModuleList(
            Block(embed_dim=dim, num_heads=cfg.num_heads, ffn_ratio=cfg.ffn_ratio,
                  activation=cfg.activation, dropout=0.0, attn_dropout=0.0,
                  activation_dropout=0.0) for _ in range(cfg.num_cls_layers))
        self.norm = nn.LayerNorm(dim)

    def no_weight_decay(self) -> set[str]:
        return {"cls_token"}

    def forward(self, h: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        keys = F.pad(real, (1, 0), value=True)
        bias = torch.zeros(keys.shape, dtype=h.dtype, device=h.device)
        bias = bias.masked_fill(~keys, float("-inf"))[:, None, None, :]
        cls = self.cls_token.expand(h.size(0), -1, -1)
        for blk in self.blocks:
            cls = blk(h, attn_bias=bias, x_cls=cls)
        return self.norm(cls.squeeze(1))


class ClipModule(PretrainModule):
    # α = 0, or a batch with < 2 jets that have truth particles, skips the contrastive side
    uses_every_parameter = False

    def __init__(self, backbone, optim, max_steps: int, options: ClipOptions):
        super().__init__(backbone, optim, max_steps, options)
        o = options
        self.contrastive_path = ClassAttentionPath(backbone.config)
        self.jet_projection = mlp([backbone.config.embed_dims[-1], *o.projection])
        self.gen_encoder = ParticleTransformer(ParTConfig(
            input_dim=GEN_FEATURES, embed_dims=o.gen_embed, pair_embed_dims=o.gen_pair_embed,
            num_heads=o.gen_heads, num_layers=o.gen_blocks, num_cls_layers=o.gen_cls_blocks,
            num_classes=None, fc_params=()))
        self.gen_projection = mlp([o.gen_embed[-1], o.gen_fc, o.projection[-1]])
        self.log_temperature = nn.Parameter(torch.tensor(math.log(o.temperature)))

    def jet_embedding(self, out) -> torch.Tensor:
        """The contrastive embedding of a jet from the backbone's output."""
        return self.jet_projection(self.contrastive_path(out.particle_embeddings, out.mask))

    def gen_embedding(self, gx, gv, gmask) -> torch.Tensor:
        return self.gen_projection(self.gen_encoder(gx, gv, gmask).embedding)

    def compute_loss(self, batch: dict):
        o = self.options
        out = self(batch)
        ce, acc = classification_loss(out.logits, batch)
        logs = {"acc": acc, "ce": ce}
        loss = o.beta * ce
        if o.alpha > 0:
            valid = batch["gen_valid"].bool()
            if valid.sum() >= 2:
                jet = self.jet_embedding(out)[valid]
                gen = self.gen_embedding(batch["gx"][valid], batch["gv"][valid],
                                         batch["gmask"][valid])
                temperature = self.log_temperature.clamp(math.log(0.01), 0.0).exp()
                contrastive = info_nce(jet, gen, temperature)
                loss = loss + o.alpha * contrastive
                logs.update(contrastive=contrastive, temperature=temperature.detach(),
                            align=alignment(jet, gen).detach())
        return loss, logs

    @torch.no_grad()
    def zero_shot_scores(self, x, v, mask, gx, gv, gmask) -> torch.Tensor:
        """Cosine similarity of each jet (N) to a hypothesis given as generator-level
        particles (M sets, e.g. X → bb̄ at several masses, in `data/genparts.py` features):
        (N, M). Rank jets by a column to select those that look like that hypothesis."""
        jets = F.normalize(self.jet_embedding(self.backbone(x, v, mask)), dim=1)
        hyp = F.normalize(self.gen_embedding(gx, gv, gmask), dim=1)
        return jets @ hyp.T
