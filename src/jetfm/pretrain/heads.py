"""The EMA helper shared by the strategies; the MLP heads live in `models/heads.py` (exported
representation heads are rebuilt there without the pre-training code)."""
from __future__ import annotations

import math
import torch
import torch.nn as nn

from ..models.heads import MLPHead, mlp


class EMA:
    """Exponential moving average of a network's parameters and buffers into a copy:
    θ_target ← m θ_target + (1 − m) θ_online, m ramped from `start` to `end` (cosine) over
    `total` updates. Call `update` exactly once per optimizer step. Buffers are copied
    unless `copy_buffers=False`."""

    def __init__(self, start: float = 0.996, end: float = 1.0, total: int = 1,
                 copy_buffers: bool = True):
        if not 0.0 <= start <= end <= 1.0:
            raise ValueError(f"EMA momentum needs 0 <= start <= end <= 1, got {start}, {end}")
        self.start, self.end, self.total = start, end, max(1, total)
        self.copy_buffers = copy_buffers   # False: the target keeps its own (BatchNorm stats)

    def momentum(self, step: int) -> float:
        t = min(1.0, step / self.total)
        return self.end - (self.end - self.start) * (math.cos(math.pi * t) + 1) / 2

    @torch.no_grad()
    def update(self, target: nn.Module, online: nn.Module, step: int) -> float:
        m = self.momentum(step)
        for t, o in zip(target.parameters(), online.parameters()):
            t.mul_(m).add_(o.detach(), alpha=1 - m)
        if self.copy_buffers:
            for t, o in zip(target.buffers(), online.buffers()):
                t.copy_(o)
        return m


__all__ = ["EMA", "MLPHead", "mlp"]
