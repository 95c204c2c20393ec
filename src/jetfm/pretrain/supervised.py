"""Sophon: supervised pre-training on the 188 JetClass-II labels (cross-entropy).

Reweighting (flat in (pT, m_SD) per label group, `data.reweight`) normally samples the jets
(weaver's way) and the loss is a plain mean; with `reweight.mode: loss` the batch carries
per-jet weights and the loss is their weighted mean (the same expectation, noisier).
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

