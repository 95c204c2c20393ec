"""AE(vc): an autoencoder of the jet's particles with a variance/covariance-regularised
bottleneck (the baseline of Rieck et al.'s re-simulation paper, where it is *worse* than the
contrastive backbone: a faithful baseline, not a strong method).

backbone → class token (D) → encoder MLP → bottleneck y (`latent`, 20 at full size) →
decoder MLP → the features of the jet's `particles` leading particles (pT order, zero
padding), reconstructed with a mean squared error. The reconstruction target is the input,
so the embedding is tied to the particles (it is not a stop-gradient copy of itself).
VICReg's variance and covariance terms act on y, the autoencoder's output representation,
so its 20 directions stay spread and decorrelated. Downstream tasks read y by default
(`representation: bottleneck`); the encoder MLP is exported with the backbone for that.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from ..models.heads import MLPHead, mlp
from .losses import variance_covariance
from .module import PretrainModule


@dataclass(frozen=True)
class AutoencoderOptions:
    hidden: tuple[int, ...] = (64, 32, 24)   # encoder widths between embedding and y
    latent: int = 20
    particles: int = 32                      # leading particles reconstructed
    var_weight: float = 1.0
    cov_weight: float = 1.0

    def __post_init__(self):
        if self.latent < 1 or self.particles < 1 or any(h < 1 for h in self.hidden):
            raise ValueError("hidden widths, latent and particles must be >= 1")
        if self.var_weight < 0 or self.cov_weight < 0:
            raise ValueError("var_weight and cov_weight must be >= 0")


class AutoencoderModule(PretrainModule):
    def __init__(self, backbone, optim, max_steps: int, options: AutoencoderOptions):
        super().__init__(backbone, optim, max_steps, options)
        cfg = backbone.config
        dims = [cfg.embed_dims[-1], *options.hidden, options.latent]
        self.encoder = MLPHead(dims)
        self.decoder = mlp([*dims[::-1], options.particles * cfg.input_dim])

    def representation_heads(self):
        return {"bottleneck": self.encoder}

    def compute_loss(self, batch: dict):
        o = self.options
        x = batch["x"] * batch["mask"]                   # padding reconstructs to zero
        y = self.encoder(self(batch).embedding)
        k = min(o.particles, x.shape[-1])
        recon = self.decoder(y).view(len(x), x.shape[1], o.particles)[..., :k]
        rec = F.mse_loss(recon, x[..., :k])
        var, cov = variance_covariance(y)
        loss = rec + o.var_weight * var + o.cov_weight * cov
        return loss, {"recon": rec, "var": var, "cov": cov}
