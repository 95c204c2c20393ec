"""The training stream: epoch after epoch of reshuffled batches, resumable at the exact batch.

`Endless` repeats a `JetDataset` forever (new shuffle each epoch) and tags every batch with
its position (epoch, index within that epoch, DataLoader worker). The `StreamPosition`
callback remembers the position of the last batch trained on and keeps it in every
checkpoint; on restore it points `StreamLoader` there before the stream restarts. A resumed
run therefore continues with the batch after the checkpoint's, never from epoch 0.

Exactness: batches of one (epoch, worker) are a deterministic function of the seed, so with
`num_workers = 0` a resumed run sees exactly the batches of an unbroken one. With workers each
resumes at its own position (no batch repeated or skipped), but the DataLoader restarts its
round-robin at worker 0, so the interleaving of workers can differ from an unbroken run.
"""
from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..data.dataset import JetDataset
from ..errors import ConfigError

POSITION_KEY = "_stream_position"   # (epoch, index in epoch, worker) of a batch


class Endless(IterableDataset):
    """Repeat a JetDataset forever, advancing its epoch (new shuffle) each pass."""

    def __init__(self, dataset: JetDataset):
        self.dataset = dataset
        self.start: dict[int, tuple[int, int]] = {}   # worker -> (epoch, batches to skip)

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info else 0
        epoch, skip = self.start.get(worker, (0, 0))
        while True:
            self.dataset.set_epoch(epoch)
            empty = True
            for index, batch in enumerate(self.dataset):
                empty = False
                if index < skip:            # consumed before the checkpoint
                    continue
                batch[POSITION_KEY] = torch.tensor([epoch, index, worker])
                yield batch
            if empty:
                ds = self.dataset
                raise ConfigError(
                    f"no complete training batch: {ds.num_jets()} training jets in "
                    f"{len(ds.files)} file(s) before the selection, fewer than --batch-size "
                    f"{ds.batch_size} after it; lower --batch-size or add data")
            epoch, skip = epoch + 1, 0


class StreamLoader:
    """A DataLoader over `Endless`; `resume_at` sets where each worker's stream restarts."""

    def __init__(self, dataset: JetDataset, num_workers: int, seed: int):
        self.endless = Endless(dataset)
        self.num_workers = num_workers
        self.seed = seed

    def __iter__(self):
        loader = DataLoader(self.endless, batch_size=None, num_workers=self.num_workers,
                            generator=torch.Generator().manual_seed(self.seed))
        yield from loader

    def resume_at(self, trained: dict[int, tuple[int, int]], num_workers: int) -> None:
        if num_workers != self.num_workers:
            # workers shard the data differently: restart each at the earliest epoch reached
            epoch = min((p[0] for p in trained.values()), default=0)
            trained = {w: (epoch, 0) for w in range(max(self.num_workers, 1))}
        self.endless.start = dict(trained)


class StreamPosition(Callback):
    """Records the position of every batch *trained on* (Lightning fetches ahead, so what the
    loader has handed out is further on) and keeps it in the checkpoints; on restore, it
    points the stream at the batch after the checkpoint's."""

    def __init__(self, loader: StreamLoader):
        self.loader = loader
        self.trained: dict[int, tuple[int, int]] = {}   # worker -> (epoch, next index)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        epoch, index, worker = (int(x) for x in batch[POSITION_KEY])
        self.trained[worker] = (epoch, index + 1)

    def state_dict(self) -> dict[str, Any]:
        return {"trained": {int(w): list(p) for w, p in self.trained.items()},
                "num_workers": self.loader.num_workers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trained = {int(w): (int(p[0]), int(p[1])) for w, p in state["trained"].items()}
        self.loader.resume_at(self.trained, int(state.get("num_workers", 0)))


__all__ = ["Endless", "StreamLoader", "StreamPosition", "POSITION_KEY"]
