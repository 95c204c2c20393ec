"""Detect graph capture, where data-dependent shapes must be avoided."""

from __future__ import annotations

import torch


def is_tracing() -> bool:
    """True under ``torch.jit.trace`` / ONNX export. Tracing records a data-dependent
    length (trimming, ``nonzero`` pair lists) as a constant, silently wrong for the next
    batch, so callers switch to their static-shape paths."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
