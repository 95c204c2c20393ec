"""ParT backbone (weaver-core weight-compatible), presets and helpers."""

from jetfm.models.config import ParTConfig
from jetfm.models.pair_features import PAIR_FEATURE_NAMES, pair_features
from jetfm.models.padding import trim_padding
from jetfm.models.part import ParTOutput, ParticleTransformer, count_parameters
from jetfm.models.presets import PARAMETER_COUNTS, PRESETS, build_model, preset_config
from jetfm.models.weaver_compat import (
    config_from_weaver_state_dict,
    convert_weaver_state_dict,
    load_weaver_state_dict,
    model_from_weaver_state_dict,
)

__all__ = [
    "PAIR_FEATURE_NAMES",
    "PARAMETER_COUNTS",
    "PRESETS",
    "ParTConfig",
    "ParTOutput",
    "ParticleTransformer",
    "build_model",
    "config_from_weaver_state_dict",
    "convert_weaver_state_dict",
    "count_parameters",
    "load_weaver_state_dict",
    "model_from_weaver_state_dict",
    "pair_features",
    "preset_config",
    "trim_padding",
]
