"""Sophon: supervised pre-training on the 188 JetClass-II labels (cross-entropy).

Optional per-jet weights (flat in (pT, m_SD) per label group, `data.reweight`) enter the loss
as a weighted mean, which is what sampling with those weights would give in expectation.
"""
from __future__ import annotations

import torch.nn.functional as F

from .module import PretrainModule


def classification_loss(logits, batch: dict):
    """(cross-entropy, accuracy); a weighted mean when the batch has per-jet weights."""
    labels = batch["label"].long()
    per_jet = F.cross_entropy(logits, labels, reduction="none")
    if "weight" in batch:
        w = batch["weight"].to(per_jet.dtype)
        loss = (per_jet * w).sum() / w.sum().clamp_min(1e-12)
    else:
        loss = per_jet.mean()
    return loss, (logits.argmax(dim=1) == labels).float().mean()


class SupervisedModule(PretrainModule):
    def compute_loss(self, batch: dict):
        loss, acc = classification_loss(self(batch).logits, batch)
        return loss, {"acc": acc}

