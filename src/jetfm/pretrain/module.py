"""The Lightning module every strategy builds on: a ParT backbone, optimiser and schedule.

A strategy subclasses `PretrainModule` and implements `compute_loss(batch) -> (loss, logs)`;
logging, optimisation, schedules and checkpoint contents live here once.
"""
from __future__ import annotations

import lightning as L
import torch

from ..errors import TrainingDiverged
from ..models import ParticleTransformer
from .optim import build_optimizer, build_scheduler, param_groups


class PretrainModule(L.LightningModule):
    # False when a step may leave some parameters without a gradient (DDP must then be told)
    uses_every_parameter = True

    def __init__(self, backbone: ParticleTransformer, optim, max_steps: int, options=None):
        # optim: a pretrain.config.OptimConfig (not imported: config imports the registry);
        # options: the strategy's options dataclass (registry), None if it has none
        super().__init__()
        self.backbone = backbone
        self.optim_cfg = optim
        self.max_steps = max_steps
        self.options = options

    def export_backbone(self) -> ParticleTransformer:
        """The network downstream tasks use (saved to model.safetensors)."""
        return self.backbone

    def representation_heads(self) -> dict:
        """Heads exported with the backbone for downstream `--representation` (name →
        `models.heads.MLPHead`): the contrastive projection, the autoencoder's bottleneck."""
        return {}

    def compute_loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def forward(self, batch: dict):
        return self.backbone(batch["x"], batch["v"], batch["mask"])

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        loss, logs = self.compute_loss(batch)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"the {stage} loss became {loss.item()} at step "
                                   f"{self.global_step}; try a lower learning rate (--lr, now "
                                   f"{self.optim_cfg.lr:g}) or check the inputs")
        n = batch["x"].shape[0]
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=n, sync_dist=stage != "train")
        for k, v in logs.items():
            self.log(f"{stage}/{k}", v, prog_bar=k == "acc", batch_size=n, sync_dist=stage != "train")
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")

    # The global torch RNG drives dropout. Saving it with every checkpoint (and restoring it)
    # makes a resumed run draw the same dropout masks as an unbroken one.
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint["jetfm_rng"] = rng

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        rng = checkpoint.get("jetfm_rng") or {}
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    def configure_optimizers(self):
        o = self.optim_cfg
        opt = build_optimizer(param_groups(self, o.weight_decay), o.name, o.lr, o.weight_decay)
        sched = build_scheduler(opt, total=self.max_steps, warmup=o.warmup_steps,
                                schedule=o.schedule, decay_start=o.decay_start,
                                final_lr_factor=o.final_lr_factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
