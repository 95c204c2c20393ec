"""Network modes (`finetune`, `lora`, `scratch`): one Lightning module, one LP-FT schedule.

Why LP-FT (linear probe, then fine-tune; Kumar et al. 2022): a randomly initialised head
sends large, random gradients into a pre-trained backbone during the first steps and distorts
the features before the head has learned to read them. So every network mode runs two phases:

1. *probe* (`probe_steps`): only the head trains; the backbone is frozen, which here means
   `requires_grad=False` AND eval mode (BatchNorm statistics and dropout fixed), so it stays
   bit-identical;
2. *full* (`full_steps`): the head and the backbone (`finetune`, `scratch`) or the LoRA
   adapters (`lora`, base weights always frozen and in eval mode) train together.

Each phase has its own linear warm-up (10 % of the phase) and cosine decay to zero; in the full
phase head and backbone follow the same curve. The warm-up matters for the backbone: Adam's
first updates have full size whatever the gradient, and the backbone's moments start at zero
when the full phase begins.

A fair race with `scratch`: it runs the very same schedule (same phases, same steps, same
learning rates), so the arms differ only in the backbone's initialisation. With the head
already fitted, the backbone learning rate defaults to the head's (`backbone_lr_factor` 1.0):
the reason for a smaller one in plain fine-tuning — protecting the features from a random
head — is gone, and equal rates keep the initialisation the only difference between the arms.

The head (all network modes alike): LayerNorm → Linear(D, 128) → GELU → Linear(128, classes).
The LayerNorm makes the head's learning rate mean the same for every backbone, whatever the
scale of its embedding (strategies differ by orders of magnitude; a random one again), as
the StandardScaler does for the frozen modes.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import lightning as L
import numpy as np
import torch
import torch.nn as nn
from lightning.pytorch.utilities.warnings import PossibleUserWarning

from ..data.features import FlatJets
from ..errors import ConfigError
from ..pretrain.trainer import quiet_lightning

PROBE_FRACTION = 1 / 3        # default probe phase: a third of --steps
LR_WARMUP_FRACTION = 0.1      # linear warm-up: 10 % of each phase
HEAD_HIDDEN = 128
EVAL_MODE_WARNING = r"Found \d+ module\(s\) in eval mode at the start of training"
# every nn.Linear of the transformer blocks (attention in/out projections, feed-forward)
LORA_TARGETS = r".*(blocks|cls_blocks)\.\d+\.(attn\.in_proj|attn\.out_proj|fc1|fc2)"


@dataclass(frozen=True)
class Schedule:
    """The steps and learning rates of one network-mode run (written to results.json)."""
    probe_steps: int          # head only, backbone frozen (no gradient, eval mode)
    full_steps: int           # head + backbone / adapters
    lr: float                 # head's peak learning rate
    backbone_lr: float        # backbone's (or adapters') peak learning rate, full phase only
    warmup: int               # linear warm-up steps at the start of the full phase
    probe_warmup: int         # linear warm-up steps at the start of the probe phase
    decay: str = "cosine"     # to zero at the end of each phase

    @classmethod
    def make(cls, steps: int, probe_steps: int | None, lr: float,
             backbone_lr: float) -> "Schedule":
        """`steps` in all; `probe_steps` None: a third of them (`PROBE_FRACTION`)."""
        if steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {steps}")
        probe = int(steps * PROBE_FRACTION) if probe_steps is None else probe_steps
        if not 0 <= probe < steps:
            raise ConfigError(f"--probe-steps must be in [0, --steps) = [0, {steps}), got "
                              f"{probe}: the full phase needs at least one step")
        full = steps - probe
        return cls(probe, full, lr, backbone_lr, round(LR_WARMUP_FRACTION * full),
                   round(LR_WARMUP_FRACTION * probe))

    @property
    def steps(self) -> int:
        return self.probe_steps + self.full_steps

    def factor(self, step: int, group: str) -> float:
        """Multiplier of the peak learning rate of `group` ("head" or "backbone") at `step`."""
        if step < self.probe_steps:
            return 0.0 if group == "backbone" else _warmup_cosine(step, self.probe_steps,
                                                                   self.probe_warmup)
        return _warmup_cosine(min(step - self.probe_steps, self.full_steps - 1),
                              self.full_steps, self.warmup)

    def to_dict(self) -> dict:
        return asdict(self)


def _warmup_cosine(step: int, n: int, warmup: int) -> float:
    """Linear from 1/warmup to 1 over `warmup` steps, then cosine towards 0 over the rest (the
    last step keeps a small positive rate)."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, n - warmup)))


def classifier_head(d: int, n_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(d), nn.Linear(d, HEAD_HIDDEN), nn.GELU(),
                         nn.Linear(HEAD_HIDDEN, n_classes))


