"""Export and checkpoints: ONNX in the Sophon convention, safetensors with the resolved config.

ONNX (:func:`export_onnx`)
    Inputs are named as in weaver's ONNX export, outputs as in Sophon's::

        pf_features (N, C, P) float32   particle features (C = 17 for JetClass-II)
        pf_vectors  (N, 4, P) float32   (px, py, pz, E)
        pf_mask     (N, 1, P) float32   1 = real particle, 0 = padding
        -> softmax   (N, num_classes)   class probabilities (rows sum to 1)
        -> embedding (N, D)             class-token embedding after the final norm (D = 128
                                        for default/sophon; the preset's embed dim otherwise)

    N and P are dynamic (axis names ``N`` and ``n_pf``, weaver's). Graph capture makes the
    model take its static-shape path (no trimming, dense pair embedding), so any P works and
    padded slots are masked exactly as in PyTorch. The exported graph is checked with
    onnxruntime against PyTorch at two (N, P) shapes other than the tracing shape, before
    the file is renamed into place: a file at ``path`` has always passed the check.

Checkpoints (:func:`save_checkpoint` / :func:`load_checkpoint`)
    Live in :mod:`jetfm.models.checkpoint` and are re-exported here.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from jetfm.errors import ConfigError, JetfmError
from jetfm.io import atomic_path
from jetfm.models.part import ParticleTransformer

INPUT_NAMES = ("pf_features", "pf_vectors", "pf_mask")
OUTPUT_NAMES = ("softmax", "embedding")
# the TorchScript exporter's range that this graph (SDPA, masked_fill, LayerNorm) exports in
MIN_OPSET, MAX_OPSET = 14, torch.onnx._constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET
DYNAMIC_AXES = {
    **{name: {0: "N", 2: "n_pf"} for name in INPUT_NAMES},
    **{name: {0: "N"} for name in OUTPUT_NAMES},
}
# tracing shape, then the (N, P) shapes the onnxruntime check uses: all different, so a
# length or batch size frozen into the graph fails the check
_TRACE_LENGTHS, _TRACE_P = (9, 4, 1), 12
_CHECK_SHAPES = ((5, 24), (2, 57))


class ExportCheckError(JetfmError):
    """The exported ONNX graph does not reproduce the PyTorch outputs."""


class ProbsAndEmbedding(nn.Module):
    """Sophon's export convention: ``[softmax(logits), embedding]``; a backbone without a
    class head (self-supervised strategies) gives ``[embedding]`` alone."""

    def __init__(self, model: ParticleTransformer):
        super().__init__()
        self.model = model
        self.output_names = OUTPUT_NAMES if model.config.num_classes is not None \
            else OUTPUT_NAMES[1:]

    def forward(self, pf_features, pf_vectors, pf_mask):
        out = self.model(pf_features, pf_vectors, pf_mask)
        if out.logits is None:
            return (out.embedding,)
        return torch.softmax(out.logits, dim=1), out.embedding


def _unwrap(model: nn.Module) -> ParticleTransformer:
    """The ParticleTransformer inside ``torch.compile`` / DDP wrappers."""
    seen = 0
    while not isinstance(model, ParticleTransformer) and seen < 4:
        inner = getattr(model, "_orig_mod", None)
        if inner is None:
            inner = getattr(model, "module", None)
        if inner is None:
            break
        model, seen = inner, seen + 1
    if not isinstance(model, ParticleTransformer):
        raise ConfigError(
            f"expected a jetfm ParticleTransformer, got {type(model).__name__}; weaver models "
            "load with jetfm.models.model_from_weaver_state_dict"
        )
    return model


def random_inputs(
    lengths, num_particles: int, n_features: int = 17, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random, physical, right-padded jets: x (N, C, P), v (N, 4, P), float mask (N, 1, P).

    Massive four-vectors scattered around a jet axis (so every pair feature is finite and
    non-trivial); padded slots are zero, as in weaver's padded arrays."""
    g = torch.Generator().manual_seed(seed)
    n = len(lengths)
    shape = (n, 1, num_particles)
    pt = torch.exp(torch.randn(shape, generator=g))
    eta = 0.5 + 0.3 * torch.randn(shape, generator=g)
    phi = 1.0 + 0.3 * torch.randn(shape, generator=g)
    mass = 0.2 * torch.rand(shape, generator=g)
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    energy = torch.sqrt(px**2 + py**2 + pz**2 + mass**2)
    v = torch.cat((px, py, pz, energy), dim=1)
    x = torch.randn(n, n_features, num_particles, generator=g)
    mask = (torch.arange(num_particles)[None] < torch.as_tensor(lengths)[:, None])
    mask = mask.unsqueeze(1).float()
    return x * mask, v * mask, mask


