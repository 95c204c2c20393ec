"""The Lightning Trainer every strategy uses: devices, precision, checkpoints, logs, progress.

DDP needs no code change: under `torchrun` or SLURM Lightning detects the cluster environment
and `devices`/`num_nodes` select the world size; the datasets shard files by rank.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities.exceptions import SIGTERMException

from ..io import atomic_path
from ..models.export import save_checkpoint
from ..runs import CHECKPOINT_DIR, LAST_CHECKPOINT, LOGS_DIR, WEIGHTS_NAME
from .config import TrainConfig


class SafetensorsExport(Callback):
    """Keep RUN_DIR/model.safetensors (weights + resolved config) in step with the checkpoints."""

    def __init__(self, run_dir: Path, config: dict, every: int):
        self.path, self.config, self.every = run_dir / WEIGHTS_NAME, config, every

    def _save(self, trainer, pl_module):
        if trainer.is_global_zero:
            cfg = dict(self.config, global_step=int(trainer.global_step))
            save_checkpoint(pl_module.export_backbone(), cfg, self.path,
                            heads=pl_module.representation_heads() or None)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step % self.every == 0:
            self._save(trainer, pl_module)

    def on_train_end(self, trainer, pl_module):
        self._save(trainer, pl_module)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's own writer goes through an fsspec transaction that writes under $TMPDIR and
    *copies* the file over last.ckpt when the run folder is on another filesystem: a kill
    during the copy truncates the only good checkpoint. Write next to the target, fsync, and
    rename instead; the previous checkpoint stays until the new one is complete."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("jetfm's checkpoint writer takes no storage_options")
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            torch.save(checkpoint, fh)
            fh.flush()
            os.fsync(fh.fileno())


class CheckpointOnSigterm(Callback):
    """SIGTERM (a batch system's time limit): Lightning stops at the end of the step; save the
    full state there, so re-running the same command resumes instead of starting over."""

    def __init__(self, path: Path):
        self.path, self.saved = path, False

    def on_exception(self, trainer, pl_module, exception) -> None:
        if isinstance(exception, SIGTERMException):
            trainer.save_checkpoint(self.path, weights_only=False)
            self.saved = True


class StepProgressBar(TQDMProgressBar):
    """One training bar for the whole run, in optimizer steps out of max_steps, that starts at
    the step a resumed run starts from. Lightning's counts the batches of an epoch, and the
    stream is one endless epoch: a resumed run's bar counted its batches against the steps left
    (4 of 10 left after step 6: "7/4") and so lost its total ("7/?")."""

    def init_train_tqdm(self) -> Tqdm:
        # made with its total and first step: tqdm prints a bar as soon as it is made
        max_steps = self.trainer.max_steps
        return Tqdm(desc="Training", position=2 * self.process_position,
                    disable=self.is_disabled, leave=True, dynamic_ncols=True, file=sys.stdout,
                    smoothing=0, bar_format=self.BAR_FORMAT,
                    total=max_steps if max_steps > 0 else None,
                    initial=self.trainer.global_step)

    def on_train_epoch_start(self, trainer, *_) -> None:
        pass     # no per-epoch reset: the bar made at on_train_start counts steps throughout

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        bar, step = self.train_progress_bar, trainer.global_step
        if self._should_update(step, bar.total) and not bar.disable:
            bar.n = step
            bar.set_postfix(self.get_metrics(trainer, pl_module))   # refreshes the bar


def quiet_lightning() -> None:
    """Lightning's INFO lines (accelerator availability, tips) say nothing a jetfm user acts
    on; its warnings still show (but one, below). Lightning sets its logger to INFO when
    imported, so this runs where a Trainer is built."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Lightning <= 2.6 builds torch's deprecated LeafSpec (torch >= 2.10): a FutureWarning per
    # run about Lightning's own code, nothing a jetfm user can act on
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)


def resolve_precision(cfg: TrainConfig) -> str:
    if cfg.precision != "auto":
        return cfg.precision
    on_gpu = cfg.accelerator in ("gpu", "cuda") or (cfg.accelerator == "auto" and torch.cuda.is_available())
    return "bf16-mixed" if on_gpu else "32-true"


def resolve_strategy(cfg: TrainConfig, find_unused_parameters: bool) -> str:
    """Lightning's own choice ("auto"), except that a strategy which may leave parameters
    without a gradient in a step (`PretrainModule.uses_every_parameter = False`) needs DDP to
    look for them, or DDP stops with an error. Only then, and only when Lightning would run
    DDP at all (a throwaway Trainer resolves the devices), do we ask for that slower mode."""
    if not find_unused_parameters:
        return "auto"
    quiet = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        probe = L.Trainer(accelerator=cfg.accelerator, devices=cfg.devices,
                          num_nodes=cfg.num_nodes, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
    finally:
        quiet.setLevel(level)
    return "ddp_find_unused_parameters_true" if isinstance(probe.strategy, DDPStrategy) else "auto"


def build_trainer(cfg: TrainConfig, run_dir: Path, run_config: dict, progress: bool = True,
                  extra_callbacks: list[Callback] = (),
                  find_unused_parameters: bool = False) -> L.Trainer:
    quiet_lightning()
    ckpt = ModelCheckpoint(dirpath=run_dir / CHECKPOINT_DIR, save_last=True, save_top_k=0,
                           every_n_train_steps=cfg.checkpoint_every_steps)
    # One CSV per invocation (csv-0, csv-1, ... after resumes): Lightning's CSVLogger would
    # overwrite an existing metrics.csv; readers concatenate them in order.
    logs = run_dir / LOGS_DIR
    n = len(list(logs.glob("csv-*"))) if logs.is_dir() else 0
    (logs / f"csv-{n}").mkdir(parents=True, exist_ok=True)   # claim it even if killed early
    loggers = [CSVLogger(save_dir=str(run_dir), name=LOGS_DIR, version=f"csv-{n}",
                         flush_logs_every_n_steps=cfg.log_every_steps)]
    try:  # TensorBoard when installed (Lightning's optional dependency)
        from lightning.pytorch.loggers import TensorBoardLogger
        import tensorboard  # noqa: F401
        loggers.append(TensorBoardLogger(save_dir=str(run_dir), name=LOGS_DIR, version="tb"))
    except ImportError:
        pass
    callbacks = [ckpt, CheckpointOnSigterm(run_dir / CHECKPOINT_DIR / LAST_CHECKPOINT),
                 LearningRateMonitor(logging_interval="step"),
                 SafetensorsExport(run_dir, run_config, cfg.checkpoint_every_steps)]
    callbacks += list(extra_callbacks)
    if progress:
        callbacks.append(StepProgressBar(refresh_rate=max(1, cfg.log_every_steps // 2)))
    return L.Trainer(
        default_root_dir=str(run_dir), accelerator=cfg.accelerator, devices=cfg.devices,
        strategy=resolve_strategy(cfg, find_unused_parameters), num_nodes=cfg.num_nodes, precision=resolve_precision(cfg), max_steps=cfg.max_steps,
        max_epochs=-1, val_check_interval=cfg.val_every_steps, check_val_every_n_epoch=None,
        limit_val_batches=cfg.val_batches, num_sanity_val_steps=0,
        log_every_n_steps=cfg.log_every_steps, logger=loggers, callbacks=callbacks,
        enable_progress_bar=progress, enable_model_summary=False, deterministic=False,
        use_distributed_sampler=False,   # the dataset shards by rank itself
        plugins=[AtomicCheckpointIO()],
    )
