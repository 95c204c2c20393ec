"""Streaming, shuffled, sharded batches of ParT inputs from Parquet shards / JetClass ROOT files.

`JetDataset` is an IterableDataset that yields ready-made batches (dicts of torch tensors,
keys and shapes as in `jetfm.data.features`), so the DataLoader runs with `batch_size=None`
(`make_dataloader` sets this up).

Work is split in *units*: one Parquet row group, or one whole ROOT file. Each epoch the unit
list is shuffled (seed, epoch) and dealt out, balanced by jet count, first to DDP ranks, then
to the DataLoader workers of each rank: every jet is read exactly once per epoch by exactly
one worker of one rank. Ranks may differ by up to one unit's worth of jets, so DDP training
should bound each epoch by a step count (or give files equal row groups). There must be at
least as many units as ranks -- an empty rank would hang DDP, so that is an error.

Shuffling: unit order per epoch, `interleave` units read concurrently round-robin (JetClass-II
files hold one family each; reading them one after another would give single-family
batches), and a shuffle buffer of `buffer_size` jets. Call `set_epoch(epoch)` before each
epoch (Lightning does not do it for IterableDatasets; the module's `on_train_epoch_start`
should) -- the same (seed, epoch) gives the same batches.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Iterator, Sequence

import awkward as ak
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from tqdm import tqdm

from ..errors import ConfigError, DataError
from .config import DataConfig
from .features import FlatJets, LockstepJets, apply_selection, compute_flat
from .genparts import GEN_COLUMNS, GenRecoJets, gen_flat
from .pairs import EVENT_COLUMN, has_event_column, pair_by_group
from .files import (Unit, check_footer, check_label_space, iter_unit, list_units,
                    verify_file)
from .parquet import check_finite
from .paths import PathsLike, expand_paths
from .reweight import Reweighter, compute_reweighter


def check_files(files: PathsLike, cfg: DataConfig, verify: bool = True,
                progress: bool = False, extra_columns: Sequence[str] = (),
                allow_unlabelled: bool = False) -> int:
    """Fail before a run starts on any file it would trip over later (perhaps only at the first
    validation, or in `evaluate`): with `verify` every page of the columns the run reads is
    read and checked (checksums, integer ranges, NaN/inf, empty jets, label range), otherwise
    only footers (columns, types, label space, empty files, unlabelled jets by the column
    statistics). `extra_columns`: columns a strategy reads besides the data config's;
    `allow_unlabelled`: jets with label −1 are fine (self-supervised strategies). Returns the
    number of jets."""
    paths = expand_paths(files)
    cols = list(dict.fromkeys(cfg.required_columns() + list(extra_columns)))
    labels = cfg.labels.source_names if cfg.labels is not None else None
    label_col = cfg.labels.column if cfg.labels is not None else None
    particle_col = next((c for c in cols if c.startswith("part_")), None)
    total = 0
    for path in tqdm(paths, desc="check data", unit="file", disable=not progress,
                     dynamic_ncols=True):
        if verify:
            total += verify_file(path, cols, labels, label_col, particle_col,
                                 allow_unlabelled=allow_unlabelled)
        else:
            total += check_footer(path, cols, labels, label_col, allow_unlabelled)
    return total


def _balance(units: list[Unit], k: int) -> list[list[Unit]]:
    """Deal units to k bins, largest first to the lightest bin; keep input order within bins."""
    bins: list[list[int]] = [[] for _ in range(k)]
    load = np.zeros(k, np.int64)
    for i in sorted(range(len(units)), key=lambda i: -units[i].num_rows):  # stable sort
        j = int(np.argmin(load))
        bins[j].append(i)
        load[j] += units[i].num_rows
    return [[units[i] for i in sorted(b)] for b in bins]


def _dist_info() -> tuple[int, int] | None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return None


class JetDataset(IterableDataset):
    """Batches of ParT inputs streamed from `files`; see the module docstring."""

    def __init__(self, files: PathsLike, cfg: DataConfig, batch_size: int = 512,
                 shuffle: bool = False, seed: int = 0, *, buffer_size: int | None = None,
                 interleave: int = 4, read_batch_size: int = 4096, drop_last: bool = False,
                 rank: int | None = None, world_size: int | None = None,
                 reweighter: Reweighter | None = None, extra_columns: Sequence[str] = (),
                 pair_by: str | None = None, gen_particles: bool = False):
        if batch_size < 1:
            raise ConfigError(f"batch size (--batch-size) must be >= 1, got {batch_size}")
        if read_batch_size < 1 or interleave < 1:
            raise ConfigError("read_batch_size and interleave must be positive")
        if (rank is None) != (world_size is None):
            raise ConfigError("give both rank and world_size, or neither")
        if world_size is not None and not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside [0, {world_size})")
        self.files = expand_paths(files)
        self.cfg, self.batch_size, self.shuffle, self.seed = cfg, batch_size, shuffle, seed
        self.buffer_size = buffer_size if buffer_size is not None else max(32768, 4 * batch_size)
        self.interleave = interleave if shuffle else 1  # unshuffled: plain file order
        self.read_batch_size, self.drop_last = read_batch_size, drop_last
        self.reweighter = reweighter
        # pair_by: items are explicit pairs of jets sharing that column (see data/pairs.py)
        self.pair_by = pair_by
        self.extra_columns = tuple(dict.fromkeys(tuple(extra_columns)
                                                 + ((pair_by,) if pair_by else ())))
        # gen_particles: items also carry the jet's truth quarks/leptons (data/genparts.py)
        self.gen_particles = gen_particles
        # Resolved now, in the rank's main process: spawned workers lose the process group.
        self._ddp = (rank, world_size) if rank is not None else _dist_info()
        self.units = list_units(self.files)
        for path in dict.fromkeys(u.path for u in self.units):
            check_label_space(path, cfg.labels.source_names if cfg.labels else None)
        self.columns = list(dict.fromkeys(
            cfg.required_columns() + list(self.extra_columns)
            + (list(reweighter.vars) + [cfg.labels.column] if reweighter else [])
            + (list(GEN_COLUMNS) if gen_particles else [])))
        # pairing reads event_id where a file has it, so two jets of one replica event are
        # never paired (data/pairs.py); it leaves the batch again unless asked for
        guard = bool(pair_by) and EVENT_COLUMN not in self.extra_columns
        self._pair_events = {p: guard and has_event_column(p)
                             for p in dict.fromkeys(u.path for u in self.units)}
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def num_jets(self) -> int:
        """Jets in the files before selection (all ranks together)."""
        return sum(u.num_rows for u in self.units)

    def shard(self) -> tuple[int, int, int, int]:
        """(rank, world_size, worker id, workers per rank) of the calling process."""
        rank, world = self._ddp or _dist_info() or (0, 1)
        info = get_worker_info()
        return rank, world, (info.id if info else 0), (info.num_workers if info else 1)

    def units_for(self, rank: int, world: int, worker: int = 0, workers: int = 1,
                  epoch: int | None = None) -> list[Unit]:
        """The units one worker of one rank reads in an epoch (deterministic)."""
        epoch = self.epoch if epoch is None else epoch
        units = list(self.units)
        if self.shuffle:
            perm = np.random.default_rng([self.seed, epoch]).permutation(len(units))
            units = [units[i] for i in perm]
        if not units:
            raise DataError(f"{', '.join(map(str, self.files))}: no jets in these files")
        if len(units) < world:
            raise DataError(f"{len(units)} row groups/files for {world} DDP ranks: a rank "
                            f"would get no data; write more shards or smaller row groups")
        return _balance(_balance(units, world)[rank], workers)[worker]

    def _chunks(self, units: list[Unit]) -> Iterator[FlatJets]:
        """Computed chunks from `interleave` units at a time, round-robin."""
        pending = list(units)
        active: list[tuple[Unit, Iterator]] = []
        while pending or active:
            while pending and len(active) < self.interleave:
                u = pending.pop(0)
                extra = (EVENT_COLUMN,) if self._pair_events[u.path] else ()
                active.append((u, iter_unit(u, self.columns + list(extra),
                                            self.read_batch_size)))
            for item in list(active):
                u, it = item
                nxt = next(it, None)
                if nxt is None:
                    active.remove(item)
                    continue
                batch = nxt[0]
                if self.gen_particles:   # select first: reco and gen must stay in step
                    batch = apply_selection(batch, self.cfg)
                extra = (EVENT_COLUMN,) if self._pair_events[u.path] else ()
                flat = compute_flat(batch, self.cfg, path=u.path, row_offset=nxt[1],
                                    reweighter=self.reweighter,
                                    extra_columns=self.extra_columns + extra,
                                    select=not self.gen_particles)
                if self.gen_particles:
                    flat = GenRecoJets(flat, gen_flat(batch))
                if self.pair_by:
                    flat = pair_by_group(flat, self.pair_by)
                    if extra:    # read for the same-event guard only
                        for view in (flat.a, flat.b):
                            view.jets.pop(EVENT_COLUMN)
                if len(flat):
                    yield flat

    def _sample(self, flat, draw: np.random.Generator):
        """Jets drawn by their reweighting weight (weaver's accept-reject with up-sampling);
        the weight leaves the batch, so the loss is unweighted."""
        first = flat.a if isinstance(flat, LockstepJets) else flat
        return flat.take(self.reweighter.sample(first.jets.pop("weight"), draw))

    def _to_torch(self, flat: FlatJets) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v) for k, v in flat.pad(self.cfg.max_particles).items()}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        rank, world, worker, workers = self.shard()
        units = self.units_for(rank, world, worker, workers)
        rng = np.random.default_rng([self.seed, self.epoch, rank, worker])
        bs, buf, n_buf = self.batch_size, [], 0
        # Unshuffled: emit as soon as a batch is full; shuffled: fill the buffer, emit a
        # random half of it, keep the rest to mix with what comes next.
        threshold = self.buffer_size if self.shuffle else bs
        # its own stream, so that sampling leaves the shuffle of unweighted runs unchanged
        draw = np.random.default_rng([self.seed, self.epoch, rank, worker, 1])
        for flat in self._chunks(units):
            if self.reweighter is not None and self.reweighter.mode == "sample":
                flat = self._sample(flat, draw)
            buf.append(flat)
            n_buf += len(flat)
            if n_buf < threshold:
                continue
            data = type(buf[0]).concat(buf)
            order = rng.permutation(n_buf) if self.shuffle else np.arange(n_buf)
            keep = (self.buffer_size // 2) if self.shuffle else 0
            n_out = (n_buf - keep) // bs * bs
            for i in range(0, n_out, bs):
                yield self._to_torch(data.take(order[i:i + bs]))
            buf = [data.take(order[n_out:])]
            n_buf = n_buf - n_out
        if n_buf:
            data = type(buf[0]).concat(buf)
            order = rng.permutation(n_buf) if self.shuffle else np.arange(n_buf)
            stop = n_buf // bs * bs if self.drop_last else n_buf
            for i in range(0, stop, bs):
                yield self._to_torch(data.take(order[i:i + bs]))


def make_dataloader(files: PathsLike, cfg: DataConfig, batch_size: int = 512,
                    shuffle: bool = False, num_workers: int = 0, seed: int = 0,
                    **dataset_kw) -> DataLoader:
    """DataLoader over a `JetDataset` (batches are made by the dataset: batch_size=None).

    `dataset_kw` go to JetDataset (reweighter, extra_columns, rank/world_size, buffer_size,
    drop_last, ...). Fit a reweighter with `jetfm.data.reweight.fit_reweighter` on the
    training files and pass it for training batches with a `weight` key.
    """
    ds = JetDataset(files, cfg, batch_size, shuffle, seed, **dataset_kw)
    return DataLoader(ds, batch_size=None, num_workers=num_workers,
                      persistent_workers=False,  # re-pickle each epoch so set_epoch reaches workers
                      prefetch_factor=2 if num_workers else None,
                      # its own generator: starting to iterate must not draw from the global
                      # torch RNG (dropout's), or a resumed run would drift from an unbroken one
                      generator=torch.Generator().manual_seed(seed))


def fit_reweighter(files: PathsLike, cfg: DataConfig, max_jets: int | None = None,
                   read_batch_size: int = 65536) -> Reweighter | None:
    """One pass over (at most `max_jets` of) the training files; None if reweighting is off.

    The cap is spread over every file / row group in proportion to its size (the first rows
    of each), so a capped pass still sees every file -- JetClass-II files hold one family
    each, and reading the first few files only would miss whole groups. Only the few
    per-jet columns needed are read. Selection cuts are applied first.
    """
    if not cfg.reweight.enabled:
        return None
    units = list_units(files)
    for u in units:
        check_label_space(u.path, cfg.labels.source_names)
    cap = max_jets or cfg.reweight.max_jets
    total = sum(u.num_rows for u in units)
    cols = list(dict.fromkeys(list(cfg.reweight.vars) + [cfg.labels.column]
                              + [c.column for c in cfg.selection]))
    parts = {c: [] for c in cols}
    for u in units:
        limit = u.num_rows if total <= cap else max(1, math.ceil(cap * u.num_rows / total))
        for batch, row in iter_unit(u, cols, min(read_batch_size, limit), limit=limit):
            check_finite(batch, cols, u.path, row)
            batch = apply_selection(batch, cfg)
            for c in cols:
                parts[c].append(ak.to_numpy(batch[c]))
    x, y, lab = (np.concatenate(parts[c]) for c in cols[:3])
    return compute_reweighter(x, y, lab, cfg)


def _split_key(path: Path, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{path.name}".encode()).hexdigest()


def _split_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    n_val = max(1, round(val_fraction * n)) if val_fraction > 0 else 0
    n_test = max(1, round(test_fraction * n)) if test_fraction > 0 else 0
    return n_val, n_test


def split_files(files: PathsLike, val_fraction: float = 0.1, test_fraction: float = 0.1,
                seed: int = 0) -> tuple[list[Path], list[Path], list[Path]]:
    """(train, val, test) file lists, split by whole file, stratified by folder.

    By file, not by jet, so jets sharing a parton shower (`resim_group`) or an event never
    straddle two splits. Files are ranked by a hash of (seed, file name): the split does not
    depend on the order the files are given in. Folders usually hold one sample each
    (`jetfm generate --out data/qcd`), so when every folder has enough files each one is split
    on its own and every sample reaches val and test; otherwise all files are split together.
    Each non-zero fraction gets at least one file and train must keep at least one, so a single
    file cannot be split: ConfigError (write more, smaller files).
    """
    paths = expand_paths(files)
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ConfigError(f"{name} must be in [0, 1), got {f}")
    if val_fraction + test_fraction >= 1:
        raise ConfigError("val_fraction + test_fraction must be < 1")
    n = len(paths)
    n_val, n_test = _split_counts(n, val_fraction, test_fraction)
    if n - n_val - n_test < 1:
        raise ConfigError(f"cannot split {n} file(s) by file into train/val/test "
                          f"({n_val} val + {n_test} test + >= 1 train needed): write more, "
                          f"smaller files (jetfm generate --jets-per-file N) or lower "
                          f"val_fraction/test_fraction (--config)")
    groups: dict[Path, list[Path]] = {}
    for p in paths:
        groups.setdefault(p.parent, []).append(p)
    if len(groups) == 1 or any(len(g) - sum(_split_counts(len(g), val_fraction, test_fraction)) < 1
                               for g in groups.values()):
        groups = {Path("."): paths}
    train, val, test = [], [], []
    for group in groups.values():
        g_val, g_test = _split_counts(len(group), val_fraction, test_fraction)
        ranked = sorted(group, key=lambda p: (_split_key(p, seed), str(p)))
        test += ranked[:g_test]
        val += ranked[g_test:g_test + g_val]
        train += ranked[g_test + g_val:]
    return sorted(train), sorted(val), sorted(test)


__all__ = ["JetDataset", "Unit", "list_units", "iter_unit", "make_dataloader", "split_files",
           "check_files", "fit_reweighter"]
