"""Multi-head attention with an additive per-head bias, on top of PyTorch SDPA.

ParT feeds the pair embedding (plus −inf for padded keys) as a float ``attn_mask``, which
SDPA adds to the scaled logits q·kᵀ/√d before the softmax. Weights live in one packed
``in_proj`` (q, k, v stacked on the output dim) and ``out_proj``, the layout weaver-core
uses, so checkpoints load directly.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class BiasedAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.in_proj = nn.Linear(embed_dim, 3 * embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        # (N, L, D) -> (N, H, L, D/H)
        return t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        context: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``query`` (N, Lq, D) attends to ``context`` (N, Lk, D; default: ``query``).

        ``bias`` broadcasts to (N, H, Lq, Lk) and is added to the attention logits.
        """
        if context is None:  # self-attention: one packed projection
            q, k, v = self.in_proj(query).chunk(3, dim=-1)
        else:  # cross-attention (class token): project q and k/v from different inputs
            # through the module, not its .weight, so wrappers (LoRA adapters) see every use;
            # the query is one class token, so projecting its k/v too costs nothing
            d = self.embed_dim
            q = self.in_proj(query)[..., :d]
            k, v = self.in_proj(context)[..., d:].chunk(2, dim=-1)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        if bias is not None and bias.dtype != q.dtype:  # bf16 autocast
            bias = bias.to(q.dtype)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(out.transpose(1, 2).flatten(2))
