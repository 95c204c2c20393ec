"""The ParT transformer block (NormFormer style), used both for particle self-attention
and for class attention (CaiT-style: a class token queries the particles).

NormFormer (arXiv:2110.09456) adds, on top of a pre-norm block: a LayerNorm after the
attention and after the FFN hidden layer, a learnable per-head scale (``c_attn``) and a
learnable residual scale (``w_resid``). Attribute names match weaver-core.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from jetfm.models._runtime import map_rows
from jetfm.models.attention import BiasedAttention

# inference: the FFN runs over chunks of this many particles ((rows, 4·D) stays in cache)
FFN_CHUNK_ROWS = 512


class Block(nn.Module):
    def __init__(
        self,
        embed_dim: int = 128,
        num_heads: int = 8,
        ffn_ratio: int = 4,
        dropout: float = 0.1,
        attn_dropout: float = 0.1,
        activation_dropout: float = 0.1,
        activation: str = "gelu",
    ):
        super().__init__()
        self.num_heads = num_heads
        ffn_dim = embed_dim * ffn_ratio

        self.pre_attn_norm = nn.LayerNorm(embed_dim)
        self.attn = BiasedAttention(embed_dim, num_heads, dropout=attn_dropout)
        self.post_attn_norm = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(dropout)

        self.pre_fc_norm = nn.LayerNorm(embed_dim)
        self.fc1 = nn.Linear(embed_dim, ffn_dim)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.act_dropout = nn.Dropout(activation_dropout)
        self.post_fc_norm = nn.LayerNorm(ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, embed_dim)

        self.c_attn = nn.Parameter(torch.ones(num_heads))
        self.w_resid = nn.Parameter(torch.ones(embed_dim))

    def forward(
        self,
        x: torch.Tensor,
        attn_bias: torch.Tensor | None = None,
        x_cls: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Particle mode (``x_cls`` None): x (N, P, D) → (N, P, D), ``attn_bias``
        (N, H, P, P). Class mode: x_cls (N, 1, D) attends to [x_cls, x] → (N, 1, D),
        ``attn_bias`` (N, 1, 1, 1+P) masks padded particles."""
        if x_cls is None:
            residual = x
            h = self.attn(self.pre_attn_norm(x), bias=attn_bias)
        else:
            residual = x_cls
            context = self.pre_attn_norm(torch.cat((x_cls, x), dim=1))
            # the query is the *un-normalised* class token, as in the reference ParT
            h = self.attn(x_cls, context, bias=attn_bias)
        # per-head scale; the reference applies it to chunks of the out_proj output
        h = (h.unflatten(-1, (self.num_heads, -1)) * self.c_attn.unsqueeze(-1)).flatten(-2)
        x = residual + self.dropout(self.post_attn_norm(h))

        return map_rows(self._ffn, x, FFN_CHUNK_ROWS) + self.w_resid * x

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act_dropout(self.act(self.fc1(self.pre_fc_norm(x))))
        return self.dropout(self.fc2(self.post_fc_norm(h)))
