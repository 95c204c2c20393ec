"""Jets of a task, the fixed test split, the label sweep and cached frozen embeddings.

- `load_task_jets`: every jet of the files that belongs to a class of the task, as model inputs
  (the backbone's feature config, no selection cuts, no labels of its own) with `label` = the
  task class.
- `split`: a stratified test set fixed by `test_seed` (the same for every mode, strategy and
  labels-per-class), a validation set (model/k selection) and the training pool.
- `draw_per_class`: exactly N training jets per class for one (N, seed).
- `embeddings`: the frozen backbone's embeddings of all jets — the chosen representation
  (`models.heads.representation`: cls, mean, projection, bottleneck) — computed once and cached
  in jetfm's cache folder by a hash of (backbone weights and heads, files, task, feature
  config, representation).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..cache import cache_dir, cached_file, file_sha256
from ..data.config import DataConfig
from ..data.features import FlatJets, compute_flat
from ..data.files import list_units
from ..data.paths import expand_paths
from ..data.readers import iter_jets
from ..errors import ConfigError, DataError
from ..models.heads import representation as represent
from .tasks import Task, assign_classes


def data_paths(files) -> list[Path]:
    """The files of `--data`, each once, in one canonical order: the jets, hence the test set
    drawn from them by --test-seed, must not depend on the order --data names them in."""
    paths = sorted({Path(p).resolve() for p in expand_paths(files)}, key=str)
    if not paths:
        raise ConfigError("--data: no Parquet/ROOT files found")
    return paths


def load_task_jets(files, task: Task, cfg: DataConfig, max_per_class: int | None = None,
                   progress: bool = True) -> tuple[FlatJets, list[Path]]:
    paths = data_paths(files)
    for path in paths:     # from the footers, before reading: a file without jets is a mistake
        if not sum(unit.num_rows for unit in list_units(path)):
            raise DataError(f"--data {path}: no jets in this file; leave it out")
    model_cfg = dataclasses.replace(cfg, labels=None, selection=())
    columns = list(dict.fromkeys(model_cfg.required_columns() + task.columns()))
    parts, counts = [], np.zeros(len(task.classes), np.int64)
    bar = tqdm(unit="jet", desc=f"read {task.name}", disable=not progress, dynamic_ncols=True)
    for path, batch in iter_jets(paths, columns=columns):
        cls = assign_classes(task, batch, path)
        if max_per_class is not None:     # keep the first max_per_class jets of each class
            for k in range(len(task.classes)):
                idx = np.flatnonzero(cls == k)
                cls[idx[max(0, max_per_class - counts[k]):]] = -1
        keep = np.flatnonzero(cls >= 0)
        bar.update(len(batch))
        if not len(keep):
            continue
        flat = compute_flat(batch[keep], model_cfg, path=path)
        flat.jets["label"] = cls[keep]
        counts += np.bincount(cls[keep], minlength=len(task.classes))
        parts.append(flat)
    bar.close()
    if not parts:
        raise DataError(f"no jet of {len(paths)} file(s) belongs to a class of task "
                        f"{task.name!r} ({', '.join(task.class_names)})")
    if (counts > 0).sum() < 2:
        raise DataError(f"task {task.name!r}: --data ({len(paths)} file(s)) has jets of fewer "
                        f"than two classes; counts per class: {counts.tolist()}")
    return FlatJets.concat(parts), paths


@dataclasses.dataclass
class Split:
    test: np.ndarray
    val: np.ndarray
    pool: np.ndarray      # training pool: the label sweep draws from here


def split(labels: np.ndarray, test_seed: int, test_fraction: float = 0.25,
          val_fraction: float = 0.15) -> Split:
    """Stratified: per class, a `test_fraction` test set and `val_fraction` validation set."""
    rng = np.random.default_rng(test_seed)
    test, val, pool = [], [], []
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        n_test = max(1, int(round(test_fraction * len(idx))))
        n_val = max(1, int(round(val_fraction * len(idx))))
        if len(idx) < n_test + n_val + 1:
            raise DataError(f"class {k} has {len(idx)} jets: too few for a test, a validation "
                            "and a training jet; add data")
        test.append(idx[:n_test])
        val.append(idx[n_test:n_test + n_val])
        pool.append(idx[n_test + n_val:])
    return Split(*(np.sort(np.concatenate(x)) for x in (test, val, pool)))


def draw_per_class(labels: np.ndarray, pool: np.ndarray, n: int | None,
                   seed: int) -> np.ndarray | None:
    """Exactly `n` jets of each class from `pool` (None: all of it); None if a class has
    fewer than `n` in the pool."""
    if n is None:
        return pool
    rng = np.random.default_rng(seed)
    out = []
    for k in np.unique(labels[pool]):
        idx = pool[labels[pool] == k]
        if len(idx) < n:
            return None
        out.append(rng.choice(idx, n, replace=False))
    return np.sort(np.concatenate(out))


def dataset_key(paths: list[Path]) -> list:
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


def cached_embeddings(weights: Path, model, jets: FlatJets, key: dict, max_particles: int,
                      progress: bool = True, output: str = "embedding",
                      representation: str = "cls",
                      heads: dict | None = None) -> tuple[np.ndarray, bool]:
    """(embeddings, from_cache): computed once per (backbone weights, dataset, task, features,
    representation); `output`, `representation`, `heads` as in `compute_embeddings`. The heads
    are part of the weights file, so its digest covers them."""
    full = {**key, "weights": file_sha256(weights), "n": len(jets)}
    if output != "embedding":
        full["output"] = output
    else:
        full["representation"] = representation
    built = {}

    def compute() -> np.ndarray:
        return compute_embeddings(model, jets, max_particles, progress=progress, output=output,
                                  representation=representation, heads=heads)

    def build(tmp: Path) -> None:
        built["emb"] = compute()
        with open(tmp, "wb") as f:
            np.save(f, built["emb"])

    # verified against its .sha256 on every read: a damaged entry is rebuilt (with a warning)
    try:
        path = cached_file(cache_dir() / "embeddings", "emb", ".npy", full, build)
        if "emb" not in built:
            emb = np.load(path)
            if emb.shape[0] == len(jets) and np.isfinite(emb).all():
                return emb, True
    except (OSError, ConfigError, ValueError):
        pass       # an unwritable cache only costs the computation
    return (built["emb"] if "emb" in built else compute()), False
