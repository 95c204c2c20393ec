"""How a backbone is adapted to a task: one function per family of modes.

- on frozen embeddings (computed once, `data.cached_embeddings`): `linear` (logistic
  regression), `frozen` (MLP head), `knn` (cosine kNN, k chosen on the validation split);
- through the network (Lightning): `finetune` (whole model, backbone at a lower learning rate
  after an optional frozen warm-up), `lora` (peft LoRA adapters on every attention projection
  and feed-forward linear of the particle and class blocks, base weights frozen), `scratch`
  (same architecture, random initialisation).
"""
from __future__ import annotations

import math

import lightning as L
import numpy as np
import torch
import torch.nn as nn
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..data.features import FlatJets

EMBEDDING_MODES = ("linear", "frozen", "knn")
NETWORK_MODES = ("finetune", "lora", "scratch")
MODES = EMBEDDING_MODES + NETWORK_MODES
KNN_CANDIDATES = (11, 15, 21, 31, 51, 101)
# every nn.Linear of the transformer blocks (attention in/out projections, feed-forward)
LORA_TARGETS = r".*(blocks|cls_blocks)\.\d+\.(attn\.in_proj|attn\.out_proj|fc1|fc2)"


def fit_on_embeddings(mode: str, emb: np.ndarray, y: np.ndarray, train: np.ndarray,
                      val: np.ndarray, seed: int):
    """(fitted classifier with predict_proba, trainable parameters, chosen settings)."""
    d, c = emb.shape[1], int(y.max()) + 1
    if mode == "linear":
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
        clf.fit(emb[train], y[train])
        return clf, (d + 1) * (c if c > 2 else 1), {}
    if mode == "frozen":
        clf = make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(128,), max_iter=400, random_state=seed, alpha=1e-3))
        clf.fit(emb[train], y[train])
        return clf, (d + 1) * 128 + 129 * (c if c > 2 else 1), {}
    if mode == "knn":
        best = None
        for k in KNN_CANDIDATES:
            if k >= len(train):
                break
            knn = KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(emb[train], y[train])
            acc = float((knn.predict(emb[val]) == y[val]).mean())
            if best is None or acc > best[0]:
                best = (acc, k, knn)
        if best is None:     # fewer training jets than the smallest k: use them all
            k = len(train)
            best = (None, k, KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(
                emb[train], y[train]))
        return best[2], 0, {"k": best[1]}
    raise ValueError(mode)


class TransferModule(L.LightningModule):
    """Backbone + MLP head on the embedding, cross-entropy."""

    def __init__(self, backbone: nn.Module, n_classes: int, mode: str, lr: float = 1e-3,
                 backbone_lr_factor: float = 0.1, warmup_steps: int = 0):
        super().__init__()
        self.backbone, self.mode = backbone, mode
        d = backbone.config.embed_dims[-1]
        self.head = nn.Sequential(nn.Linear(d, 128), nn.GELU(), nn.Linear(128, n_classes))
        self.lr, self.backbone_lr_factor, self.warmup_steps = lr, backbone_lr_factor, warmup_steps
        if mode == "lora":
            for name, p in self.backbone.named_parameters():
                p.requires_grad = "lora_" in name

    def forward(self, x, v, mask):
        return self.head(self.backbone(x, v, mask).embedding)

    def _backbone_frozen(self) -> bool:
        return self.mode == "lora" or (self.mode == "finetune"
                                       and self.global_step < self.warmup_steps)

    def on_train_batch_start(self, batch, batch_idx):
        # frozen = no gradient AND eval mode (BatchNorm statistics and dropout fixed)
        frozen = self._backbone_frozen()
        self.backbone.train(not frozen)
        if self.mode == "finetune":
            for p in self.backbone.parameters():
                p.requires_grad = not frozen

    def training_step(self, batch, batch_idx):
        loss = nn.functional.cross_entropy(self(batch["x"], batch["v"], batch["mask"]),
                                           batch["label"])
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    def configure_optimizers(self):
        back = [p for n, p in self.backbone.named_parameters()
                if self.mode != "lora" or "lora_" in n]
        factor = self.backbone_lr_factor if self.mode == "finetune" else 1.0
        return torch.optim.AdamW([{"params": self.head.parameters(), "lr": self.lr},
                                  {"params": back, "lr": self.lr * factor}], weight_decay=1e-4)


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


def train_network(module: TransferModule, jets: FlatJets, train: np.ndarray, max_particles: int,
                  steps: int, batch_size: int, seed: int, progress: bool) -> None:
    L.seed_everything(seed, workers=True, verbose=False)
    batch_size = min(batch_size, len(train))
    epochs = math.ceil(steps / math.ceil(len(train) / batch_size))
    trainer = L.Trainer(max_steps=steps, max_epochs=epochs, accelerator="auto", devices=1,
                        logger=False, enable_checkpointing=False, enable_model_summary=False,
                        enable_progress_bar=progress, num_sanity_val_steps=0)
    trainer.fit(module, _loader(jets, train, max_particles, batch_size, True, seed))


@torch.inference_mode()
def predict_network(module: TransferModule, jets: FlatJets, idx: np.ndarray,
                    max_particles: int, batch_size: int = 512) -> np.ndarray:
    module.eval()
    out = [torch.softmax(module(b["x"], b["v"], b["mask"]).float(), dim=1).numpy()
           for b in _loader(jets, idx, max_particles, batch_size, False, 0)]
    return np.concatenate(out)
