"""Positive pairs by resim_group: never two jets of one (replica) event, counted alike
by pair_by_group, check_pairs, the dataset and inspect."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from jetfm.data.config import load_data_config
from jetfm.data.dataset import JetDataset
from jetfm.data.features import FlatJets
from jetfm.data.pairs import check_pairs, count_pairs, group_pairs, pair_by_group
from jetfm.errors import DataError
from tests.data.fixtures import write_jetclass2_parquet
from tests.data.test_dataset import physical_table

torch.set_num_threads(1)

# jets 0, 1: one event in one group (the planted wrong pair); 2 their partner in another
# replica; 3, 4: a clean pair; 5: alone; 6: no group
GROUPS = np.array([7, 7, 7, 3, 3, 9, -1])
EVENTS = np.array([1, 1, 2, 5, 6, 8, 8])
CLEAN = [(0, 2), (1, 2), (3, 4)]


def _flat(groups, events=None) -> FlatJets:
    n = len(groups)
    jets = {"resim_group": groups, "label": np.arange(n)}
    if events is not None:
        jets["event_id"] = events
    return FlatJets(np.arange(n, dtype=np.float32)[:, None], np.zeros((n, 4), np.float32),
                    np.ones(n, np.int64), jets)


def _pairs(p) -> list[tuple[int, int]]:
    return sorted(zip(p.a.jets["label"].tolist(), p.b.jets["label"].tolist()))


def test_pair_by_group_never_pairs_two_jets_of_one_event():
    assert _pairs(pair_by_group(_flat(GROUPS, EVENTS), "resim_group")) == CLEAN
    # without event_id (files that lack it) every pair of a group is formed, as before
    assert _pairs(pair_by_group(_flat(GROUPS), "resim_group")) == sorted(CLEAN + [(0, 1)])


def test_group_pairs_is_combinations_order_and_count_agrees():
    i, j = group_pairs(GROUPS, EVENTS)
    assert list(zip(i.tolist(), j.tolist())) == [(3, 4), (0, 2), (1, 2)]   # by group id
    assert count_pairs(GROUPS, EVENTS) == (3, 5)
    big = np.repeat(np.arange(50), 4)           # 50 groups of 4 jets, 2 per event
    i, j = group_pairs(big, np.arange(200) // 2)
    assert len(i) == 50 * 4 and (big[i] == big[j]).all() and (i // 2 != j // 2).all()


def _write(path, groups, events, seed=0):
    t = physical_table(len(groups), seed, 0)
    for name, vals in (("resim_group", groups), ("event_id", events)):
        t = t.set_column(t.schema.get_field_index(name), name, pa.array(vals, pa.int64()))
    write_jetclass2_parquet(path, table=t)


def test_check_pairs_counts_without_same_event_pairs(tmp_path):
    _write(tmp_path / "a.parquet", GROUPS, EVENTS)
    assert check_pairs(tmp_path / "a.parquet") == 3
    _write(tmp_path / "b.parquet", np.array([4, 4, -1]), np.array([2, 2, 3]))
    with pytest.raises(DataError, match="b.parquet: no two jets share"):
        check_pairs(tmp_path / "b.parquet")


def test_dataset_reads_event_id_for_the_guard_only(tmp_path):
    # 40 jets: groups 0..9 hold two jets of one event each (wrong), 10..19 two events (clean)
    groups = np.repeat(np.arange(20), 2)
    events = np.where(groups < 10, groups, 100 + np.arange(40))
    _write(tmp_path / "r.parquet", groups, events)
    cfg = load_data_config("jetclass2").to_dict()
    cfg["reweight"]["enabled"] = False
    cfg = load_data_config(cfg)
    ds = JetDataset(tmp_path / "r.parquet", cfg, batch_size=4, pair_by="resim_group")
    batches = list(ds)
    got = sorted(int(g) for b in batches for g in b["resim_group"])
    assert got == list(range(10, 20))
    assert all("event_id" not in b for b in batches)     # read for the guard, then dropped
    kept = JetDataset(tmp_path / "r.parquet", cfg, batch_size=4, pair_by="resim_group",
                      extra_columns=("event_id",))
    assert all("event_id" in b for b in kept)
