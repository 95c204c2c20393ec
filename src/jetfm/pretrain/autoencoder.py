"""Autoencoder: the backbone's pooled embedding is squeezed through a bottleneck (128 → 64 →
32 → 24 → 20 at full size) and reconstructed through the mirror image.

The reconstruction target is the embedding itself with its gradient stopped, so the loss
trains the backbone only through the bottleneck's input; a constant embedding would make
that trivially zero, so VICReg-style variance and covariance penalties on the embedding keep
it spread out (`var_weight`, `cov_weight`). `loss: cosine` uses 1 − cos(ê, e) (the score of
the anomaly-detection paper) instead of the mean squared error.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from .heads import mlp
from .losses import variance_covariance
from .module import PretrainModule


@dataclass(frozen=True)
class AutoencoderOptions:
    hidden: tuple[int, ...] = (64, 32, 24)   # encoder widths after the embedding
    latent: int = 20
    loss: str = "mse"                        # mse | cosine
    var_weight: float = 1.0
    cov_weight: float = 1.0

    def __post_init__(self):
        if self.loss not in ("mse", "cosine"):
            raise ValueError(f"loss must be 'mse' or 'cosine', got {self.loss!r}")
        if self.latent < 1 or any(h < 1 for h in self.hidden):
            raise ValueError("hidden widths and latent must be >= 1")
        if self.var_weight < 0 or self.cov_weight < 0:
            raise ValueError("var_weight and cov_weight must be >= 0")


class AutoencoderModule(PretrainModule):
    def __init__(self, backbone, optim, max_steps: int, options: AutoencoderOptions):
        super().__init__(backbone, optim, max_steps, options)
        dims = [backbone.config.embed_dims[-1], *options.hidden, options.latent]
        self.encoder = mlp(dims)
        self.decoder = mlp(dims[::-1])

    def compute_loss(self, batch: dict):
        e = self(batch).embedding
        recon = self.decoder(self.encoder(e))
        target = e.detach()
        if self.options.loss == "mse":
            rec = F.mse_loss(recon, target)
        else:
            rec = (1 - F.cosine_similarity(recon, target, dim=1)).mean()
        var, cov = variance_covariance(e)
        loss = rec + self.options.var_weight * var + self.options.cov_weight * cov
        return loss, {"recon": rec, "var": var, "cov": cov}
