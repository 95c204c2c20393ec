"""Runtime helpers: graph-capture detection and cache-friendly row-wise evaluation."""

from __future__ import annotations

from typing import Callable

import torch


def is_tracing() -> bool:
    """True under ``torch.jit.trace`` / ONNX export. Tracing records a data-dependent
    length (trimming, ``nonzero`` pair lists) as a constant, silently wrong for the next
    batch, so callers switch to their static-shape paths."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def map_rows(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
             chunk_rows: int) -> torch.Tensor:
    """``fn(x)`` for a row-wise ``fn`` (every output row depends on its input row only;
    rows = all leading dims of ``x``), evaluated ``chunk_rows`` rows at a time.

    An MLP over a few 10⁵ rows is memory-bound: each layer streams its whole (rows, width)
    activation through RAM. In chunks the intermediates stay in cache — 2–3× faster on CPU
    for the pair MLP. Used only on CPU (a GPU wants the big launch), without autograd
    (inference) and outside tracing; otherwise ``fn(x)`` in one call."""
    rows = x.reshape(-1, x.size(-1))
    whole = x.device.type != "cpu" or torch.is_grad_enabled() or is_tracing()
    if whole or rows.size(0) <= chunk_rows:
        return fn(x)
    out = torch.cat([fn(part) for part in rows.split(chunk_rows)])
    return out.view(*x.shape[:-1], out.size(-1))
