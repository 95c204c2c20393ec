"""Particle masking for masked-prediction strategies (P-JEPA)."""
from __future__ import annotations

import torch


def random_particle_mask(real: torch.Tensor, lo: float = 0.3, hi: float = 0.5,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Targets: a fraction U(lo, hi) of each jet's real particles (`real`: (N, P) bool), never
    padding, and at least one target and one context particle per jet with ≥ 2 particles
    (a one-particle jet gets no target). Returns (N, P) bool."""
    if not 0.0 < lo <= hi < 1.0:
        raise ValueError(f"mask fractions need 0 < lo <= hi < 1, got {lo}, {hi}")
    n = real.sum(dim=1)
    frac = lo + (hi - lo) * torch.rand(len(n), generator=generator, device=real.device)
    k = torch.round(frac * n).long().clamp(min=1)
    k = torch.minimum(k, n - 1).clamp(min=0)
    score = torch.rand(real.shape, generator=generator, device=real.device)
    score = score.masked_fill(~real, 2.0)                # padding sorts last, never chosen
    rank = score.argsort(dim=1).argsort(dim=1)
    return (rank < k[:, None]) & real


__all__ = ["random_particle_mask"]
