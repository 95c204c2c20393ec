"""`jetfm transfer`: one backbone, one task, one mode; a label sweep over seeds; results.json.

The held-out test set is fixed by `test_seed` (written in the results), so every mode,
strategy and labels-per-class is scored on the same jets. Frozen modes fit on cached
embeddings; network modes train a copy of the backbone (or a fresh one for `scratch`) per
(labels-per-class, seed). `--backbone random` is the random-features baseline: a frozen,
randomly initialised backbone (one initialisation per seed) under a frozen mode, the level a
pre-trained backbone's probe has to beat to show it learned something. Output format: see
`RESULTS_FORMAT` and the README.

Frozen modes read one *representation* of the backbone (`--representation`, see
`models/heads.py`): by default the one its pre-training strategy names in the run's config
(`"representation"`: `projection` for resim, `bottleneck` for autoencoder, else `cls`), because
that is what the strategy shaped — the class token of a resim backbone is one projection head
away from the space its loss organised. Network modes always read the class token through
their own head, under the LP-FT schedule of `network.py` (the same for finetune and scratch).
Every run reports per-class recall (Rieck et al. compare kNN recall per class).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ..data.config import load_data_config
from ..embeddings import cached_embeddings, compute_embeddings, dataset_key
from ..errors import ConfigError
from ..io import write_json
from ..metrics.core import rejection_at, roc, thinned_roc
from ..metrics.evaluate import naming_the_file
from ..models.heads import HEAD_REPRESENTATIONS, REPRESENTATIONS
from ..models.presets import build_model
from ..outdir import OutputFolder
from .. import pretrained
from ..pretrained import PretrainedRun
from .data import data_paths, draw_per_class, load_task_jets, split
from .modes import (EMBEDDING, RANDOM, RUN, SCRATCH, TransferMode, get_mode,
                    modes_accepting, modes_of)
from .network import (Schedule, TransferModule, predict_network, train_network,
                      trainable_parameters)
from .tasks import cache_key, get_task

RESULTS_FORMAT = 1
DEFAULT_LABELS = (10, 100, 1000, 10000, None)     # None: all
# --backbone random (RANDOM): frozen random features, the probes' baseline; so it is named
# under "baseline" in results.json
RANDOM_FEATURES = "random-features"
MIN_CLASS_JETS = 5     # fewer jets than this (test + validation + training): class left out


@dataclass(frozen=True)
class TransferConfig:
    backbone: str                 # a pretrain run directory, "scratch" or "random"
    task: str
    mode: str
    data: tuple[str, ...]
    out: str
    labels_per_class: tuple[int | None, ...] = DEFAULT_LABELS
    seeds: int = 3
    test_seed: int = 12345
    max_per_class: int | None = None     # read at most this many jets per class
    steps: int = 300                     # network modes: optimizer steps per run, both phases
    batch_size: int = 64
    lr: float = 1e-3
    backbone_lr_factor: float = 1.0      # finetune: backbone lr = lr × this (network.py: why 1)
    probe_steps: int | None = None       # network modes: head-only steps first (None: steps/3)
    lora_rank: int = 4
    representation: str | None = None    # frozen modes; None: the run's default, else cls
    preset: str = "small"                # scratch/random backbone: this preset
    data_config: str = "jetclass2"       # scratch/random backbone: these features

    def _counts(self) -> str:
        return ",".join("all" if n is None else str(n) for n in self.labels_per_class)

    @property
    def backbone_kind(self) -> str:
        """RUN, RANDOM or SCRATCH (modes.py): what `backbone` names."""
        return self.backbone if self.backbone in (RANDOM, SCRATCH) else RUN

    @property
    def transfer_mode(self) -> TransferMode:
        return get_mode(self.mode)

    @property
    def baseline(self) -> str | None:
        """What results.json records under "baseline": None for a pre-trained backbone."""
        return RANDOM_FEATURES if self.backbone == RANDOM else self.transfer_mode.baseline

    def validate(self) -> None:
        get_task(self.task)
        mode, kind = self.transfer_mode, self.backbone_kind
        if kind not in mode.backbones:
            if kind == RUN:
                raise ConfigError(f"--mode {self.mode} takes --backbone "
                                  f"{' or '.join(mode.backbones)}, not a pretrain run")
            what = " (frozen random features)" if kind == RANDOM else ""
            hint = ("; a randomly initialised network that is trained is --backbone scratch "
                    "--mode scratch" if kind == RANDOM else "")
            raise ConfigError(f"--backbone {kind}{what} goes with --mode "
                              f"{', '.join(modes_accepting(kind))}{hint}")
        if kind != RUN and Path(self.backbone).is_dir():
            raise ConfigError(f"--backbone {self.backbone} is the built-in baseline, but a "
                              f"folder ./{self.backbone} is here too: write "
                              f"--backbone ./{self.backbone} for the run in that folder, or "
                              "run from another folder for the baseline")
        for name, v in (("--seeds", self.seeds), ("--steps", self.steps),
                        ("--batch-size", self.batch_size), ("--lora-rank", self.lora_rank)):
            if v < 1:
                raise ConfigError(f"{name} must be >= 1, got {v}")
        if any(n is not None and n < 1 for n in self.labels_per_class) or not self.labels_per_class:
            raise ConfigError("--labels-per-class: give integers >= 1 or 'all'")
        if len(set(self.labels_per_class)) < len(self.labels_per_class):
            raise ConfigError(f"--labels-per-class: {self._counts()} names a count twice; "
                              "give each once (seeds are --seeds)")
        if not 0 <= self.test_seed < 2**32:
            raise ConfigError(f"--test-seed must be an integer in [0, 2^32), got "
                              f"{self.test_seed}")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be > 0, got {self.lr}")
        if not 0 < self.backbone_lr_factor <= 1:
            raise ConfigError(f"--backbone-lr-factor must be in (0, 1], got "
                              f"{self.backbone_lr_factor}")
        if not mode.on_embeddings:
            self.schedule()      # --probe-steps within [0, --steps)
        rep = self.representation
        if rep is not None and rep not in REPRESENTATIONS:
            raise ConfigError(f"--representation {rep!r}: choose one of "
                              f"{', '.join(REPRESENTATIONS)}")
        if rep is not None and mode.representation not in (None, rep):
            raise ConfigError(f"--representation {rep} is for the frozen modes "
                              f"({', '.join(modes_of(EMBEDDING))}); --mode {self.mode} trains "
                              f"its own head on {mode.representation}")
        if rep in HEAD_REPRESENTATIONS and self.backbone == RANDOM:
            raise ConfigError(f"--representation {rep} reads a head saved by a `jetfm "
                              "pretrain` run; --backbone random has none: use cls or mean")

    def schedule(self) -> Schedule:
        """The LP-FT schedule of a network-mode run (network.py)."""
        uses = "--backbone-lr-factor" in self.transfer_mode.options
        factor = self.backbone_lr_factor if uses else 1.0
        return Schedule.make(self.steps, self.probe_steps, self.lr, self.lr * factor)


@dataclass
class Backbone:
    """What `--backbone` resolved to, and the representation the frozen modes read of it."""
    model: object                # None for --backbone random (built per seed)
    data_cfg: object
    strategy: str
    run: PretrainedRun | None    # the trained run (pretrained.open_run); None for the baselines
    representation: str          # what the frozen modes read (cls for network modes)


def _backbone(cfg: TransferConfig) -> Backbone:
    if cfg.backbone == RANDOM:    # built per seed, in _random_embeddings
        return Backbone(None, load_data_config(cfg.data_config), RANDOM, None,
                        cfg.representation or "cls")
    if cfg.backbone == SCRATCH:
        data_cfg = load_data_config(cfg.data_config)
        return Backbone(build_model(cfg.preset, input_dim=data_cfg.num_features), data_cfg,
                        SCRATCH, None, cfg.transfer_mode.representation or "cls")
    run = pretrained.open_run(cfg.backbone)      # strict: every key, every head, both checksums
    return Backbone(run.model, run.data_config, run.strategy, run, _representation(cfg, run))


def _representation(cfg: TransferConfig, run: PretrainedRun) -> str:
    """--representation, else the run's default (`"representation"` in its config), else
    cls; the mode's own for a mode that fixes it (network modes: cls). A head representation
    the run did not save is an error."""
    if cfg.transfer_mode.representation is not None:
        return cfg.transfer_mode.representation
    name, heads = cfg.representation, run.heads
    default = run.representation
    if name is None and default not in REPRESENTATIONS:
        raise ConfigError(f"run {cfg.backbone}: its config names representation {default!r}, "
                          f"not one of {', '.join(REPRESENTATIONS)}; pass --representation")
    name = name or default
    if name in HEAD_REPRESENTATIONS and name not in heads:
        how = (f"--representation {name}" if cfg.representation else
               f"its default representation {name!r} (no --representation given)")
        raise ConfigError(f"{how}: run {cfg.backbone} saved no {name!r} head (saved heads: "
                          f"{', '.join(sorted(heads)) or 'none'}); choose --representation "
                          "cls or mean")
    return name


def _metrics(probs: np.ndarray, y: np.ndarray, signal: int | None,
             names: list[str]) -> dict:
    pred = probs.argmax(1)
    out = {"accuracy": float((pred == y).mean()),
           # per-class recall (efficiency of the argmax decision), e.g. Rieck et al.'s kNN
           "recall": {name: float((pred[y == k] == k).mean()) if (y == k).any() else None
                      for k, name in enumerate(names)}}
    n_cls = probs.shape[1]
    try:
        out["auc"] = float(roc_auc_score(y, probs[:, 1]) if n_cls == 2 else
                           roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    except ValueError:
        out["auc"] = None
    s, b = (signal if signal is not None else 1), 0
    score = probs[:, s] / np.maximum(probs[:, s] + probs[:, b], 1e-12)
    sig, bkg = score[y == s], score[y == b]
    if len(sig) and len(bkg):
        eff_s, eff_b, _ = roc(sig, bkg)
        for target in (0.3, 0.5):
            r = rejection_at(target, eff_s, eff_b)
            out[f"rejection_at_{int(target * 100)}"] = r if np.isfinite(r) else None
        curve = thinned_roc(eff_s, eff_b)
    else:
        out.update(rejection_at_30=None, rejection_at_50=None)
        curve = None
    return {"metrics": out, "roc": curve}


def _summary(runs: list[dict]) -> list[dict]:
    rows = []
    keys = sorted({r["labels_per_class"] for r in runs}, key=lambda n: (n == "all", n if n != "all" else 0))
    for n in keys:
        sel = [r["metrics"] for r in runs if r["labels_per_class"] == n]
        row = {"labels_per_class": n, "n_seeds": len(sel)}
        for m in ("accuracy", "auc", "rejection_at_30", "rejection_at_50"):
            vals = [s[m] for s in sel if s[m] is not None]
            row[f"{m}_mean"] = float(np.mean(vals)) if vals else None
            row[f"{m}_std"] = float(np.std(vals)) if vals else None
        recall = {}      # not "recall_mean": report readers take *_mean keys as numbers
        for name in sel[0]["recall"]:
            vals = [s["recall"][name] for s in sel if s["recall"][name] is not None]
            recall[name] = {"mean": float(np.mean(vals)) if vals else None,
                            "std": float(np.std(vals)) if vals else None}
        row["recall"] = recall
        rows.append(row)
    return rows


def identity(cfg: TransferConfig) -> dict:
    """The settings that decide a job's results (its `--out` folder's identity, outdir.py):
    every option but --out, the backbone run as an absolute path (or the baseline's name), the
    data files in their canonical order."""
    ident = {k: v for k, v in asdict(cfg).items() if k != "out"}
    if cfg.backbone_kind == RUN:
        ident["backbone"] = str(Path(cfg.backbone).resolve())
    if Path(cfg.task).exists():     # a task file (tasks.get_task)
        ident["task"] = str(Path(cfg.task).resolve())
    ident["data"] = [str(p) for p in data_paths(cfg.data)]
    ident["labels_per_class"] = ["all" if n is None else n for n in cfg.labels_per_class]
    return ident


def transfer(cfg: TransferConfig, progress: bool = True) -> dict:
    """Run the job, write `--out`/results.json. The folder is checked (a user's files, another
    job's results, a live run in it: refused) and claimed before minutes of training, not
    after; a job that fails takes back the folder it made."""
    cfg.validate()
    with OutputFolder(cfg.out, "transfer", identity(cfg)) as folder:
        out = _transfer(cfg, progress)
        results = folder.path / "results.json"     # the only file: written last, atomically
        with naming_the_file(results):
            write_json(results, out)
    return out


def _transfer(cfg: TransferConfig, progress: bool) -> dict:
    task = get_task(cfg.task)
    bb = _backbone(cfg)
    model, data_cfg, strategy = bb.model, bb.data_cfg, bb.strategy
    jets, paths = load_task_jets(list(cfg.data), task, data_cfg, cfg.max_per_class, progress)
    # classes without jets (e.g. a mass window the sample does not reach) are left out; the
    # others are renumbered 0..K-1 for training and keep their names in the results
    counts = np.bincount(jets.jets["label"], minlength=len(task.classes))
    present = np.flatnonzero(counts >= MIN_CLASS_JETS)
    if len(present) < len(task.classes):
        jets = jets.take(np.flatnonzero(np.isin(jets.jets["label"], present)))
    if len(present) < 2:
        raise ConfigError(f"task {task.name!r}: fewer than two classes with >= {MIN_CLASS_JETS} "
                          f"jets in --data (per class: {counts.tolist()})")
    if task.signal_class is not None and len(present) < len(task.classes):
        raise ConfigError(f"task {task.name!r} needs jets of both classes; --data has only "
                          f"{[task.class_names[k] for k in present]}")
    y = np.searchsorted(present, jets.jets["label"])
    jets.jets["label"] = y
    parts = split(y, cfg.test_seed)
    names = [task.class_names[k] for k in present]
    t0 = time.time()
    emb, random_emb = None, {}
    mode = cfg.transfer_mode
    if mode.on_embeddings and bb.run is not None:
        key = {"files": dataset_key(paths), "task": cache_key(task), "features": data_cfg.name,
               "max_particles": data_cfg.max_particles, "max_per_class": cfg.max_per_class}
        emb, _ = cached_embeddings(bb.run, jets, key, progress, representation=bb.representation)
    runs, skipped, n_params = [], [], None
    for n in cfg.labels_per_class:
        for seed in range(cfg.seeds):
            train = draw_per_class(y, parts.pool, n, seed)
            if train is None:
                skipped.append({"labels_per_class": n, "reason": "a class has fewer jets"})
                break
            extra = {}
            if cfg.backbone == RANDOM:     # one initialisation per seed, shared by every n
                if seed not in random_emb:
                    random_emb[seed] = _random_embeddings(cfg, data_cfg, jets, seed, progress)
                emb = random_emb[seed]
            if emb is not None:
                clf, n_params, extra = mode.fit(emb, y, train, parts.val, seed)
                probs = clf.predict_proba(emb[parts.test])
            else:
                module = _network(cfg, model, len(present), data_cfg)
                n_params = trainable_parameters(module)
                train_network(module, jets, train, data_cfg.max_particles, cfg.batch_size,
                              seed, progress)
                probs = predict_network(module, jets, parts.test, data_cfg.max_particles)
            res = _metrics(probs, y[parts.test], task.signal_class, names)
            runs.append({"labels_per_class": "all" if n is None else n, "seed": seed,
                         "n_train": int(len(train)), **extra, **res})
    if not runs:
        raise ConfigError(f"no label count could be drawn: every --labels-per-class exceeds "
                          f"the training pool (per class: {np.bincount(y[parts.pool]).tolist()})")
    out = {"kind": "jetfm.transfer", "format": RESULTS_FORMAT, "task": task.name,
           "classes": names,
           "classes_absent": [c for k, c in enumerate(task.class_names) if k not in present],
           "jets_per_class": {task.class_names[k]: int(counts[k]) for k in present},
           "signal_class": task.signal_class,
           "backbone": str(bb.run.path) if bb.run else cfg.backbone,
           "strategy": strategy, "mode": cfg.mode, "mode_kind": mode.kind,
           "baseline": cfg.baseline, "representation": bb.representation,
           "schedule": None if mode.on_embeddings else cfg.schedule().to_dict(),
           "test_seed": cfg.test_seed,
           "n_test": int(len(parts.test)),
           "n_test_per_class": dict(zip(names, np.bincount(y[parts.test], minlength=len(names)).tolist())), "n_val": int(len(parts.val)),
           "n_pool": int(len(parts.pool)), "trainable_parameters": n_params,
           "runs": runs, "summary": _summary(runs), "skipped": skipped,
           "rejection_note": (f"signal = {task.class_names[task.signal_class]} vs background = "
                              f"{task.class_names[0]}" if task.signal_class is not None else
                              f"{task.class_names[present[1]]} vs {task.class_names[present[0]]},"
                              " score p1/(p0+p1)"),
           "seconds": round(time.time() - t0, 1),
           "config": {**asdict(cfg), "data": [str(p) for p in paths],
                      "out": str(Path(cfg.out).absolute()),
                      "labels_per_class": ["all" if n is None else n for n in cfg.labels_per_class]}}
    return out


def _random_embeddings(cfg: TransferConfig, data_cfg, jets, seed: int, progress: bool):
    """Frozen random features: `cfg.representation` (cls or mean) of a seeded `--preset`."""
    with torch.random.fork_rng(devices=[]):      # seeded init, global RNG state untouched
        torch.manual_seed(seed)
        model = build_model(cfg.preset, input_dim=data_cfg.num_features)
    return compute_embeddings(model, jets, data_cfg.max_particles, progress=progress,
                              representation=cfg.representation or "cls")


def _network(cfg: TransferConfig, model, n_classes: int, data_cfg) -> TransferModule:
    """The network the mode trains (a fresh one per run, so runs never share weights)."""
    def fresh():     # a randomly initialised network: --preset, or the given run's architecture
        return (build_model(cfg.preset, input_dim=data_cfg.num_features)
                if cfg.backbone == SCRATCH else type(model)(model.config))
    return TransferModule(cfg.transfer_mode.start(model, fresh, cfg), n_classes, cfg.mode,
                          cfg.schedule())
