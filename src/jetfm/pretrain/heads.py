"""Small MLP heads (projection, bottleneck) and the EMA helper shared by the strategies."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn


def mlp(dims: Sequence[int], last_activation: bool = False) -> nn.Sequential:
    """Linear layers dims[0] → dims[1] → …, GELU between them (and after the last if asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2 or last_activation:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class EMA:
    """Exponential moving average of a network's parameters and buffers into a copy:
    θ_target ← m θ_target + (1 − m) θ_online, m ramped from `start` to `end` (cosine) over
    `total` updates. Call `update` exactly once per optimizer step."""

    def __init__(self, start: float = 0.996, end: float = 1.0, total: int = 1):
        if not 0.0 <= start <= end <= 1.0:
            raise ValueError(f"EMA momentum needs 0 <= start <= end <= 1, got {start}, {end}")
        self.start, self.end, self.total = start, end, max(1, total)

    def momentum(self, step: int) -> float:
        t = min(1.0, step / self.total)
        return self.end - (self.end - self.start) * (math.cos(math.pi * t) + 1) / 2

    @torch.no_grad()
    def update(self, target: nn.Module, online: nn.Module, step: int) -> float:
        m = self.momentum(step)
        for t, o in zip(target.parameters(), online.parameters()):
            t.mul_(m).add_(o.detach(), alpha=1 - m)
        for t, o in zip(target.buffers(), online.buffers()):
            t.copy_(o)
        return m


__all__ = ["mlp", "EMA"]
