"""Padding helpers: canonical masks and per-batch trimming of padded particle slots.

Batches are padded to a fixed length (128 particles for JetClass-II) but most jets have
far fewer constituents; attention and the pair embedding scale as P², so cutting P to the
longest real jet in the batch is the cheapest speed-up there is. Trimming only removes
slots that are padding in *every* jet, so outputs are unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def as_bool_mask(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """(N, 1, P) bool mask (True = real particle); all-real when ``mask`` is None."""
    if mask is None:
        return torch.ones_like(x[:, :1], dtype=torch.bool)
    if mask.dim() == 2:  # accept (N, P) as well
        mask = mask.unsqueeze(1)
    return mask.bool()


def last_positions(mask: torch.Tensor) -> torch.Tensor:
    """(N,) index after the last real particle of each jet (0 for an empty jet).

    Uses the last real *position* rather than the count, so masks with holes (padding
    between real particles) are never cut into.
    """
    mask = mask.reshape(mask.size(0), -1)
    positions = torch.arange(1, mask.size(-1) + 1, device=mask.device)
    return (mask * positions).amax(-1)


def trimmed_length(mask: torch.Tensor) -> int:
    """Index after the last real particle over the whole batch (at least 1)."""
    return max(int(last_positions(mask).amax()), 1)


def length_groups(
    real: torch.Tensor, num_groups: int
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, int]]]:
    """Sort jets by :func:`last_positions` and cut them into ``num_groups`` near-equal groups.

    Returns the sort order and, per group, (jet indices, group length >= 1): every real
    particle of a group's jets lies before its length, so each group can be trimmed alone.
    """
    lengths, order = torch.sort(last_positions(real).clamp(min=1), stable=True)
    groups = order.tensor_split(num_groups)
    ends = torch.tensor([len(g) for g in groups], device=real.device).cumsum(0) - 1
    return order, list(zip(groups, lengths[ends].tolist()))  # one host sync for all groups


def trim_padding(
    x: torch.Tensor, v: torch.Tensor | None = None, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Cut the particle axis (last dim) of ``x`` (N, C, P), ``v`` (N, 4, P) and ``mask``
    (N, 1, P) to the longest real jet in the batch. Returns (x, v, bool mask)."""
    mask = as_bool_mask(mask, x)
    length = trimmed_length(mask)
    if length == mask.size(-1):
        return x, v, mask
    v = v[..., :length] if v is not None else None
    return x[..., :length], v, mask[..., :length]


def pad_particles(t: torch.Tensor, length: int, dim: int = 1) -> torch.Tensor:
    """Zero-pad ``t`` along ``dim`` up to ``length`` (undoes :func:`trim_padding` on outputs)."""
    missing = length - t.size(dim)
    if missing <= 0:
        return t
    pad = [0, 0] * (t.dim() - 1 - (dim % t.dim())) + [0, missing]
    return F.pad(t, pad)
