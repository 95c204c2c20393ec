"""Loading weaver-core ParT / Sophon checkpoints.

Our parameter names and shapes equal those of weaver-core's ``ParticleTransformer``, so
the only differences between a weaver checkpoint and our ``state_dict`` are
- a wrapper prefix: ``mod.`` (weaver's example and Sophon wrappers), ``module.`` (DDP),
  ``_orig_mod.`` (``torch.compile``);
- older weaver versions (``nn.MultiheadAttention``) store ``attn.in_proj_weight`` /
  ``attn.in_proj_bias`` where newer ones (and we) have ``attn.in_proj.weight`` / ``.bias``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn as nn

from jetfm.errors import ConfigError
from jetfm.models.config import ParTConfig
from jetfm.models.part import ParticleTransformer

_WRAPPER_PREFIXES = ("mod.", "module.", "_orig_mod.")
_RENAMES = (
    ("attn.in_proj_weight", "attn.in_proj.weight"),
    ("attn.in_proj_bias", "attn.in_proj.bias"),
)
_NON_MODEL_KEYS = ("trimmer._counter",)  # weaver's SequenceTrimmer step counter


def convert_weaver_state_dict(state_dict: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Map a weaver ParT ``state_dict`` (or a ``{"state_dict": ...}`` checkpoint) onto our keys."""
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], Mapping):
        state_dict = state_dict["state_dict"]
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        stripped = True
        while stripped:  # prefixes can stack, e.g. "module.mod."
            stripped = False
            for prefix in _WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, stripped = key[len(prefix):], True
        for old, new in _RENAMES:
            if key.endswith(old):
                key = key[: -len(old)] + new
        if key.endswith(_NON_MODEL_KEYS):
            continue
        out[key] = value
    return out


def load_weaver_state_dict(model: nn.Module, state_dict: Mapping[str, Any], strict: bool = True):
    """Load a weaver-core ParT/Sophon ``state_dict`` into a :class:`ParticleTransformer`.

    Returns ``load_state_dict``'s result (missing / unexpected keys when ``strict=False``).
    """
    return model.load_state_dict(convert_weaver_state_dict(state_dict), strict=strict)


def model_from_weaver_state_dict(
    state_dict: Mapping[str, Any], **overrides: Any
) -> ParticleTransformer:
    """Build a :class:`ParticleTransformer` with the checkpoint's architecture and load it."""
    model = ParticleTransformer(config_from_weaver_state_dict(state_dict, **overrides))
    load_weaver_state_dict(model, state_dict)
    return model


def _indexed(sd: Mapping[str, torch.Tensor], pattern: str) -> list[tuple[int, torch.Tensor]]:
    rx = re.compile(pattern)
    found = [(int(m.group(1)), t) for k, t in sd.items() if (m := rx.fullmatch(k))]
    return sorted(found, key=lambda it: it[0])


def config_from_weaver_state_dict(state_dict: Mapping[str, Any], **overrides: Any) -> ParTConfig:
    """Infer the architecture of a weaver ParT checkpoint from its tensor shapes.

    Things that leave no trace in the weights keep their :class:`ParTConfig` defaults
    (the JetClass/Sophon values): dropout rates, ``activation`` and
    ``use_pre_activation_pair``. Pass ``overrides`` to change them.
    """
    sd = convert_weaver_state_dict(state_dict)
    if "embed.input_bn.weight" not in sd or "blocks.0.c_attn" not in sd:
        raise ConfigError("not a weaver ParticleTransformer state_dict (no embed/blocks keys)")
    embed = _indexed(sd, r"embed\.embed\.(\d+)\.weight")
    pair = _indexed(sd, r"pair_embed\.embed\.(\d+)\.weight")
    n_layers = len(_indexed(sd, r"blocks\.(\d+)\.c_attn"))
    n_cls = len(_indexed(sd, r"cls_blocks\.(\d+)\.c_attn"))
    hidden_fc = _indexed(sd, r"fc\.(\d+)\.0\.weight")
    head = _indexed(sd, r"fc\.(\d+)\.weight")
    fc1 = sd["blocks.0.fc1.weight"]
    kwargs: dict[str, Any] = dict(
        input_dim=sd["embed.input_bn.weight"].numel(),
        embed_dims=tuple(t.shape[0] for _, t in embed if t.dim() == 2),  # Linear, not LayerNorm
        pair_input_dim=pair[0][1].numel() if pair else 0,
        pair_embed_dims=tuple(t.shape[0] for _, t in pair if t.dim() == 3)[:-1],  # Conv1d
        num_heads=sd["blocks.0.c_attn"].numel(),
        num_layers=n_layers,
        num_cls_layers=n_cls,
        ffn_ratio=fc1.shape[0] // fc1.shape[1],
        fc_params=tuple((t.shape[0], 0.1) for _, t in hidden_fc),
        num_classes=head[-1][1].shape[0] if head else None,
    )
    kwargs.update(overrides)
    return ParTConfig(**kwargs)
