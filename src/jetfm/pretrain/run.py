"""`jetfm pretrain`: data → model → Lightning fit, resumable, with the resolved config on disk."""
from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import shutil
import sys
import zipfile
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader
from lightning.pytorch.utilities.exceptions import SIGTERMException

from ..data.config import load_data_config
from ..data.genparts import GEN_COLUMNS
from ..data.pairs import check_pairs
from ..data.dataset import (JetDataset, check_files, fit_reweighter, list_units,
                            make_dataloader, split_files)
from ..data.reweight import describe as describe_reweighter
from ..errors import ConfigError, DataError
from ..interrupt import Interrupted, deferred
from ..io import FolderLock, make_output_folder, remove_empty_folders, write_config
from ..models import ParticleTransformer, preset_config
from ..runs import RunDir
from .config import TrainConfig
from .stream import StreamLoader, StreamPosition
from .probe import OnlineProbe
from .registry import REGISTRY, build_options
from .trainer import CheckpointOnSigterm, build_trainer

log = logging.getLogger(__name__)
# Keys that must not change when a run directory is resumed.
_FROZEN = ("strategy", "data", "data_config", "preset", "model", "seed", "val_fraction",
           "test_fraction", "batch_size", "strategy_options")


def _check_resume(run: RunDir, cfg: TrainConfig) -> Path | None:
    """The checkpoint to resume from (None: start afresh), after checking that the run's
    frozen settings are unchanged and that the checkpoint is a readable jetfm checkpoint."""
    if not run.last_checkpoint.exists():
        return None  # nothing to resume: a run killed before its first checkpoint starts afresh
    old = run.config().get("train", {})
    new = cfg.to_dict()
    changed = [k for k in _FROZEN if k in old and old[k] != new[k]]
    if changed:
        raise ConfigError(f"{run.path} holds a run with different {', '.join(changed)}; "
                          "use a new --out to start another run")
    _check_checkpoint(run.last_checkpoint)
    return run.last_checkpoint