class TransferModule(L.LightningModule):
    """Backbone + head on its class token, cross-entropy, the LP-FT `schedule`."""

    def __init__(self, backbone: nn.Module, n_classes: int, mode: str,
                 schedule: Schedule | None = None):
        super().__init__()
        self.backbone, self.mode = backbone, mode
        # a backbone with LoRA adapters (modes.py: `lora`) trains only them, its base frozen
        self.adapters_only = any("lora_" in n for n, _ in backbone.named_parameters())
        self.schedule = schedule or Schedule.make(300, 0, 1e-3, 1e-3)
        self.head = classifier_head(backbone.config.embed_dims[-1], n_classes)
        self._set_phase(probe=False)     # trainable = what the full phase trains

    def forward(self, x, v, mask):
        return self.head(self.backbone(x, v, mask).embedding)

    def _trains(self, name: str) -> bool:
        return not self.adapters_only or "lora_" in name

    def in_probe(self) -> bool:
        return self.global_step < self.schedule.probe_steps

    def _set_phase(self, probe: bool) -> None:
        # frozen = no gradient AND eval mode (BatchNorm statistics and dropout fixed); LoRA's
        # base is always frozen, so always in eval mode
        self.backbone.train(not probe and not self.adapters_only)
        for name, p in self.backbone.named_parameters():
            p.requires_grad = not probe and self._trains(name)

    def on_train_batch_start(self, batch, batch_idx):
        self._set_phase(self.in_probe())

    def training_step(self, batch, batch_idx):
        loss = nn.functional.cross_entropy(self(batch["x"], batch["v"], batch["mask"]),
                                           batch["label"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    def configure_optimizers(self):
        s = self.schedule
        back = [p for n, p in self.backbone.named_parameters() if self._trains(n)]
        opt = torch.optim.AdamW([{"params": list(self.head.parameters()), "lr": s.lr},
                                 {"params": back, "lr": s.backbone_lr}], weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, [lambda k: s.factor(k, "head"), lambda k: s.factor(k, "backbone")])
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def add_lora(backbone: nn.Module, rank: int) -> nn.Module:
    from peft import LoraConfig, inject_adapter_in_model
    cfg = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=LORA_TARGETS)
    return inject_adapter_in_model(cfg, backbone)


def trainable_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _loader(jets: FlatJets, idx: np.ndarray, max_particles: int, batch_size: int,
            shuffle: bool, seed: int):
    def collate(rows):
        b = jets.take(np.asarray(rows)).pad(max_particles)
        return {"x": torch.from_numpy(b["x"]), "v": torch.from_numpy(b["v"]),
                "mask": torch.from_numpy(b["mask"]),
                "label": torch.from_numpy(b["label"].astype(np.int64))}
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(idx.tolist(), batch_size=batch_size, shuffle=shuffle,
                                       collate_fn=collate, generator=g, drop_last=False)


def fit_module(module: TransferModule, loader, steps: int, progress: bool,
               **trainer_kw) -> None:
    """Lightning fit for exactly `steps` optimizer steps (enough epochs over `loader`);
    `trainer_kw` overrides Trainer arguments (tests: accelerator, callbacks)."""
    epochs = math.ceil(steps / max(1, len(loader)))
    kw = dict(max_steps=steps, max_epochs=epochs, accelerator="auto", devices=1, logger=False,
              enable_checkpointing=False, enable_model_summary=False,
              enable_progress_bar=progress, num_sanity_val_steps=0)
    quiet_lightning()    # no accelerator/tips INFO lines, as in pretrain
    trainer = L.Trainer(**{**kw, **trainer_kw})
    with warnings.catch_warnings():
        # Lightning warns when a module is in eval mode as training starts: the frozen backbone
        # of the probe phase (and LoRA's base, always) is, on purpose (see _set_phase)
        warnings.filterwarnings("ignore", message=EVAL_MODE_WARNING,
                                category=PossibleUserWarning)
        trainer.fit(module, loader)


def train_network(module: TransferModule, jets: FlatJets, train: np.ndarray, max_particles: int,
                  batch_size: int, seed: int, progress: bool) -> None:
    """Train `module` for its schedule's steps on the jets `train`."""
    L.seed_everything(seed, workers=True, verbose=False)
    batch_size = min(batch_size, len(train))
    fit_module(module, _loader(jets, train, max_particles, batch_size, True, seed),
               module.schedule.steps, progress)


@torch.inference_mode()
def predict_network(module: TransferModule, jets: FlatJets, idx: np.ndarray,
                    max_particles: int, batch_size: int = 512) -> np.ndarray:
    module.eval()
    out = [torch.softmax(module(b["x"], b["v"], b["mask"]).float(), dim=1).numpy()
           for b in _loader(jets, idx, max_particles, batch_size, False, 0)]
    return np.concatenate(out)
