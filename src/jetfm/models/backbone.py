"""`jetfm.models.load_backbone`: a run's backbone for your own code (bench/, notebooks).

A thin wrapper over the one seam that opens a trained run, `RunDir(run_dir).load()`
(`jetfm.pretrained`), which loads the weights strictly; this adds only the optional removal of
the classification head."""
from __future__ import annotations

import os

from ..errors import DataError
from ..runs import RunDir
from .part import ParticleTransformer


def load_backbone(run_dir: str | os.PathLike, drop_head: bool = False,
                  device: str = "cpu") -> ParticleTransformer:
    """The run's exported backbone (whatever the strategy: `jepa` saves its target encoder),
    loaded with strict key matching from RUN/model.safetensors, in eval mode.

    `drop_head=True` returns it without the classification head (an embedding-only model);
    every other tensor must still load, which is checked key by key."""
    run = RunDir(run_dir).load(device)
    model = run.model
    if not drop_head or model.config.num_classes is None:
        return model
    bare = ParticleTransformer(model.config.replace(num_classes=None, fc_params=()))
    state = {k: v for k, v in model.state_dict().items() if k in bare.state_dict()}
    missing, unexpected = bare.load_state_dict(state, strict=False)
    dropped = set(model.state_dict()) - set(state)
    if missing or unexpected or not all(k.startswith("fc.") for k in dropped):
        raise DataError(f"{run.weights_path}: backbone keys do not match (missing "
                        f"{missing[:3]}, unexpected {unexpected[:3]}, dropped "
                        f"{sorted(dropped)[:3]})")
    return bare.to(device).eval()


__all__ = ["load_backbone"]
