"""`jetfm pretrain`: data → model → Lightning fit, resumable, with the resolved config on disk."""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import lightning as L
import torch
import yaml
from torch.utils.data import DataLoader, IterableDataset

from ..data.config import load_data_config
from ..data.dataset import (JetDataset, check_files, fit_reweighter, list_units,
                            make_dataloader, split_files)
from ..errors import ConfigError
from ..io import make_folders, remove_empty_folders, write_config
from ..models import ParticleTransformer, preset_config
from .config import TrainConfig
from .supervised import STRATEGY_MODULES
from .trainer import build_trainer

log = logging.getLogger(__name__)
# Keys that must not change when a run directory is resumed.
_FROZEN = ("strategy", "data", "data_config", "preset", "model", "seed", "val_fraction",
           "test_fraction")


class Endless(IterableDataset):
    """Repeat a JetDataset forever, advancing its epoch (new shuffle) each pass."""

    def __init__(self, dataset: JetDataset):
        self.dataset = dataset

    def __iter__(self):
        epoch = 0
        while True:
            self.dataset.set_epoch(epoch)
            empty = True
            for batch in self.dataset:
                empty = False
                yield batch
            if empty:
                ds = self.dataset
                raise ConfigError(
                    f"no complete training batch: {ds.num_jets()} training jets in "
                    f"{len(ds.files)} file(s) before the selection, fewer than --batch-size "
                    f"{ds.batch_size} after it; lower --batch-size or add data")
            epoch += 1


def _check_resume(run_dir: Path, cfg: TrainConfig) -> None:
    old_path = run_dir / "config.yaml"
    if not old_path.exists() or not (run_dir / "checkpoints" / "last.ckpt").exists():
        return  # nothing to resume: a run killed before its first checkpoint starts afresh
    old = (yaml.safe_load(old_path.read_text()) or {}).get("train", {})
    new = cfg.to_dict()
    changed = [k for k in _FROZEN if k in old and old[k] != new[k]]
    if changed:
        raise ConfigError(f"{run_dir} holds a run with different {', '.join(changed)}; "
                          "use a new --out to start another run")


def run_pretrain(cfg: TrainConfig, out: str | Path, progress: bool = True) -> dict:
    """Train into ``out``. Inputs are checked before the run directory is made; if the run
    then fails before its first checkpoint, a directory made by this call is removed."""
    run_dir = Path(out)
    _check_resume(run_dir, cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    data_cfg = load_data_config(cfg.data_config)
    train, val, test = split_files(cfg.data, cfg.val_fraction, cfg.test_fraction, seed=cfg.seed)
    check_files(train + val + test, data_cfg)  # footers: schema, labels, empty files
    model_cfg = preset_config(cfg.preset, input_dim=data_cfg.num_features,
                              num_classes=data_cfg.labels.num_classes, **cfg.model)
    made = make_folders(run_dir)   # only once the inputs are known to be usable
    try:
        return _fit(cfg, run_dir, data_cfg, model_cfg, (train, val, test), progress)
    except BaseException:
        if made and not (run_dir / "checkpoints" / "last.ckpt").exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing trained: leave nothing
            remove_empty_folders(made[1:])
        raise


def _fit(cfg: TrainConfig, run_dir: Path, data_cfg, model_cfg, splits, progress: bool) -> dict:
    train, val, test = splits
    run_config = {"train": cfg.to_dict(), "data": data_cfg.to_dict(),
                  "model": model_cfg.to_dict(), "label_names": list(data_cfg.labels.names),
                  "splits": {"train": [str(p) for p in train], "val": [str(p) for p in val],
                             "test": [str(p) for p in test]}}
    write_config(run_dir / "config.yaml", run_config)

    reweighter = None
    if cfg.reweight:
        if not data_cfg.reweight.enabled:
            raise ConfigError(f"reweight is on but data config {data_cfg.name!r} has no "
                              "enabled `reweight:` section")
        reweighter = fit_reweighter(train, data_cfg)
        run_config["reweighter"] = reweighter.to_dict()
        write_config(run_dir / "config.yaml", run_config)
    train_ds = JetDataset(train, data_cfg, cfg.batch_size, shuffle=True, seed=cfg.seed,
                          buffer_size=cfg.shuffle_buffer or None, reweighter=reweighter,
                          drop_last=True)
    # Endless (epoch after epoch, reshuffled): training is bounded by max_steps, and DDP ranks
    # whose shards differ by a row group never run dry at different times (which would hang).
    train_dl = DataLoader(Endless(train_ds), batch_size=None, num_workers=cfg.num_workers)
    val_dl = None
    if val:
        # Too few val files/row groups to give every DDP rank its own: each rank reads them
        # all (the logged mean is then exact, just computed redundantly).
        world = int(os.environ.get("WORLD_SIZE", "1"))
        whole = {"rank": 0, "world_size": 1} if len(list_units(val)) < world else {}
        val_dl = make_dataloader(val, data_cfg, cfg.batch_size, shuffle=False,
                                 num_workers=cfg.num_workers, **whole)

    backbone = ParticleTransformer(model_cfg)
    module = STRATEGY_MODULES[cfg.strategy](backbone, cfg.optimizer, cfg.max_steps)
    if cfg.compile:
        module.backbone = torch.compile(backbone)
    trainer = build_trainer(cfg, run_dir, run_config, progress)
    last = run_dir / "checkpoints" / "last.ckpt"
    resume = last if last.exists() else None
    if resume:
        log.warning("resuming %s from %s", run_dir, last)
    trainer.fit(module, train_dataloaders=train_dl, val_dataloaders=val_dl,
                ckpt_path=str(resume) if resume else None)
    # ModelCheckpoint saves every N steps; make last.ckpt the true end so a longer re-run
    # continues from here (save_checkpoint is collective: every rank calls it, rank 0 writes).
    trainer.save_checkpoint(last, weights_only=False)  # full state: optimiser, loops, callbacks
    return {"run_dir": str(run_dir), "global_step": int(trainer.global_step),
            "is_global_zero": bool(trainer.is_global_zero),
            "resumed_from": str(resume) if resume else None,
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}}
