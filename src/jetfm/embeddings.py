"""A frozen backbone's per-jet outputs, computed once and cached (transfer and anomaly read them).

`compute_embeddings` runs a backbone (and its representation heads) in eval mode over jets and
returns one representation (`models.heads.representation`: cls, mean, projection, bottleneck)
or its class probabilities. `cached_embeddings` does it for a trained run, once: the result is
kept in jetfm's cache folder under a hash of (the run's weights file — heads included — the
dataset, the caller's key, the representation or output). Each entry is checked against its
`.sha256` on every read (`cache.cached_file`); a damaged entry is rebuilt with a warning, and an
unwritable cache only costs the computation.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from .cache import cache_dir, cached_file, file_sha256
from .data.features import FlatJets
from .errors import ConfigError
from .models.heads import representation as represent

if TYPE_CHECKING:
    from .pretrained import PretrainedRun


def dataset_key(paths: list[Path]) -> list:
    """The files as a cache key: a file rewritten in place (size or mtime) is a new dataset."""
    return [[str(p.resolve()), os.stat(p).st_size, os.stat(p).st_mtime_ns] for p in paths]


@torch.inference_mode()
def compute_embeddings(model, jets: FlatJets, max_particles: int, batch_size: int = 512,
                       progress: bool = True, output: str = "embedding",
                       representation: str = "cls", heads: dict | None = None) -> np.ndarray:
    """Embeddings of every jet, the backbone (and heads) in eval mode (frozen: BatchNorm,
    dropout fixed): the `representation` (see `models.heads.representation`; `projection` /
    `bottleneck` need that head in `heads`); `output="probs"`: the class probabilities of its
    classification head instead."""
    if output == "probs" and model.config.num_classes is None:
        raise ConfigError("the backbone has no classification head: class scores need a "
                          "supervised or clip run")
    model.eval()
    for head in (heads or {}).values():
        head.eval()
    out = []
    n = len(jets)
    desc = output if output != "embedding" else f"embedding ({representation})"
    with tqdm(total=n, unit="jet", desc=desc, disable=not progress, dynamic_ncols=True) as bar:
        for a in range(0, n, batch_size):
            b = jets.take(np.arange(a, min(n, a + batch_size))).pad(max_particles)
            mask = torch.from_numpy(b["mask"])
            res = model(torch.from_numpy(b["x"]), torch.from_numpy(b["v"]), mask)
            out.append(represent(res, mask, representation, heads).float().numpy()
                       if output == "embedding"
                       else torch.softmax(res.logits.float(), dim=1).numpy())
            bar.update(len(b["x"]))
    return np.concatenate(out)


def cached_embeddings(run: PretrainedRun, jets: FlatJets, key: dict, progress: bool = True,
                      output: str = "embedding",
                      representation: str = "cls") -> tuple[np.ndarray, bool]:
    """(embeddings, from_cache) of `jets` by the trained `run` (`pretrained.open_run`): computed once
    per (its weights file, `key`: dataset, task, features..., representation); `output`,
    `representation` as in `compute_embeddings`, with the run's heads and max_particles. The
    heads are part of the weights file, so its digest covers them."""
    full = {**key, "weights": file_sha256(run.weights_path), "n": len(jets)}
    if output != "embedding":
        full["output"] = output
    else:
        full["representation"] = representation
    built = {}

    def compute() -> np.ndarray:
        return compute_embeddings(run.model, jets, run.data_config.max_particles,
                                  progress=progress, output=output,
                                  representation=representation, heads=run.heads)

    def build(tmp: Path) -> None:
        built["emb"] = compute()
        with open(tmp, "wb") as f:
            np.save(f, built["emb"])

    try:
        path = cached_file(cache_dir() / "embeddings", "emb", ".npy", full, build)
        if "emb" not in built:
            emb = np.load(path)
            if emb.shape[0] == len(jets) and np.isfinite(emb).all():
                return emb, True
    except (OSError, ConfigError, ValueError):
        pass       # an unwritable cache only costs the computation
    return (built["emb"] if "emb" in built else compute()), False


__all__ = ["dataset_key", "compute_embeddings", "cached_embeddings"]