def _check_lengths(n: int, p: int, seed: int) -> list[int]:
    """n lengths in [1, p], including a full-length and a single-particle jet."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, p + 1, (n,), generator=g).tolist()
    lengths[0] = p
    if n > 1:
        lengths[-1] = 1
    return lengths


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    n_features: int = 17,
    opset: int = 17,
    check: bool = True,
    atol: float = 1e-4,
) -> dict[str, Any]:
    """Export ``model`` to ONNX with outputs ``[softmax (N, C), embedding (N, D)]``.

    The model itself is not modified (a CPU float32 copy in eval mode is exported). With
    ``check``, onnxruntime runs the written graph on random padded jets at two (N, P)
    shapes and every output must agree with PyTorch within ``atol`` (max |Δ|), else
    :class:`ExportCheckError` is raised and nothing is left at ``path``.

    Returns ``{"path", "opset", "atol", "shapes_tested", "max_abs_diff_probs",
    "max_abs_diff_embedding"}`` (diffs and shapes are ``None`` / ``[]`` without ``check``).
    """
    part = _unwrap(model)
    cfg = part.config
    if n_features != cfg.input_dim:
        raise ConfigError(f"n_features={n_features} but the model takes {cfg.input_dim} features")
    if atol < 0:
        raise ConfigError(f"atol must be >= 0, got {atol}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ConfigError(f"--opset must be in [{MIN_OPSET}, {MAX_OPSET}], got {opset}")
    if Path(path).is_dir():
        raise ConfigError(f"--out {path}: is a folder; give a file name such as model.onnx")

    wrapper = ProbsAndEmbedding(copy.deepcopy(part).cpu().float()).eval()
    example = random_inputs(_TRACE_LENGTHS, _TRACE_P, n_features, seed=0)
    path = Path(path)
    result: dict[str, Any] = dict(
        path=str(path), opset=opset, atol=atol, shapes_tested=[],
        max_abs_diff_probs=None, max_abs_diff_embedding=None,
    )
    with atomic_path(path) as tmp:
        with warnings.catch_warnings(), torch.no_grad():
            # the TorchScript exporter is deprecated in torch 2.9+, but the dynamo one needs
            # onnxscript and cannot express the data-dependent trimming we switch off anyway
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
            try:
                torch.onnx.export(
                    wrapper, example, str(tmp), input_names=list(INPUT_NAMES),
                    output_names=list(wrapper.output_names), dynamic_axes=DYNAMIC_AXES,
                    opset_version=opset, do_constant_folding=True, dynamo=False,
                )
            except (torch.onnx.errors.OnnxExporterError, RuntimeError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ConfigError(f"ONNX export at opset {opset} failed: {first}") from exc
        wrapper.eval()  # the exporter restores the mode it found; keep eval regardless
        widths = {"softmax": cfg.num_classes, "embedding": cfg.embed_dims[-1]}
        _finalise(tmp, {n: widths[n] for n in wrapper.output_names})
        if check:
            result.update(_check_onnx(tmp, wrapper, n_features, atol, final_path=path))
    return result


ONNX_PRODUCER_KEY = "jetfm.export"   # metadata_props entry that marks an ONNX file as ours


def _finalise(path: Path, widths: dict[str, int]) -> None:
    """Mark the file as ours, and write every output axis but the batch as its number: the
    exporter leaves symbolic names there (`LayerNormalizationembedding_dim_1`), and consumers
    that size buffers from the static output shapes (CMSSW's ONNXRuntime helper, weaver)
    need the number."""
    import onnx
    model = onnx.load(str(path))
    for out in model.graph.output:
        for dim in list(out.type.tensor_type.shape.dim)[1:]:
            dim.Clear()
            dim.dim_value = widths[out.name]
    entry = model.metadata_props.add()
    entry.key, entry.value = ONNX_PRODUCER_KEY, "1"
    onnx.save(model, str(path))


def is_jetfm_onnx(path: str | os.PathLike) -> bool:
    """True if `path` is an ONNX file written by `export_onnx`."""
    import onnx
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:   # not ONNX at all (protobuf raises DecodeError and friends)
        return False
    return any(p.key == ONNX_PRODUCER_KEY for p in model.metadata_props)


def check_export_target(path: str | os.PathLike, force: bool = False) -> None:
    """Refuse a folder, an unwritable place, or an existing file that jetfm did not write
    (unless `force`), before any work is done."""
    from jetfm.io import check_writable_folder
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--out {path}: is a folder; give a file name such as model.onnx")
    check_writable_folder(path.parent, "--out")
    if path.exists() and not force and not is_jetfm_onnx(path):
        raise ConfigError(f"--out {path}: exists and is not an ONNX file written by jetfm; "
                          "choose another name or pass --force to replace it")


def _check_onnx(onnx_path: Path, wrapper: nn.Module, n_features: int, atol: float,
                final_path: Path) -> dict[str, Any]:
    import onnx
    import onnxruntime as ort

    try:
        onnx.checker.check_model(str(onnx_path))
    except Exception as err:  # onnx raises ValidationError and friends
        raise ExportCheckError(f"{final_path}: exported graph is invalid ONNX: {err}") from err
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    expected = list(wrapper.output_names)
    if names != expected:
        raise ExportCheckError(f"{final_path}: ONNX outputs are {names}, expected {expected}")

    keys = ("probs", "embedding")[-len(expected):]
    worst = {key: 0.0 for key in keys}
    shapes = []
    for k, (n, p) in enumerate(_CHECK_SHAPES):
        x, v, mask = random_inputs(_check_lengths(n, p, seed=k + 1), p, n_features, seed=k + 1)
        got = session.run(None, dict(zip(INPUT_NAMES, (x.numpy(), v.numpy(), mask.numpy()))))
        ref = _reference_outputs(wrapper, x, v, mask)
        for key, a, b in zip(keys, got, ref):
            if a.shape != b.shape:
                raise ExportCheckError(
                    f"{final_path}: ONNX output {key!r} has shape {a.shape} at (N, P) = "
                    f"({n}, {p}), PyTorch gives {b.shape}")
            diff = float(np.abs(a - b).max()) if a.size else 0.0
            if not np.isfinite(diff):
                diff = float("inf")
            worst[key] = max(worst[key], diff)
        shapes.append((n, p))
    if max(worst.values()) > atol:
        raise ExportCheckError(
            f"{final_path}: onnxruntime disagrees with PyTorch: max |Δ| "
            + ", ".join(f"{k} {v:.3g}" for k, v in worst.items()) + f" > atol {atol:g} "
            f"(shapes (N, P) tested: {shapes})")
    return dict(shapes_tested=shapes, max_abs_diff_probs=worst.get("probs"),
                max_abs_diff_embedding=worst["embedding"])


def _reference_outputs(wrapper, x, v, mask) -> list[np.ndarray]:
    with torch.no_grad():
        return [t.numpy() for t in wrapper(x, v, mask)]


# checkpoints live in their own module; re-exported so `jetfm.models.export` keeps its API
from jetfm.models.checkpoint import (  # noqa: E402
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    load_checkpoint,
    save_checkpoint,
)
