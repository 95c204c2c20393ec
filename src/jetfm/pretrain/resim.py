"""Re-simulation contrastive learning (RS3L): two jets from the same parton shower, hadronised
and detected independently (`jetfm generate --resim R`), are a positive pair; the other jets
of the batch are negatives. NT-Xent over the 2N views (τ = 0.1) on an 8-d projection of the
embedding that downstream tasks use.

Pairs are explicit items (`data/pairs.py`): the batch holds both views (x, v, mask and
x2, v2, mask2) and the group id, so same-shower views never count as negatives.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..models.heads import MLPHead
from .losses import alignment, nt_xent
from .module import PretrainModule


@dataclass(frozen=True)
class ResimOptions:
    temperature: float = 0.1
    projection: tuple[int, ...] = (128, 8)   # hidden width(s), then the output dimension

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not self.projection or any(d < 1 for d in self.projection):
            raise ValueError("projection widths must be >= 1")


class ResimModule(PretrainModule):
    def __init__(self, backbone, optim, max_steps: int, options: ResimOptions):
        super().__init__(backbone, optim, max_steps, options)
        # normalised output: what NT-Xent compares, and what the paper's kNN and heads read
        self.projector = MLPHead([backbone.config.embed_dims[-1], *options.projection],
                                 normalize=True)

    def representation_heads(self):
        return {"projection": self.projector}

    def compute_loss(self, batch: dict):
        e1 = self.backbone(batch["x"], batch["v"], batch["mask"]).embedding
        e2 = self.backbone(batch["x2"], batch["v2"], batch["mask2"]).embedding
        z1, z2 = self.projector(e1), self.projector(e2)
        loss = nt_xent(z1, z2, self.options.temperature, batch.get("resim_group"))
        return loss, {"align": alignment(z1, z2).detach()}
