"""Particle Transformer (ParT, arXiv:2202.03772), weight-compatible with weaver-core.

Flow: particle embedding → pair embedding (attention bias from 4-vectors) → particle
blocks → class-attention blocks with a learnable class token → LayerNorm → optional fc
layers → linear head. A weaver ``ParticleTransformer``/Sophon ``state_dict`` loads with
:func:`jetfm.models.weaver_compat.load_weaver_state_dict` and gives the same logits in
eval mode (to float32 rounding, |Δ| ≲ 1e-5: the fast paths in ``embedding.py`` order some
sums differently).

Calling convention (weaver's input layout):
    out = model(x, v, mask)   # x (N, C, P), v (N, 4, P) = (px, py, pz, E), mask (N, 1, P)
    out.logits                # (N, num_classes)   — what weaver's forward returns
    out.embedding             # (N, D)  class token after the final norm (Sophon "latent")
    out.particle_embeddings   # (N, P, D) last particle-block output, zero at padding
    model.logits(x, v, mask)  # shortcut for weaver-style use

Length bucketing (``config.length_buckets``): the embeddings, including the pair MLP,
run once over the whole batch (BatchNorm statistics unchanged); the particle and class
blocks then run per group of similar-length jets, each with its own (n_b, H, P_b, P_b)
bias, and the results are put back in batch order.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from jetfm.models._runtime import is_tracing
from jetfm.models.blocks import Block
from jetfm.models.config import ParTConfig
from jetfm.models.embedding import PairEmbed, ParticleEmbed
from jetfm.models.padding import as_bool_mask, length_groups, pad_particles, trim_padding

# Smallest length bucket, in jets: below this the per-bucket GEMMs get inefficient and the
# Python loop overhead outweighs the P² savings.
MIN_BUCKET_JETS = 16


class ParTOutput(NamedTuple):
    """A NamedTuple (not a dataclass) so tracing/ONNX export see a plain tuple."""

    logits: torch.Tensor | None  # (N, num_classes); None when num_classes is None
    embedding: torch.Tensor  # (N, D)
    particle_embeddings: torch.Tensor  # (N, P, D), P = input length (trimming undone)
    mask: torch.Tensor  # (N, P) bool, True = real particle


def _fc_head(cfg: ParTConfig) -> nn.Sequential | None:
    if cfg.num_classes is None:
        return None
    layers: list[nn.Module] = []
    in_dim = cfg.embed_dim
    for out_dim, drop, *act in cfg.fc_params:
        act_layer = nn.GELU() if act and act[0] == "gelu" else nn.ReLU()  # weaver: relu
        layers.append(nn.Sequential(nn.Linear(in_dim, int(out_dim)), act_layer, nn.Dropout(drop)))
        in_dim = int(out_dim)
    layers.append(nn.Linear(in_dim, cfg.num_classes))
    return nn.Sequential(*layers)


class ParticleTransformer(nn.Module):
    def __init__(self, config: ParTConfig | None = None, **overrides):
        super().__init__()
        cfg = config or ParTConfig()
        if overrides:
            cfg = cfg.replace(**overrides)
        self.config = cfg
        dim = cfg.embed_dim

        self.embed = ParticleEmbed(cfg.input_dim, cfg.embed_dims, cfg.activation)
        self.pair_embed = (
            PairEmbed(
                cfg.pair_input_dim,
                (*cfg.pair_embed_dims, cfg.num_heads),
                activation=cfg.activation,
                pre_activation=cfg.use_pre_activation_pair,
                eps=cfg.pair_eps,
                mode=cfg.pair_mode,
            )
            if cfg.pair_input_dim > 0
            else None
        )
        block = dict(embed_dim=dim, num_heads=cfg.num_heads, ffn_ratio=cfg.ffn_ratio,
                     activation=cfg.activation)
        self.blocks = nn.ModuleList(
            Block(**block, dropout=cfg.dropout, attn_dropout=cfg.attn_dropout,
                  activation_dropout=cfg.activation_dropout)
            for _ in range(cfg.num_layers)
        )
        # class-attention blocks never use dropout (as in the reference configs)
        self.cls_blocks = nn.ModuleList(
            Block(**block, dropout=0.0, attn_dropout=0.0, activation_dropout=0.0)
            for _ in range(cfg.num_cls_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.fc = _fc_head(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.reset_parameters()

    # ------------------------------------------------------------------ init
    @torch.no_grad()
    def reset_parameters(self) -> None:
        """ParT's init: Xavier-uniform linears (q, k, v each treated as its own matrix),
        zero biases, residual branch outputs of block l scaled by 1/√(2l), class token
        ~ N(0, 0.02) truncated. Convs and norms keep PyTorch defaults."""
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                if name.endswith("in_proj"):
                    fan_out, fan_in = module.weight.shape
                    bound = math.sqrt(6.0 / (fan_out // 3 + fan_in))
                    nn.init.uniform_(module.weight, -bound, bound)
                else:
                    nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for layer, blk in enumerate(self.blocks, start=1):
            # keeps the residual stream's variance from growing with depth
            blk.attn.out_proj.weight.div_(math.sqrt(2.0 * layer))
            blk.fc2.weight.div_(math.sqrt(2.0 * layer))
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        return {"cls_token"}

    # --------------------------------------------------------------- forward
    def forward(
        self, x: torch.Tensor, v: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> ParTOutput:
        """x (N, C, P) features, v (N, 4, P) (px, py, pz, E), mask (N, 1, P) or (N, P),
        bool or float, True/1 = real particle (None: all real)."""
        mask = as_bool_mask(mask, x)
        full_len = x.size(-1)
        trim = self.config.trim and not is_tracing()  # a traced length would be a constant
        if trim:
            x, v, mask = trim_padding(x, v, mask)
        # zero the padded slots: garbage there must not reach logs (pair features) or
        # training-time BatchNorm statistics; a no-op for zero-padded inputs
        x = x.masked_fill(~mask, 0)
        v = v.masked_fill(~mask, 0) if v is not None else None

        buckets = self._num_buckets(x.size(0))
        amp = self.config.use_amp and x.is_cuda
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            if buckets > 1:
                h, embedding, real = self._encode_bucketed(x, v, mask, buckets)
            else:
                h, real = self._encode(x, v, mask)
                embedding = self._aggregate(h, real)
            logits = self.fc(embedding) if self.fc is not None else None
        if amp:
            h, embedding = h.float(), embedding.float()
            logits = logits.float() if logits is not None else None

        h = h.masked_fill(~real.unsqueeze(-1), 0)
        if trim:  # give outputs the input's particle axis back
            h, real = pad_particles(h, full_len, dim=1), pad_particles(real, full_len, dim=1)
        return ParTOutput(logits, embedding, h, real)

    def logits(self, x, v=None, mask=None) -> torch.Tensor:
        """Class logits only: the output of weaver's ``ParticleTransformer.forward``."""
        out = self.forward(x, v, mask).logits
        if out is None:
            raise RuntimeError("this model has no classification head (num_classes=None)")
        return out

    def _num_buckets(self, batch_size: int) -> int:
        # dense pairs and tracing/export promise static shapes; bucketing would break that
        if self.config.pair_mode == "dense" or is_tracing():
            return 1
        return min(self.config.length_buckets, batch_size // MIN_BUCKET_JETS)

    @staticmethod
    def _hidden_keys(real: torch.Tensor) -> torch.Tensor:
        """(N, 1, 1, P) True for keys to mask. A jet with no real particle would mask
        every key (NaN softmax); such jets attend to their zeroed padding instead. The
        class token still ignores them."""
        return ~(real | ~real.any(dim=-1, keepdim=True))[:, None, None, :]

    @staticmethod
    def _attn_bias(pair_bias, hidden_keys: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Pair bias (N, H, P, P) or zeros (N, 1, 1, P), with −inf on hidden keys."""
        if pair_bias is None:
            pair_bias = torch.zeros(hidden_keys.shape, dtype=dtype, device=hidden_keys.device)
        # in place: the (N, H, P, P) bias is the largest activation of the model
        return pair_bias.masked_fill_(hidden_keys, float("-inf"))

    def _encode(self, x, v, mask) -> tuple[torch.Tensor, torch.Tensor]:
        real = mask.squeeze(1)  # (N, P)
        h = self.embed(x, real)  # zero at padding
        has_pairs = self.pair_embed is not None and v is not None
        pair_bias = self.pair_embed(v, mask) if has_pairs else None
        bias = self._attn_bias(pair_bias, self._hidden_keys(real), h.dtype)
        for blk in self.blocks:
            h = blk(h, attn_bias=bias)
        return h, real

    def _encode_bucketed(
        self, x, v, mask, num_buckets: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Same outputs as :meth:`_encode` + :meth:`_aggregate`: (h, embedding, real)."""
        real = mask.squeeze(1)  # (N, P)
        n, p = real.shape
        # whole-batch embeddings: per-bucket calls would change training BatchNorm stats
        h = self.embed(x, real)  # zero at padding
        order, groups = length_groups(real, num_buckets)
        # each jet's bucket and row inside it, to route the pair list to the buckets
        dev = order.device
        sizes = torch.tensor([len(g) for g, _ in groups], device=dev)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(n, device=dev)
        bucket = torch.repeat_interleave(torch.arange(len(groups), device=dev), sizes)[rank]
        row = rank - (sizes.cumsum(0) - sizes)[bucket]
        has_pairs = self.pair_embed is not None and v is not None
        if has_pairs:  # one pair MLP call over the whole batch
            b, i, j, elements = self.pair_embed.pair_list(v, mask)
            pair_bucket, pair_row = bucket[b], row[b]

        hs, embeddings = [], []
        for k, (idx, length) in enumerate(groups):
            rb = real[idx, :length]
            pair_bias = None
            if has_pairs:
                sel = pair_bucket == k
                pair_bias = self.pair_embed.scatter_pairs(
                    pair_row[sel], i[sel], j[sel], elements[sel], len(idx), length
                )
            bias = self._attn_bias(pair_bias, self._hidden_keys(rb), h.dtype)
            hb = h[idx, :length]
            for blk in self.blocks:
                hb = blk(hb, attn_bias=bias)
            embeddings.append(self._aggregate(hb, rb))
            hs.append(pad_particles(hb, p, dim=1))
        # rank is the inverse of the sort: back to batch order
        return torch.cat(hs)[rank], torch.cat(embeddings)[rank], real

    def _aggregate(self, h: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        # keys are [class token, particles]; the class token is always visible
        keys = F.pad(real, (1, 0), value=True)
        bias = torch.zeros(keys.shape, dtype=h.dtype, device=h.device)
        bias = bias.masked_fill(~keys, float("-inf"))[:, None, None, :]  # (N, 1, 1, 1+P)
        cls = self.cls_token.expand(h.size(0), -1, -1)
        for blk in self.cls_blocks:
            cls = blk(h, attn_bias=bias, x_cls=cls)
        return self.norm(cls.squeeze(1))


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