def _check_checkpoint(path: Path) -> None:
    """Load with `weights_only=True` (tensors and plain data only: a tampered file cannot run
    code) and check it is a training checkpoint; one clear error otherwise."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile,
            ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"{path}: cannot resume from this checkpoint (corrupt, truncated or "
                        f"not a plain jetfm checkpoint: {first}); move it away to restart "
                        "the run from scratch") from None
    if not isinstance(ckpt, dict) or not {"state_dict", "global_step", "loops"} <= set(ckpt):
        raise DataError(f"{path}: not a Lightning training checkpoint; move it away to "
                        "restart the run from scratch")


def run_pretrain(cfg: TrainConfig, out: str | Path, progress: bool = True) -> dict:
    """Train into ``out``. Inputs are checked before the run directory is made; if the run
    then fails before its first checkpoint, a directory made by this call is removed."""
    run = RunDir.for_training(out)
    lock = _lock(run) if run.path.is_dir() else None   # refuse a busy folder before any work
    try:
        return _pretrain(cfg, run, lock, progress)
    finally:
        if lock is not None:
            lock.release()


def _lock(run: RunDir) -> FolderLock | None:
    """Two pretrain commands into one folder: the second is refused with the holder's PID.
    Only the launching process locks (the DDP ranks it starts share the folder)."""
    if any(int(os.environ.get(k, "0") or 0) for k in ("RANK", "LOCAL_RANK", "NODE_RANK")):
        return None
    return FolderLock(run.path, "jetfm pretrain").acquire()


def _pretrain(cfg: TrainConfig, run: RunDir, lock: FolderLock | None, progress: bool) -> dict:
    cfg = _absolute_inputs(cfg)
    resume = _check_resume(run, cfg)
    _check_accelerator(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    data_cfg = load_data_config(cfg.data_config)
    train, val, test = split_files(cfg.data, cfg.val_fraction, cfg.test_fraction, seed=cfg.seed)
    if resume:
        train, val, test = _stored_splits(run, train + val + test)
    strategy = REGISTRY[cfg.strategy]
    # every split, before anything is written: footers always, contents unless switched off;
    # with the truth-particle columns for strategies that read them
    check_files(train + val + test, data_cfg, verify=cfg.verify_data, progress=progress,
                extra_columns=GEN_COLUMNS if strategy.gen_particles else (),
                # a strategy without a class head learns from unlabelled jets too (tau, dark)
                allow_unlabelled=not strategy.head)
    _describe_splits({"train": train, "val": val, "test": test}, strategy.pair_by, progress)
    # a strategy without a class head trains the bare backbone (embedding only)
    head = ({"num_classes": data_cfg.labels.num_classes} if strategy.head
            else {"num_classes": None, "fc_params": ()})
    model_cfg = preset_config(cfg.preset, input_dim=data_cfg.num_features,
                              **{**head, **cfg.model})
    made = make_output_folder(run.path)   # only once the inputs are known to be usable
    own_lock = None if lock is not None else _lock(run)
    try:
        return _fit(cfg, strategy, run, data_cfg, model_cfg, (train, val, test), resume,
                    progress)
    except BaseException:
        if made and not run.last_checkpoint.exists():
            shutil.rmtree(run.path, ignore_errors=True)  # nothing trained: leave nothing
            remove_empty_folders(made[1:])
        raise
    finally:
        if own_lock is not None:
            own_lock.release()


MIN_SPLIT_FILES = 5


def _stored_splits(run: RunDir, found: list) -> tuple[list, list, list]:
    """A resumed run keeps the splits of its first start: files added to --data since are
    ignored (with a warning), a file it trained on that is gone is an error."""
    stored = {name: run.split(name) for name in ("train", "val", "test")}
    known = {Path(p).resolve() for files in stored.values() for p in files}
    gone = sorted(str(p) for p in known if not p.exists())
    if gone:
        raise DataError(f"{run.path} was trained on {gone[0]}, which is gone "
                        f"({len(gone)} file(s) missing); restore it or start a new --out")
    new = [p for p in found if Path(p).resolve() not in known]
    if new:
        log.warning("%d file(s) added to --data since %s started are ignored (e.g. %s): a run "
                    "keeps the splits of its first start; start a new --out to use them",
                    len(new), run.path, new[0])
    return stored["train"], stored["val"], stored["test"]


def _describe_splits(splits: dict[str, list], pair_by: str | None, verbose: bool) -> None:
    """Say how many files, jets (and pairs) each split holds; warn when a split has fewer
    than MIN_SPLIT_FILES files (the split is by file, so a sample or label family then sits
    in one split only, or a split holds a single shower's worth of pairs)."""
    for name, files in splits.items():
        jets = sum(u.num_rows for u in list_units(files)) if files else 0
        pairs = ""
        if pair_by and files and name != "test":
            pairs = f", {check_pairs(files, pair_by):,} pairs"
        if verbose:
            print(f"{name} split: {len(files)} file(s), {jets:,} jets{pairs}", file=sys.stderr)
        if len(files) < MIN_SPLIT_FILES:
            log.warning("the %s split has %d file(s) (< %d): splits are by file, so a "
                        "sample or class may be missing from it; generate more, smaller "
                        "files (--jets-per-file)", name, len(files), MIN_SPLIT_FILES)
    _warn_missing_samples(splits)


def _warn_missing_samples(splits: dict[str, list]) -> None:
    """A sample folder whose files all fell into fewer splits than it could reach (the by-file
    trap: one file per sample trains on one sample and tests on another) is named loudly."""
    where: dict[Path, set[str]] = {}
    for name, files in splits.items():
        for f in files:
            where.setdefault(Path(f).parent, set()).add(name)
    wanted = {name for name, files in splits.items() if files}
    for folder, found in sorted(where.items()):
        missing = sorted(wanted - found)
        if missing and len(where) > 1:
            log.warning("%s: every file of this sample is in the %s split, none in %s: the "
                        "model %s; generate it with more, smaller files (jetfm generate "
                        "--jets-per-file) so that each sample reaches every split",
                        folder, "/".join(sorted(found)), "/".join(missing),
                        "never trains on it" if "train" in missing else
                        "is never validated or tested on it")


def _absolute_inputs(cfg: TrainConfig) -> TrainConfig:
    """Input paths as absolute strings, so the run's record works from any folder."""
    data_config = cfg.data_config
    if os.path.isfile(data_config):
        data_config = os.path.abspath(data_config)
    return dataclasses.replace(cfg, data=[os.path.abspath(d) for d in cfg.data],
                               data_config=data_config)


def _check_accelerator(cfg: TrainConfig) -> None:
    if cfg.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--accelerator {cfg.accelerator}: no CUDA GPU is visible on this "
                          "machine (use --accelerator cpu or auto)")


