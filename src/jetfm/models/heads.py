"""Small MLP heads on the backbone's embedding, and the representations downstream tasks read.

A pre-training strategy may export a *representation head* next to its backbone (saved in the
same `model.safetensors`, see `models/export.py`): the re-simulation projection (what the
RS3L paper's kNN reads, normalised) or the autoencoder's bottleneck `y` (AE(vc)'s
representation). `representation(...)` turns a backbone output into any of them:

- `cls`: the class token after the class-attention blocks (Sophon's "latent"), before any
  projection;
- `mean`: the mean of the real particles' last-block embeddings (padding excluded);
- `projection`, `bottleneck`: the named head applied to `cls`.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

REPRESENTATIONS = ("cls", "mean", "projection", "bottleneck")
HEAD_REPRESENTATIONS = ("projection", "bottleneck")   # need a saved head


def mlp(dims: Sequence[int], last_activation: bool = False) -> nn.Sequential:
    """Linear layers dims[0] → dims[1] → …, GELU between them (and after the last if asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2 or last_activation:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class MLPHead(nn.Module):
    """`mlp(dims)`, optionally L2-normalised at the output; rebuilt from `spec()` alone."""

    def __init__(self, dims: Sequence[int], normalize: bool = False):
        super().__init__()
        if len(dims) < 2 or any(int(d) < 1 for d in dims):
            raise ValueError(f"head widths must be >= 1, at least two, got {list(dims)}")
        self.dims, self.normalize = [int(d) for d in dims], bool(normalize)
        self.net = mlp(self.dims)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        z = self.net(e)
        return F.normalize(z, dim=-1) if self.normalize else z

    def spec(self) -> dict:
        return {"dims": self.dims, "normalize": self.normalize}

    @classmethod
    def from_spec(cls, spec: dict) -> "MLPHead":
        return cls(spec["dims"], spec.get("normalize", False))


def mean_pool(particle_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real particles: (N, P, D) and mask (N, 1, P) or (N, P) → (N, D)."""
    m = mask.reshape(mask.shape[0], -1).to(particle_embeddings.dtype)
    total = torch.einsum("npd,np->nd", particle_embeddings, m)
    return total / m.sum(dim=1, keepdim=True).clamp(min=1.0)


def representation(out, mask: torch.Tensor, name: str = "cls",
                   heads: dict[str, nn.Module] | None = None) -> torch.Tensor:
    """The named representation of a backbone output (`ParTOutput`)."""
    if name == "cls":
        return out.embedding
    if name == "mean":
        return mean_pool(out.particle_embeddings, mask)
    if name in HEAD_REPRESENTATIONS:
        if not heads or name not in heads:
            raise KeyError(name)
        return heads[name](out.embedding)
    raise ValueError(f"representation {name!r} is not one of {REPRESENTATIONS}")


__all__ = ["HEAD_REPRESENTATIONS", "MLPHead", "REPRESENTATIONS", "mean_pool", "mlp",
           "representation"]
