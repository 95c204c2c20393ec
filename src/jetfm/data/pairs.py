"""Explicit positive pairs: jets that are the same jet in two re-simulations of one parton
shower (`resim_group`, from `jetfm generate --resim R`) become *one* item holding both views,
before any shuffling, so a shuffle buffer or DDP sharding can never split or mispair them.

Contract of the files (`jetfm.sim.resim_pairs`): jets share a `resim_group` only when they
are the same jet in *different* replicas (same hard parton, ΔR < 0.4, pT within a factor
1.5, one jet per replica); every other jet has an id of its own (−1: no re-simulation).

A group with k ≥ 2 jets in a read batch gives each of its k(k−1)/2 pairs, except pairs of
two jets of the same event (`event_id`, which differs between replicas): a replica is never
its own positive. Files written before groups were matched jet by jet hold a shower's every
jet in one group; the guard at least keeps their same-replica pairs out. The group id
travels with the pair so a contrastive loss can keep same-group views out of the negatives.
Jets without a partner (k = 1, or the group's other jets cut by the selection) are dropped.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..sim.resim_pairs import block_pairs
from .features import FlatJets, LockstepJets
from .parquet import open_parquet
from .paths import PathsLike, expand_paths, format_of

EVENT_COLUMN = "event_id"


class PairedJets(LockstepJets):
    """Item i = (a[i], b[i]), two jets of one shower; second view as x2 / v2 / mask2."""


def group_pairs(groups: np.ndarray,
                events: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of jets sharing a group ≥ 0 and, if `events` is given, from two
    different events; ordered by group, then as itertools.combinations within a group."""
    groups = np.asarray(groups, np.int64)
    # jets without a group (−1) each get a unique negative key: never paired
    key = np.where(groups >= 0, groups, -1 - np.arange(len(groups)))
    i, j = block_pairs(key)
    if events is not None:
        events = np.asarray(events)
        ok = events[i] != events[j]
        i, j = i[ok], j[ok]
    return i, j


def count_pairs(groups: np.ndarray, events: np.ndarray | None = None) -> tuple[int, int]:
    """(pairs, jets in at least one pair), counted as `pair_by_group` pairs them."""
    i, j = group_pairs(groups, events)
    return len(i), len(np.unique(np.concatenate([i, j])))


def pair_by_group(flat: FlatJets, column: str, event_column: str = EVENT_COLUMN) -> PairedJets:
    """Every pair of jets of `flat` sharing `column` (≥ 0; −1 means no group), never two of
    the same event when `flat` carries `event_column`."""
    idx_a, idx_b = group_pairs(flat.jets[column], flat.jets.get(event_column))
    return PairedJets(flat.take(idx_a), flat.take(idx_b))


def check_pairs(files: PathsLike, column: str = "resim_group") -> int:
    """Every file must hold jets sharing `column` (pairs); returns the number of pairs,
    counted as `pair_by_group` makes them (no same-event pairs where `event_id` exists).
    DataError names the first file without, and says how to make such data."""
    hint = ("positive pairs need jets from one parton shower: make them with "
            "`jetfm generate --resim 2` (or more replicas)")
    total = 0
    for path in expand_paths(files):
        if format_of(path) != "parquet":
            raise DataError(f"{path}: has no '{column}' column (JetClass ROOT); {hint}")
        with open_parquet(path) as pf:
            names = pf.schema_arrow.names
            if column not in names:
                raise DataError(f"{path}: has no '{column}' column; {hint}")
            cols = [column] + ([EVENT_COLUMN] if EVENT_COLUMN in names else [])
            table = pf.read(columns=cols)
        events = table.column(EVENT_COLUMN).to_numpy() if len(cols) == 2 else None
        pairs, _ = count_pairs(table.column(column).to_numpy(), events)
        if pairs == 0:
            raise DataError(f"{path}: no two jets share a '{column}' (no pairs); {hint}")
        total += pairs
    return total


def has_event_column(path) -> bool:
    """Whether a file carries `event_id` (jetfm's Parquet files do; JetClass ROOT does not)."""
    if format_of(path) != "parquet":
        return False
    with open_parquet(path) as pf:
        return EVENT_COLUMN in pf.schema_arrow.names


__all__ = ["PairedJets", "EVENT_COLUMN", "group_pairs", "count_pairs", "pair_by_group",
           "check_pairs", "has_event_column"]
