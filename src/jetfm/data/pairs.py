"""Explicit positive pairs: jets that share a parton shower (`resim_group`, from
`jetfm generate --resim R`) become *one* item holding both views, before any shuffling, so a
shuffle buffer or DDP sharding can never split or mispair them.

A group with k ≥ 2 jets in a read batch gives every one of its k(k−1)/2 pairs; the group id
travels with the pair so a contrastive loss can keep same-group views out of the negatives.
Jets without a partner (k = 1, or the group's other jets cut by the selection) are dropped.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from ..errors import DataError
from .features import FlatJets, LockstepJets
from .parquet import open_parquet
from .paths import PathsLike, expand_paths, format_of


class PairedJets(LockstepJets):
    """Item i = (a[i], b[i]), two jets of one shower; second view as x2 / v2 / mask2."""


def pair_by_group(flat: FlatJets, column: str) -> PairedJets:
    """Every pair of jets of `flat` sharing `column` (≥ 0; −1 means no group)."""
    groups = flat.jets[column]
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], len(g)]
    first, second = [], []
    for s, e in zip(starts, ends):
        if e - s >= 2 and g[s] >= 0:
            for i, j in combinations(order[s:e], 2):
                first.append(i)
                second.append(j)
    idx_a, idx_b = np.asarray(first, np.int64), np.asarray(second, np.int64)
    return PairedJets(flat.take(idx_a), flat.take(idx_b))


def check_pairs(files: PathsLike, column: str = "resim_group") -> int:
    """Every file must hold jets sharing `column` (pairs); returns the number of pairs.
    DataError names the first file without, and says how to make such data."""
    hint = ("positive pairs need jets from one parton shower: make them with "
            "`jetfm generate --resim 2` (or more replicas)")
    total = 0
    for path in expand_paths(files):
        if format_of(path) != "parquet":
            raise DataError(f"{path}: has no '{column}' column (JetClass ROOT); {hint}")
        with open_parquet(path) as pf:
            if column not in pf.schema_arrow.names:
                raise DataError(f"{path}: has no '{column}' column; {hint}")
            groups = pf.read(columns=[column]).column(0).to_numpy()
        _, counts = np.unique(groups[groups >= 0], return_counts=True)
        pairs = int((counts * (counts - 1) // 2).sum())
        if pairs == 0:
            raise DataError(f"{path}: no two jets share a '{column}' (no pairs); {hint}")
        total += pairs
    return total


__all__ = ["PairedJets", "pair_by_group", "check_pairs"]
