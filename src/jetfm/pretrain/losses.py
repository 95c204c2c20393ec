"""Losses shared by the strategies: contrastive (InfoNCE / NT-Xent) and anti-collapse terms.

All take embeddings as (N, D) tensors and return a scalar. Written out from the formulas
(tested against a direct loop on a hand-made example in tests/pretrain/test_pieces.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _not_same_group(groups: torch.Tensor | None, n: int, device) -> torch.Tensor:
    """(n, n) True where j may serve as a negative for i: not i itself (diagonal handled by
    the caller) and not another view of the same group (a false negative)."""
    if groups is None:
        return torch.ones(n, n, dtype=torch.bool, device=device)
    return groups[:, None] != groups[None, :]


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: torch.Tensor | float,
             groups: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP): row i of `a` matches row i of `b`; the other rows of the
    other side are negatives. With `groups`, rows sharing i's group are not negatives."""
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.T / temperature
    n = len(a)
    keep = _not_same_group(groups, n, a.device) | torch.eye(n, dtype=torch.bool, device=a.device)
    logits = logits.masked_fill(~keep, float("-inf"))
    target = torch.arange(n, device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float,
            groups: torch.Tensor | None = None) -> torch.Tensor:
    """NT-Xent (SimCLR) over the 2N views: each view's positive is its partner, the other
    2N − 2 views are negatives (minus same-group views when `groups` is given)."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    g = None if groups is None else torch.cat([groups, groups])
    keep = _not_same_group(g, 2 * n, z.device)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    keep[torch.arange(2 * n, device=z.device), partner] = True       # the positive stays
    keep.fill_diagonal_(False)                                       # never itself
    sim = sim.masked_fill(~keep, float("-inf"))
    return F.cross_entropy(sim, partner)


def alignment(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Wang & Isola's alignment of positive pairs: mean ‖â − b̂‖² of the normalised rows
    (0 = identical directions, 4 = opposite). A diagnostic, logged next to the loss."""
    return (F.normalize(a, dim=1) - F.normalize(b, dim=1)).pow(2).sum(dim=1).mean()


def variance_covariance(e: torch.Tensor, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """VICReg's anti-collapse terms of a batch of embeddings (N, D): the hinge
    mean_d relu(1 − std_d) and the squared off-diagonal covariance summed / D."""
    e = e - e.mean(dim=0)
    std = torch.sqrt(e.var(dim=0) + eps)
    var = F.relu(1.0 - std).mean()
    cov = (e.T @ e) / max(len(e) - 1, 1)
    off = cov - torch.diag(torch.diag(cov))
    return var, off.pow(2).sum() / e.shape[1]


__all__ = ["alignment", "info_nce", "nt_xent", "variance_covariance"]
