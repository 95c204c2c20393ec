"""The masked-particle predictor shared by P-JEPA and masked particle modelling (MPM).

It sees every *context* token of the context encoder (the targets were masked out before the
encoder, as padding is) and, in each target slot, a mask token: one learned vector plus an
MLP embedding of that particle's (Δη, Δφ) — *where* to predict, nothing about *what* is
there (as ijepa adds the targets' positional embeddings to its mask tokens). A plain
pre-norm transformer narrower than the encoder mixes them; its output in the target slots
is the prediction. Padding and nothing else is hidden from attention.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..models.heads import mlp


@dataclass(frozen=True)
class MaskedOptions:
    """The settings masked-prediction strategies share (P-JEPA, MPM)."""
    mask_min: float = 0.3
    mask_max: float = 0.5
    predictor_dim: int | None = None      # None: half the encoder's width
    predictor_heads: int = 4
    predictor_blocks: int | None = None   # None: half the encoder's particle blocks, >= 2
    position_features: tuple[int, ...] = (15, 16)     # Δη, Δφ in the jetclass2 data config
    pid_features: tuple[int, ...] = (6, 7, 8, 9, 10)  # ch. hadron, n. hadron, γ, e, μ flags

    def __post_init__(self):
        if not 0 < self.mask_min <= self.mask_max < 1:
            raise ValueError("need 0 < mask_min <= mask_max < 1")
        if self.predictor_dim is not None and self.predictor_dim % self.predictor_heads:
            raise ValueError("predictor_dim must be divisible by predictor_heads")
        if len(self.position_features) != 2:
            raise ValueError("position_features: the indices of Δη and Δφ")

    def check_features(self, n_features: int) -> None:
        if max(self.position_features + self.pid_features) >= n_features:
            raise ValueError(f"feature indices must be < the {n_features} input features")


def default_width(encoder_dim: int, heads: int) -> int:
    """Half the encoder's width (the P-JEPA talk: 192 under a 512-wide encoder; ijepa: 384
    under 1280), at least 2 × heads, rounded down to a multiple of `heads`."""
    return max(2 * heads, (encoder_dim // 2) // heads * heads)


class MaskedPredictor(nn.Module):
    def __init__(self, encoder_dim: int, width: int, heads: int, blocks: int, out_dim: int):
        super().__init__()
        if width % heads:
            raise ValueError(f"predictor width {width} must be divisible by its {heads} heads")
        self.context_in = nn.Linear(encoder_dim, width)
        self.mask_token = nn.Parameter(torch.zeros(width))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.position = mlp([2, width, width])
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, out_dim))

    def forward(self, context_tokens: torch.Tensor, context: torch.Tensor,
                positions: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """context_tokens (N, P, D) (the encoder's particle embeddings, zero outside
        `context`), context/target (N, P) bool, positions (N, P, 2) → (N, P, out_dim); only
        the rows at `target` are predictions."""
        ctx = self.context_in(context_tokens) * context[..., None]
        masked = (self.mask_token + self.position(positions)) * target[..., None]
        visible = context | target
        # a jet with nothing visible would give a NaN softmax: let it attend to its zeros
        visible = visible | ~visible.any(dim=1, keepdim=True)
        return self.out(self.blocks(ctx + masked, src_key_padding_mask=~visible))


def build_predictor(backbone_config, o: MaskedOptions, out_dim: int) -> MaskedPredictor:
    """The predictor for a backbone, its width and depth defaulting from the backbone's."""
    dim = backbone_config.embed_dims[-1]
    width = o.predictor_dim or default_width(dim, o.predictor_heads)
    blocks = o.predictor_blocks or max(2, backbone_config.num_layers // 2)
    return MaskedPredictor(dim, width, o.predictor_heads, blocks, out_dim)


__all__ = ["MaskedOptions", "MaskedPredictor", "build_predictor", "default_width"]
