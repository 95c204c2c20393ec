"""Pairwise Lorentz-vector features that feed ParT's attention bias.

Four features per particle pair (i, j), as in the ParT paper (arXiv:2202.03772, eq. 3):
ln kT, ln z, ln ΔR and ln m², where ΔR uses rapidity (not pseudorapidity) and every
argument of a log is clamped at ``eps`` (1e-8) so self-pairs (ΔR = 0) and massless pairs
stay finite. Tensors are laid out with the 4-vector components on dim 1, (N, 4, ...),
so the same code serves (N, 4, P, P) grids and (1, 4, num_pairs) gathered pair lists.

The reduction order (``.square().sum(dim=1)``) and the clamps follow weaver-core so that a
weaver-trained pair embedding sees bit-identical inputs.
"""

from __future__ import annotations

import math

import torch

PAIR_FEATURE_NAMES = ("ln_kt", "ln_z", "ln_delta_r", "ln_m2")
NUM_PAIR_FEATURES = len(PAIR_FEATURE_NAMES)


def delta_phi(phi_a: torch.Tensor, phi_b: torch.Tensor) -> torch.Tensor:
    """phi_a − phi_b wrapped into [−π, π)."""
    return torch.remainder(phi_a - phi_b + math.pi, 2 * math.pi) - math.pi


def invariant_mass2(p4: torch.Tensor, eps: float | None = 1e-8) -> torch.Tensor:
    """m² = E² − |p|² of (N, 4, ...) four-vectors (px, py, pz, E), clamped at ``eps``."""
    m2 = p4[:, 3:4].square() - p4[:, :3].square().sum(dim=1, keepdim=True)
    return m2 if eps is None else m2.clamp(min=eps)


def particle_kinematics(p4: torch.Tensor) -> torch.Tensor:
    """(pT, y, φ) of (N, 4, ...) four-vectors (px, py, pz, E) → (N, 3, ...)."""
    px, py, pz, energy = p4.split(1, dim=1)
    pt = p4[:, :2].square().sum(dim=1, keepdim=True).sqrt()
    # y = ½ ln((E+pz)/(E−pz)) written as ln(1 + 2pz/(E−pz)): better conditioned when
    # E ≈ |pz|; the clamp keeps a massless particle along +z finite.
    rapidity = 0.5 * torch.log(1 + (2 * pz) / (energy - pz).clamp(min=1e-20))
    phi = torch.atan2(py, px)
    return torch.cat((pt, rapidity, phi), dim=1)


def pair_features_from_kinematics(
    kin_i: torch.Tensor,
    kin_j: torch.Tensor,
    p4_i: torch.Tensor,
    p4_j: torch.Tensor,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Pair features from per-particle :func:`particle_kinematics` and four-vectors.

    Lets callers evaluate the transcendental per-particle part once per particle (P calls)
    instead of once per pair (P² calls) and gather it per pair afterwards.
    """
    pt_i, y_i, phi_i = kin_i.split(1, dim=1)
    pt_j, y_j, phi_j = kin_j.split(1, dim=1)
    delta_r = ((y_i - y_j).square() + delta_phi(phi_i, phi_j).square()).sqrt()
    pt_min = torch.minimum(pt_i, pt_j)
    ln_kt = torch.log((pt_min * delta_r).clamp(min=eps))
    ln_z = torch.log((pt_min / (pt_i + pt_j).clamp(min=eps)).clamp(min=eps))
    ln_delta_r = torch.log(delta_r.clamp(min=eps))
    ln_m2 = torch.log(invariant_mass2(p4_i + p4_j, eps=eps))
    return torch.cat((ln_kt, ln_z, ln_delta_r, ln_m2), dim=1)


def pair_features(p4_i: torch.Tensor, p4_j: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The four ParT pair features of broadcastable (N, 4, ...) four-vector tensors.

    Returns (N, 4, ...) with channels ordered as :data:`PAIR_FEATURE_NAMES`.
    """
    return pair_features_from_kinematics(
        particle_kinematics(p4_i), particle_kinematics(p4_j), p4_i, p4_j, eps=eps
    )
