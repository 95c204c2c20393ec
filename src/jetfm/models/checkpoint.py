"""Checkpoints: one self-contained safetensors file per backbone (and its representation heads).

Written by :func:`save_checkpoint`, read by :func:`load_checkpoint` (both re-exported by
``jetfm.models.export``). One ``.safetensors`` file, written atomically. Besides the weights
(the full ``state_dict``, BatchNorm statistics included) its string metadata holds:

- ``jetfm.format`` = ``"jetfm-part-checkpoint"``, ``jetfm.format_version`` = ``"1"`` (``"2"``
  when it holds representation heads);
- ``jetfm.model_config``: JSON of :meth:`ParTConfig.to_dict` — enough to rebuild the
  architecture with no code or preset lookups (presets may change; the file does not);
- ``jetfm.config``: JSON of the run's resolved configuration (whatever dict the caller
  passes: data, training, strategy settings), returned unchanged by ``load_checkpoint``;
- ``jetfm.sha256``: a digest of every tensor's name, dtype, shape and bytes, because the
  safetensors format itself only detects truncation, not flipped bytes;
- ``jetfm.metadata_sha256``: a digest of every other metadata entry (the JSON header's
  settings: a hand-edited feature scale or model setting changes results as surely as a
  flipped weight). Files from jetfm before it are read with a warning that their settings
  are not covered;
- ``jetfm.heads`` (format version 2 only): JSON ``{name: MLPHead.spec()}`` of the optional
  *representation heads* a pre-training strategy exports next to its backbone (the
  re-simulation projection, the autoencoder's bottleneck; see ``models/heads.py``). Their
  tensors are stored as ``heads.<name>.<key>`` in the same file, so one digest covers
  backbone and heads and a transfer can never read a head from another run.

A file without heads is written as format version 1, byte-for-byte what older jetfm wrote
and reads; with heads it is version 2, which older jetfm refuses with a clear message
instead of a confusing "weights do not fit". The ParT still loads strictly: every
non-head key must match, and no ParT key may start with ``heads.``.

JSON rather than YAML because safetensors metadata is str → str and JSON round-trips
exactly; read it from any language with ``safetensors.safe_open(...).metadata()``.
A missing, truncated, corrupt or foreign file raises :class:`jetfm.errors.DataError`
naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from jetfm.errors import ConfigError, DataError, JetfmError
from jetfm.io import atomic_path
from jetfm.models.config import ParTConfig
from jetfm.models.part import ParticleTransformer

CHECKPOINT_FORMAT = "jetfm-part-checkpoint"
CHECKPOINT_VERSION = "1"          # without representation heads
CHECKPOINT_VERSION_HEADS = "2"    # with representation heads (``jetfm.heads`` metadata)
_READABLE_VERSIONS = (CHECKPOINT_VERSION, CHECKPOINT_VERSION_HEADS)
_META_PREFIX = "jetfm."
HEAD_PREFIX = "heads."            # tensor-name prefix of the representation heads
_META_DIGEST = _META_PREFIX + "metadata_sha256"


def _jsonable(obj):
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, ParTConfig):
        return obj.to_dict()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _metadata_digest(metadata: dict[str, str]) -> str:
    entries = {k: v for k, v in metadata.items() if k != _META_DIGEST}
    return hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()


def _head_tensors(heads: dict | None) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """(tensors named heads.<name>.<key>, {name: spec}) of the representation heads."""
    from jetfm.models.heads import MLPHead
    tensors, specs = {}, {}
    for name, head in (heads or {}).items():
        if not isinstance(name, str) or not name or "." in name:
            raise ConfigError(f"representation head name {name!r}: give a non-empty name "
                              "without dots")
        if not isinstance(head, MLPHead):
            raise ConfigError(f"representation head {name!r} is a {type(head).__name__}; "
                              "only jetfm.models.heads.MLPHead can be rebuilt from a checkpoint")
        specs[name] = head.spec()
        for key, t in head.state_dict().items():
            tensors[f"{HEAD_PREFIX}{name}.{key}"] = t.detach().cpu().contiguous().clone()
    return tensors, specs


def save_checkpoint(model: nn.Module, config: dict | None, path: str | os.PathLike,
                    heads: dict | None = None) -> Path:
    """Write weights + architecture + the run's resolved ``config`` to one safetensors file.

    ``config`` must be JSON-serialisable (paths, sets, numpy scalars and ``ParTConfig``
    values are converted). ``heads``: optional representation heads, name → ``MLPHead``
    (names without dots), stored in the same file under ``heads.<name>.`` and covered by the
    same checksum; read them back with ``load_checkpoint(..., with_heads=True)``. Returns the
    path written.
    """
    from safetensors.torch import save_file

    from jetfm.models.export import _unwrap   # export imports this module
    part = _unwrap(model)
    try:
        run_config = json.dumps(config if config is not None else {}, default=_jsonable)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"checkpoint config is not JSON serialisable: {err}") from err
    # clone: safetensors refuses tensors that share storage, and wants contiguous CPU data
    tensors = {k: t.detach().cpu().contiguous().clone() for k, t in part.state_dict().items()}
    head_tensors, specs = _head_tensors(heads)
    clash = [k for k in tensors if k.startswith(HEAD_PREFIX)]
    if clash and specs:      # cannot happen with jetfm's ParT; would make loading ambiguous
        raise ConfigError(f"model keys {clash[:3]} start with {HEAD_PREFIX!r}; cannot store "
                          "representation heads next to them")
    tensors.update(head_tensors)
    metadata = {
        _META_PREFIX + "format": CHECKPOINT_FORMAT,
        _META_PREFIX + "format_version": CHECKPOINT_VERSION_HEADS if specs else CHECKPOINT_VERSION,
        _META_PREFIX + "model_config": json.dumps(part.config.to_dict()),
        _META_PREFIX + "config": run_config,
        _META_PREFIX + "sha256": _digest(tensors),
    }
    if specs:
        metadata[_META_PREFIX + "heads"] = json.dumps(specs)
    metadata[_META_DIGEST] = _metadata_digest(metadata)
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu",
                    with_heads: bool = False):
    """Rebuild the model saved by :func:`save_checkpoint`.

    Returns ``(model, config)``, or ``(model, config, heads)`` with ``with_heads=True``:
    the model in eval mode on ``device``, ``config`` the dict given at save time and
    ``heads`` the representation heads (name → ``MLPHead``, eval mode, on ``device``; ``{}``
    for a checkpoint saved without heads). The model and every head load strictly."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise DataError(f"{path}: not a readable safetensors checkpoint ({err})") from err

    fmt = metadata.get(_META_PREFIX + "format")
    if fmt != CHECKPOINT_FORMAT:
        raise DataError(f"{path}: not a jetfm checkpoint (metadata format {fmt!r})")
    version = metadata.get(_META_PREFIX + "format_version")
    if version not in _READABLE_VERSIONS:
        raise DataError(f"{path}: checkpoint format version {version!r} is not supported "
                        f"(this jetfm reads {', '.join(map(repr, _READABLE_VERSIONS))})")
    if metadata.get(_META_PREFIX + "sha256") != _digest(tensors):
        raise DataError(f"{path}: checkpoint is corrupt (tensor checksum mismatch)")
    if _META_DIGEST not in metadata:
        warnings.warn(f"{path}: written by an older jetfm; its stored settings carry no "
                      "checksum (re-save it to add one)", stacklevel=2)
    elif metadata[_META_DIGEST] != _metadata_digest(metadata):
        raise DataError(f"{path}: checkpoint is corrupt (its header settings do not match "
                        "their checksum: edited or damaged)")
    try:
        model_config = ParTConfig.from_dict(json.loads(metadata[_META_PREFIX + "model_config"]))
        run_config = json.loads(metadata[_META_PREFIX + "config"])
        specs = (json.loads(metadata[_META_PREFIX + "heads"])
                 if version == CHECKPOINT_VERSION_HEADS else {})
        if not isinstance(specs, dict):
            raise ValueError("heads metadata is not a JSON object")
    except (KeyError, ValueError, TypeError, JetfmError) as err:
        raise DataError(f"{path}: checkpoint config is missing or invalid ({err})") from err

    head_state = {k: t for k, t in tensors.items() if k.startswith(HEAD_PREFIX)}
    part_state = {k: t for k, t in tensors.items() if not k.startswith(HEAD_PREFIX)}
    model = ParticleTransformer(model_config)
    try:
        model.load_state_dict(part_state, strict=True)
    except RuntimeError as err:
        raise DataError(f"{path}: weights do not fit the stored architecture: {err}") from err
    heads = _load_heads(path, specs, head_state)
    model = model.to(device).eval()
    if not with_heads:
        return model, run_config
    return model, run_config, {name: h.to(device).eval() for name, h in heads.items()}


def _load_heads(path: Path, specs: dict, state: dict[str, torch.Tensor]) -> dict:
    """Rebuild every head of `specs` from its `heads.<name>.` tensors, strictly: a tensor of
    no listed head, or a head missing a tensor, is a corrupt file."""
    from jetfm.models.heads import MLPHead
    heads, used = {}, set()
    for name, spec in specs.items():
        prefix = f"{HEAD_PREFIX}{name}."
        sub = {k[len(prefix):]: t for k, t in state.items() if k.startswith(prefix)}
        used.update(prefix + k for k in sub)
        try:
            head = MLPHead.from_spec(spec)
            head.load_state_dict(sub, strict=True)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise DataError(f"{path}: representation head {name!r} does not fit its stored "
                            f"spec: {err}") from err
        heads[name] = head
    stray = sorted(set(state) - used)
    if stray:
        raise DataError(f"{path}: tensors {stray[:3]} belong to no stored representation head")
    return heads
