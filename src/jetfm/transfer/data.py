"""Jets of a task, the fixed test split and the label sweep.

- `load_task_jets`: every jet of the files that belongs to a class of the task, as model inputs
  (the backbone's feature config, no selection cuts, no labels of its own) with `label` = the
  task class.
- `split`: a stratified test set fixed by `test_seed` (the same for every mode, strategy and
  labels-per-class), a validation set (model/k selection) and the training pool.
- `draw_per_class`: exactly N training jets per class for one (N, seed).

The frozen backbone's embeddings of these jets are computed and cached by `jetfm.embeddings`
(shared with the anomaly searches).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.config import DataConfig
from ..data.features import FlatJets, compute_flat
from ..data.files import list_units
from ..data.paths import expand_paths
from ..data.readers import iter_jets
from ..errors import ConfigError, DataError
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
