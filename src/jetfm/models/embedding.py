"""Input embeddings: per-particle MLP and the pair embedding that becomes the attention bias.

Module and attribute names (``input_bn``, ``embed``) and the ``nn.Sequential`` layouts
mirror weaver-core's so that a weaver ``state_dict`` loads without key mapping.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from jetfm.models._runtime import is_tracing
from jetfm.models.pair_features import pair_features_from_kinematics, particle_kinematics


def _activation(name: str) -> nn.Module:
    return nn.GELU() if name == "gelu" else nn.ReLU()


class ParticleEmbed(nn.Module):
    """(N, C, P) features → (N, P, D): BatchNorm on the raw inputs, then
    [LayerNorm → Linear → activation] per entry of ``dims``."""

    def __init__(self, input_dim: int, dims: tuple[int, ...], activation: str = "gelu"):
        super().__init__()
        self.input_bn = nn.BatchNorm1d(input_dim)
        layers: list[nn.Module] = []
        for dim in dims:
            layers += [nn.LayerNorm(input_dim), nn.Linear(input_dim, dim), _activation(activation)]
            input_dim = dim
        self.embed = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.input_bn(x).transpose(1, 2))


class PairEmbed(nn.Module):
    """(N, 4, P) four-vectors + (N, 1, P) mask → (N, H, P, P) additive attention bias.

    Pair features go through BatchNorm then [Conv1d(k=1) → BatchNorm → activation] per
    entry of ``dims`` (the last entry is the number of heads). The features are symmetric
    in (i, j), so only the lower triangle is computed and mirrored. Entries for pairs
    that involve a padded particle are zero.

    ``mode="sparse"`` gathers the real×real pairs of the whole batch into one list (cost
    ∝ Σ n_i², and BatchNorm statistics in training see real pairs only, as in weaver's
    default); ``mode="dense"`` evaluates all P(P+1)/2 pairs with static shapes (for
    ``torch.compile``/export; its training-time BatchNorm statistics include padding).
    Tracing and ONNX export always take the dense path.
    """

    def __init__(
        self,
        input_dim: int,
        dims: tuple[int, ...],
        activation: str = "gelu",
        pre_activation: bool = False,
        eps: float = 1e-8,
        mode: str = "sparse",
    ):
        super().__init__()
        self.out_dim = dims[-1]
        self.eps = eps
        self.mode = mode
        layers: list[nn.Module] = [nn.BatchNorm1d(input_dim)]
        for dim in dims:
            layers += [nn.Conv1d(input_dim, dim, 1), nn.BatchNorm1d(dim), _activation(activation)]
            input_dim = dim
        if pre_activation:  # leave the bias un-activated (weaver's constructor default)
            layers = layers[:-1]
        self.embed = nn.Sequential(*layers)

    def _features(self, v: torch.Tensor, index_i, index_j) -> torch.Tensor:
        """(N', 4, ...) features of the pairs (index_i, index_j), each index selecting
        from (N, C, P) tensors, e.g. ``(b, slice(None), i)``."""
        # logs of tiny numbers: always float32, even under bf16 autocast
        with torch.autocast(v.device.type, enabled=False):
            v = v.float()
            kin = particle_kinematics(v)  # per particle, then gathered per pair
            return pair_features_from_kinematics(
                kin[index_i], kin[index_j], v[index_i], v[index_j], eps=self.eps
            )

    def forward(self, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.mode == "dense" or is_tracing():
            return self._forward_dense(v, mask)
        return self._forward_sparse(v, mask)

    def _forward_sparse(self, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, _, p = v.shape
        return self.scatter_pairs(*self.pair_list(v, mask), n, p)

    def pair_list(
        self, v: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Embed the real×real pairs (i >= j) of the whole batch: returns (b, i, j,
        elements (num_pairs, H)). Kept apart from :meth:`scatter_pairs` so length-bucketed
        models embed all pairs in one call (same BatchNorm statistics) and scatter per bucket."""
        n, _, p = v.shape
        real = mask.reshape(n, p)
        pairs = torch.tril(real.unsqueeze(2) & real.unsqueeze(1))  # i >= j, both real
        b, i, j = pairs.nonzero(as_tuple=True)
        # [b, :, i] picks (num_pairs, C); the pairs then form one (1, C, num_pairs) sequence
        feats = self._features(v, (b, slice(None), i), (b, slice(None), j))
        elements = self.embed(feats.T.unsqueeze(0)).squeeze(0).T  # (num_pairs, H)
        return b, i, j, elements

    def scatter_pairs(self, b, i, j, elements: torch.Tensor, n: int, p: int) -> torch.Tensor:
        """(N, H, P, P) bias from a pair list (mirrored; zero for pairs not listed)."""
        bias = elements.new_zeros(n, self.out_dim, p, p)
        bias[b, :, i, j] = elements  # mixed indexing puts the pair dim first: (num_pairs, H)
        bias[b, :, j, i] = elements
        return bias

    def _forward_dense(self, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, _, p = v.shape
        # tril().nonzero() rather than torch.tril_indices, which ONNX cannot export
        i, j = torch.ones(p, p, dtype=torch.bool, device=v.device).tril().nonzero().unbind(1)
        everything = slice(None)
        feats = self._features(v, (everything, everything, i), (everything, everything, j))
        elements = self.embed(feats)  # (N, H, P(P+1)/2)
        bias = elements.new_zeros(n, self.out_dim, p, p)
        bias[:, :, i, j] = elements
        bias[:, :, j, i] = elements
        real = mask.reshape(n, 1, p)
        return bias.masked_fill_(~(real.unsqueeze(-1) & real.unsqueeze(-2)), 0)
