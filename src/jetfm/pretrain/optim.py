"""Optimisers and learning-rate schedules shared by every strategy.

- `adamw`: torch.optim.AdamW.
- `ranger`: RAdam + Lookahead (k=6, α=0.5), the optimiser weaver-core uses for ParT/Sophon.
Schedule (`flat_decay`, weaver's default): linear warm-up, flat, then exponential decay to
`final_lr_factor` over the last `1 - decay_start` of the steps; `cosine` and `constant` too.
"""
from __future__ import annotations

import math
from collections import defaultdict

import torch

from ..errors import ConfigError

OPTIMIZERS = ("adamw", "ranger")
SCHEDULES = ("flat_decay", "cosine", "constant")


class Lookahead(torch.optim.Optimizer):
    """Lookahead (Zhang et al. 2019) around any optimiser: every k steps the slow weights move
    α of the way to the fast ones and the fast weights restart from there."""

    def __init__(self, base: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5):
        if k < 1 or not 0.0 < alpha <= 1.0:
            raise ConfigError("lookahead needs k >= 1 and 0 < alpha <= 1")
        self.base, self.k, self.alpha = base, k, alpha
        self.param_groups = base.param_groups
        self.defaults = base.defaults
        self.state = defaultdict(dict)       # slow weights live here
        self._steps = 0

    def step(self, closure=None):
        loss = self.base.step(closure)
        self._steps += 1
        if self._steps % self.k == 0:
            for group in self.param_groups:
                for p in group["params"]:
                    slow = self.state[p].setdefault("slow", p.detach().clone())
                    slow.add_(p.detach() - slow, alpha=self.alpha)
                    p.data.copy_(slow)
        return loss

    def zero_grad(self, set_to_none: bool = True):
        self.base.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        slow = {i: self.state[p]["slow"] for i, p in enumerate(
            q for g in self.param_groups for q in g["params"]) if "slow" in self.state[p]}
        return {"base": self.base.state_dict(), "slow": slow, "steps": self._steps}

    def load_state_dict(self, state):
        self.base.load_state_dict(state["base"])
        params = [q for g in self.param_groups for q in g["params"]]
        for i, t in state["slow"].items():
            self.state[params[int(i)]]["slow"] = t.clone()
        self._steps = state["steps"]


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two optimiser groups: decayed weights, and the parameters weight decay must not pull to
    zero — biases, 1-d parameters (norm scales) and whatever a submodule lists in its
    `no_weight_decay()` (ParT: the class token), as weaver and timm do."""
    skip = set()
    for prefix, sub in model.named_modules():
        if hasattr(sub, "no_weight_decay"):
            skip |= {f"{prefix}.{n}" if prefix else n for n in sub.no_weight_decay()}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        plain = name.replace("_orig_mod.", "")   # torch.compile's wrapper prefix
        if p.ndim <= 1 or name.endswith(".bias") or plain in skip:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(params, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if lr <= 0 or not math.isfinite(lr):
        raise ConfigError(f"optimizer.lr must be a positive number, got {lr}")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "ranger":
        return Lookahead(torch.optim.RAdam(params, lr=lr, betas=(0.95, 0.999), eps=1e-5,
                                           weight_decay=weight_decay))
    raise ConfigError(f"optimizer.name {name!r} is not one of {OPTIMIZERS}")


def lr_factor(step: int, *, total: int, warmup: int, schedule: str, decay_start: float,
              final_lr_factor: float) -> float:
    """Multiplier of the base learning rate at `step` (0-based)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant" or total <= 0:
        return 1.0
    if schedule == "cosine":
        t = min(1.0, (step - warmup) / max(1, total - warmup))
        return final_lr_factor + (1 - final_lr_factor) * 0.5 * (1 + math.cos(math.pi * t))
    start = max(warmup, int(decay_start * total))
    if step < start:
        return 1.0
    t = min(1.0, (step - start) / max(1, total - start))
    return final_lr_factor ** t


def build_scheduler(optimizer, *, total: int, warmup: int, schedule: str, decay_start: float,
                    final_lr_factor: float):
    if schedule not in SCHEDULES:
        raise ConfigError(f"optimizer.schedule {schedule!r} is not one of {SCHEDULES}")
    if not 0.0 <= decay_start <= 1.0 or not 0.0 < final_lr_factor <= 1.0:
        raise ConfigError("optimizer.decay_start must be in [0, 1] and final_lr_factor in (0, 1]")
    fn = lambda step: lr_factor(step, total=total, warmup=warmup, schedule=schedule,
                                decay_start=decay_start, final_lr_factor=final_lr_factor)
    # Lookahead shares its param_groups with the base optimiser, so scheduling it sets both.
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)
