"""Named ParT configurations.

``default`` is the JetClass ParT (weaver's ``example_ParticleTransformer.py``) with the 17
JetClass-II particle features; ``sophon`` is the same backbone with the Sophon head
(``fc_params=[(512, 0.1)]``, 188 JetClass-II classes, ``train_sophon.sh``). ``tiny`` and
``small`` use the same code at CPU-friendly sizes.
"""

from __future__ import annotations

from typing import Any

from jetfm.errors import ConfigError
from jetfm.models.config import ParTConfig
from jetfm.models.part import ParticleTransformer

PRESETS: dict[str, ParTConfig] = {
    "tiny": ParTConfig(
        embed_dims=(32, 64, 32), pair_embed_dims=(16, 16), num_heads=4, num_layers=2,
        num_cls_layers=1,
    ),
    "small": ParTConfig(
        embed_dims=(64, 256, 64), pair_embed_dims=(32, 32, 32), num_heads=4, num_layers=4,
        num_cls_layers=2,
    ),
    "default": ParTConfig(),
    "sophon": ParTConfig(num_classes=188, fc_params=((512, 0.1),)),
}

# Measured against weaver-core 0.5.3 with ParTConfig.weaver_kwargs() (tests/models).
PARAMETER_COUNTS = {"default": 2_143_486, "sophon": 2_304_688}


def preset_config(name: str, **overrides: Any) -> ParTConfig:
    try:
        cfg = PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown ParT preset {name!r}; choose from {sorted(PRESETS)}") from None
    return cfg.replace(**overrides) if overrides else cfg


def build_model(name: str = "default", **overrides: Any) -> ParticleTransformer:
    """A freshly initialised :class:`ParticleTransformer` from a preset (plus overrides)."""
    return ParticleTransformer(preset_config(name, **overrides))