def validation_loader(val, data_cfg, cfg: TrainConfig, strategy,
                      reweighter=None) -> DataLoader:
    """The validation batches: the same jets at every validation, mixed from many files and
    drawn as the training jets are (weaver validates with its training sampler). Read in
    file order, the first `val_batches` batches would all come from the first file, i.e.
    often one sample; a fixed seed keeps the mix the same each time."""
    # Too few val files/row groups to give every DDP rank its own: each rank reads them
    # all (the logged mean is then exact, just computed redundantly).
    world = int(os.environ.get("WORLD_SIZE", "1"))
    whole = {"rank": 0, "world_size": 1} if len(list_units(val)) < world else {}
    # the default shuffle buffer (>= 32768 jets) holds a read chunk of each of 8 files
    return make_dataloader(val, data_cfg, cfg.batch_size, shuffle=True,
                           num_workers=cfg.num_workers, seed=cfg.seed, interleave=8,
                           reweighter=reweighter, pair_by=strategy.pair_by,
                           gen_particles=strategy.gen_particles, **whole)


def _fit(cfg: TrainConfig, strategy, run: RunDir, data_cfg, model_cfg, splits,
         resume: Path | None, progress: bool) -> dict:
    train, val, test = splits
    run_config = {"train": cfg.to_dict(), "data": data_cfg.to_dict(),
                  "representation": strategy.representation,   # what transfer reads
                  "model": model_cfg.to_dict(), "label_names": list(data_cfg.labels.names),
                  "splits": {"train": [str(p) for p in train], "val": [str(p) for p in val],
                             "test": [str(p) for p in test]}}   # absolute (expand_paths)
    write_config(run.config_path, run_config)

    reweighter = None
    if cfg.reweight:
        if not data_cfg.reweight.enabled:
            raise ConfigError(f"reweight is on but data config {data_cfg.name!r} has no "
                              "enabled `reweight:` section")
        reweighter = fit_reweighter(train, data_cfg)
        run_config["reweighter"] = reweighter.to_dict()
        write_config(run.config_path, run_config)
        print(describe_reweighter(reweighter), file=sys.stderr)
    train_ds = JetDataset(train, data_cfg, cfg.batch_size, shuffle=True, seed=cfg.seed,
                          buffer_size=cfg.shuffle_buffer or None, reweighter=reweighter,
                          drop_last=True, pair_by=strategy.pair_by,
                          gen_particles=strategy.gen_particles)
    # Endless (epoch after epoch, reshuffled): training is bounded by max_steps, and DDP ranks
    # whose shards differ by a row group never run dry at different times (which would hang).
    # Its position is checkpointed, so a resumed run continues with the next batch.
    train_dl = StreamLoader(train_ds, cfg.num_workers, cfg.seed)
    val_dl = validation_loader(val, data_cfg, cfg, strategy, reweighter) if val else None

    backbone = ParticleTransformer(model_cfg)
    module = strategy.module(backbone, cfg.optimizer, cfg.max_steps,
                             build_options(cfg.strategy, cfg.strategy_options))
    if cfg.compile:
        module.backbone = torch.compile(backbone)
    trainer = build_trainer(cfg, run.path, run_config, progress,
                            extra_callbacks=[StreamPosition(train_dl), OnlineProbe()],
                            find_unused_parameters=not module.uses_every_parameter)
    if resume:
        log.warning("resuming %s from %s", run.path, resume)
    try:
        with deferred():    # SIGTERM: Lightning ends the step, CheckpointOnSigterm saves
            trainer.fit(module, train_dataloaders=train_dl, val_dataloaders=val_dl,
                        ckpt_path=str(resume) if resume else None, weights_only=True)
    except SIGTERMException:
        saved = any(isinstance(c, CheckpointOnSigterm) and c.saved for c in trainer.callbacks)
        raise Interrupted(int(trainer.global_step), saved=saved) from None
    # ModelCheckpoint saves every N steps; make last.ckpt the true end so a longer re-run
    # continues from here (save_checkpoint is collective: every rank calls it, rank 0 writes).
    trainer.save_checkpoint(run.last_checkpoint, weights_only=False)  # full state
    return {"run_dir": str(run.path), "global_step": int(trainer.global_step),
            "is_global_zero": bool(trainer.is_global_zero),
            "resumed_from": str(resume) if resume else None,
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}}
