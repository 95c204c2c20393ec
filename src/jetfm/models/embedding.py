"""Input embeddings: per-particle MLP and the pair embedding that becomes the attention bias.

Module and attribute names (``input_bn``, ``embed``) and the ``nn.Sequential`` layouts
mirror weaver-core's so that a weaver ``state_dict`` loads without key mapping. The
forward passes compute the same functions as weaver's modules, but faster:
- only real particles (and real×real pairs) go through the MLPs; padding stays zero;
- the pair MLP runs on a (num_pairs, C) row layout as ``Linear`` layers (a 1×1 Conv1d is
  a Linear), and in eval mode every BatchNorm is folded into the neighbouring Linear;
- without autograd, the MLPs run over cache-sized chunks of rows (:func:`map_rows`).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from jetfm.models._runtime import is_tracing, map_rows
from jetfm.models.pair_features import pair_features_from_kinematics, particle_kinematics

# rows per chunk in inference: (rows × 512) float32 activations stay within a few MB of cache
PARTICLE_CHUNK_ROWS = 1024
PAIR_CHUNK_ROWS = 16384
# CPU GEMMs with a handful of output columns (the last pair layer: one per head) run ~3×
# faster computed transposed
NARROW_OUTPUT = 16


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

    def forward(self, x: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        """``real`` (N, P) bool: run the MLP on real particles only; padded rows are zero.
        BatchNorm still sees the whole (N, C, P) tensor, so training statistics are
        weaver's (padding zeros included)."""
        h = self.input_bn(x).transpose(1, 2)  # (N, P, C)
        if real is None:
            return self.embed(h)
        if is_tracing():  # static shapes for export: every slot, then zero the padding
            return self.embed(h).masked_fill(~real.unsqueeze(-1), 0)
        rows = map_rows(self.embed, h[real], PARTICLE_CHUNK_ROWS)  # (num_real, D)
        out = rows.new_zeros(*real.shape, rows.size(-1))
        out[real] = rows
        return out


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

    def embed_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """(M, C) pair features → (M, H): ``self.embed`` evaluated row-wise.

        Training: BatchNorm on (M, C) has the statistics of weaver's (1, C, M) layout.
        Eval: :meth:`folded_layers` — one matmul + activation per layer."""
        if not self.training:
            layers = self.folded_layers()
            # Python ints from the module config (a traced weight.size() would warn)
            narrow = [m.out_channels <= NARROW_OUTPUT for m in self.embed if isinstance(m, nn.Conv1d)]

            def mlp(h: torch.Tensor) -> torch.Tensor:
                for (weight, bias, act), transposed in zip(layers, narrow):
                    if transposed:  # (out, M) = W·hᵀ, then a view back
                        h = torch.addmm(bias.unsqueeze(1), weight, h.T).T
                    else:
                        h = torch.addmm(bias, h, weight.T)
                    h = act(h) if act is not None else h
                return h

            return map_rows(mlp, rows, PAIR_CHUNK_ROWS)
        for module in self.embed:
            if isinstance(module, nn.Conv1d):
                rows = F.linear(rows, module.weight.squeeze(-1), module.bias)
            else:  # BatchNorm1d takes (M, C) as it takes (N, C, L); activations are element-wise
                rows = module(rows)
        return rows

    def folded_layers(self) -> list[tuple[torch.Tensor, torch.Tensor, nn.Module | None]]:
        """Eval-mode ``self.embed`` as [(weight (out, in), bias, activation or None)].

        BatchNorm with running statistics is an affine map y = s·x + t (s = γ/√(var+ε),
        t = β − s·mean): one before a Linear becomes W·diag(s), W·t + b; one after it
        becomes diag(s)·W, s·b + t. Recomputed per call (a few 64×64 products), so it is
        always in step with the parameters."""
        layers: list[list] = []
        scale = shift = None  # a BatchNorm waiting for the next Linear
        # fold in double (then the folded weights are correctly rounded) where supported
        device = self.embed[1].weight.device
        f64 = torch.float64 if device.type in ("cpu", "cuda") else torch.float32
        for module in self.embed:
            if isinstance(module, nn.BatchNorm1d):
                s = module.weight.to(f64) / torch.sqrt(module.running_var.to(f64) + module.eps)
                t = module.bias.to(f64) - s * module.running_mean.to(f64)
                if layers and layers[-1][2] is None:  # right after a Linear: fold into it
                    w, b, _ = layers[-1]
                    layers[-1][:2] = [w * s.unsqueeze(1), b * s + t]
                else:  # before the next Linear
                    scale, shift = s, t
            elif isinstance(module, nn.Conv1d):
                w, b = module.weight.squeeze(-1).to(f64), module.bias.to(f64)
                if scale is not None:
                    w, b = w * scale, b + w @ shift
                    scale = shift = None
                layers.append([w, b, None])
            else:
                layers[-1][2] = module
        dtype = self.embed[1].weight.dtype
        return [(w.to(dtype), b.to(dtype), act) for w, b, act in layers]

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
        # [b, :, i] picks (num_pairs, C): one row per pair
        feats = self._features(v, (b, slice(None), i), (b, slice(None), j))
        return b, i, j, self.embed_rows(feats)

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
        rows = feats.transpose(1, 2).reshape(-1, feats.size(1))  # (N·P(P+1)/2, C)
        elements = self.embed_rows(rows).view(n, -1, self.out_dim).transpose(1, 2)
        bias = elements.new_zeros(n, self.out_dim, p, p)
        bias[:, :, i, j] = elements
        bias[:, :, j, i] = elements
        real = mask.reshape(n, 1, p)
        return bias.masked_fill_(~(real.unsqueeze(-1) & real.unsqueeze(-2)), 0)
