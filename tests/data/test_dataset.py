"""Streaming dataset: exactly-once epochs over workers / ranks, shuffling, splits, reweighting."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from jetfm.data.config import load_data_config
from jetfm.data.dataset import JetDataset, fit_reweighter, list_units, make_dataloader, split_files
from jetfm.data.reweight import Reweighter, compute_reweighter
from jetfm.errors import ConfigError, DataError
from tests.data.fixtures import jetclass2_table, write_jetclass2_parquet, write_jetclass_root

torch.set_num_threads(1)
SIZES = (37, 50, 23)


def physical_table(n: int, seed: int, first_id: int, labels=None) -> pa.Table:
    """Fixture table with physical 4-vectors, in-selection jet pT / mass and unique event ids."""
    t = jetclass2_table(n, seed, labels)
    rng = np.random.default_rng(seed + 100)
    offsets = t["part_px"].combine_chunks().offsets
    tot = int(offsets[-1].as_py())
    pt, eta, phi = rng.exponential(10, tot) + 0.1, rng.normal(0, 0.3, tot), rng.normal(0, 0.3, tot)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + 0.01)
    rows = np.repeat(np.arange(n), np.diff(offsets.to_numpy()))
    cols = {"part_px": px, "part_py": py, "part_pz": pz, "part_energy": energy}
    for name, vals in cols.items():
        t = t.set_column(t.schema.get_field_index(name), name,
                         pa.ListArray.from_arrays(offsets, pa.array(vals.astype(np.float32))))
    jets = {"jet_energy": np.bincount(rows, energy, n), "jet_pt": rng.uniform(300, 2000, n),
            "jet_sdmass": rng.uniform(30, 400, n)}
    for name, vals in jets.items():
        t = t.set_column(t.schema.get_field_index(name), name, pa.array(vals.astype(np.float32)))
    return t.set_column(t.schema.get_field_index("event_id"), "event_id",
                        pa.array(np.arange(first_id, first_id + n, dtype=np.int64)))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    files, first = [], 0
    for i, n in enumerate(SIZES):
        f = d / f"part_{i}.parquet"
        write_jetclass2_parquet(f, table=physical_table(n, i, first), row_group_size=10)
        files.append(f)
        first += n
    return files


@pytest.fixture(scope="module")
def cfg():
    d = load_data_config("jetclass2").to_dict()
    d["reweight"]["enabled"] = False
    return load_data_config(d)


ALL_IDS = list(range(sum(SIZES)))


def ids(batches) -> list[int]:
    return [int(i) for b in batches for i in b["event_id"]]


def test_batches_have_model_inputs(shards, cfg):
    batches = list(JetDataset(shards, cfg, batch_size=16, extra_columns=("event_id",)))
    b = batches[0]
    assert set(b) == {"x", "v", "mask", "label", "event_id"}
    p = b["x"].shape[-1]
    assert b["x"].shape == (16, 17, p) and b["x"].dtype == torch.float32
    assert b["v"].shape == (16, 4, p) and b["mask"].shape == (16, 1, p)
    assert b["mask"].dtype == torch.bool and b["label"].dtype == torch.int64
    assert p == int(b["mask"].sum(-1).max()) <= 12  # trimmed to the longest jet
    assert ids(batches) == ALL_IDS  # unshuffled: file order, nothing lost
    assert [len(x["label"]) for x in batches][-1] == sum(SIZES) % 16


def test_every_jet_once_across_two_workers(shards, cfg):
    loader = make_dataloader(shards, cfg, batch_size=8, shuffle=True, num_workers=2, seed=3,
                             extra_columns=("event_id",), buffer_size=24)
    seen = ids(loader)
    assert sorted(seen) == ALL_IDS and seen != ALL_IDS


def test_every_jet_once_across_two_ddp_ranks(shards, cfg):
    per_rank = []
    for rank in range(2):
        ds = JetDataset(shards, cfg, batch_size=8, shuffle=True, seed=5, rank=rank,
                        world_size=2, extra_columns=("event_id",), buffer_size=24)
        ds.set_epoch(2)
        per_rank.append(ids(ds))
        # each rank's 2 workers get disjoint units covering the rank's share
        mine = ds.units_for(rank, 2, epoch=2)
        split = [ds.units_for(rank, 2, w, 2, epoch=2) for w in range(2)]
        assert sorted(map(str, split[0] + split[1])) == sorted(map(str, mine))
        assert not set(split[0]) & set(split[1])
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == ALL_IDS
    assert abs(len(per_rank[0]) - len(per_rank[1])) <= 10  # balanced to within one row group


def test_too_few_units_for_ranks_is_an_error(shards, cfg):
    ds = JetDataset(shards[2], cfg, rank=3, world_size=4)  # 23 jets = 3 row groups
    with pytest.raises(DataError, match="3 row groups/files for 4 DDP ranks"):
        list(ds)


def test_shuffle_changes_with_epoch_reproducible_with_seed(shards, cfg):
    def run(seed, epoch):
        ds = JetDataset(shards, cfg, batch_size=8, shuffle=True, seed=seed,
                        extra_columns=("event_id",), buffer_size=24)
        ds.set_epoch(epoch)
        return list(ds)

    a, again, b, other = run(1, 0), run(1, 0), run(1, 1), run(2, 0)
    assert ids(a) == ids(again)
    assert all(torch.equal(x["x"], y["x"]) for x, y in zip(a, again))
    assert ids(a) != ids(b) and ids(a) != ids(other)
    assert sorted(ids(a)) == sorted(ids(b)) == ALL_IDS


def test_selection_is_applied(shards):
    d = load_data_config("jetclass2").to_dict()
    d["reweight"]["enabled"] = False
    d["selection"] = [{"column": "jet_pt", "lt": 1000}]
    cut = load_data_config(d)
    kept = ids(JetDataset(shards, cut, batch_size=64, extra_columns=("event_id",)))
    pts = np.concatenate([physical_table(n, i, 0)["jet_pt"].to_numpy()
                          for i, n in enumerate(SIZES)])
    assert kept == np.flatnonzero(pts < 1000).tolist()


def test_nan_in_file_names_file_and_column(tmp_path, cfg):
    t = physical_table(12, 0, 0)
    px = t["part_px"].combine_chunks()
    vals = px.values.to_numpy(zero_copy_only=False).copy()
    vals[5] = np.nan
    t = t.set_column(0, "part_px", pa.ListArray.from_arrays(px.offsets, pa.array(vals)))
    f = tmp_path / "broken.parquet"
    write_jetclass2_parquet(f, table=t)
    with pytest.raises(DataError, match=r"broken\.parquet.*'part_px'"):
        list(JetDataset([f], cfg, batch_size=4))


def test_split_files_deterministic_and_disjoint(tmp_path):
    files = [tmp_path / f"shard_{i:03d}.parquet" for i in range(20)]
    for f in files:   # split_files only lists them, but paths must exist
        f.write_bytes(b"")
    train, val, test = split_files(files, 0.1, 0.15, seed=7)
    assert (len(train), len(val), len(test)) == (15, 2, 3)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert sorted(train + val + test) == sorted(files)
    assert split_files(files[::-1], 0.1, 0.15, seed=7) == (train, val, test)  # order-free
    assert split_files(files, 0.1, 0.15, seed=8) != (train, val, test)
    assert [len(s) for s in split_files(files[:2], 0.1, 0.0)] == [1, 1, 0]  # >= 1 file each
    with pytest.raises(ConfigError, match="cannot split 1 file"):
        split_files(files[:1], 0.1, 0.1)


def toy(n, rng):
    """Label 0: falling pT, light; label 1: harder, heavier and 3x as many jets."""
    lab = (rng.random(n) < 0.75).astype(np.int64)
    pt = np.where(lab == 0, 200 + rng.exponential(200, n), 200 + rng.exponential(400, n))
    m = np.where(lab == 0, rng.normal(80, 45, n), rng.normal(150, 50, n))
    return pt, m, lab


def test_reweighting_flattens_skewed_toy():
    d = load_data_config("jetclass").to_dict()
    d["reweight"] = {"enabled": True, "groups": "label", "threshold": 0,
                     "bins": {"jet_pt": [200, 250, 300, 400, 500, 700],
                              "jet_sdmass": [20, 60, 100, 140, 180]}}
    cfg = load_data_config(d)
    rng = np.random.default_rng(0)
    rw = compute_reweighter(*toy(300_000, rng), cfg)
    pt, m, lab = toy(300_000, rng)  # a fresh sample: flatness is not just self-consistency
    w = rw.weights(pt, m, lab)
    edges = cfg.reweight.bins
    totals = []
    for k in (0, 1):
        h, _, _ = np.histogram2d(pt[lab == k], m[lab == k], edges, weights=w[lab == k])
        raw, _, _ = np.histogram2d(pt[lab == k], m[lab == k], edges)
        assert raw.max() / raw.min() > 5                   # the toy really is skewed
        assert h.std() / h.mean() < 0.1                    # and the weighted one is flat
        totals.append(h.sum())
    assert totals[0] == pytest.approx(totals[1], rel=0.03)  # groups weigh the same
    inside = (pt < 700) & (m > 20) & (m < 180)
    assert not w[~inside].any()                              # under/overflow discarded
    again = Reweighter.from_dict(rw.to_dict())
    np.testing.assert_array_equal(again.weights(pt, m, lab), w)


def test_reweighter_fit_from_files_gives_weights(shards):
    d = load_data_config("jetclass2").to_dict()  # reweighting on, Sophon's 30 groups
    d["reweight"]["mode"] = "loss"
    cfg = load_data_config(d)
    rw = fit_reweighter(shards, cfg, max_jets=60)
    assert len(rw.group_names) == 30 and rw.table.shape == (30, 14, 48)
    assert rw.mode == "loss" and 0 < rw.stats["ess"] <= 1 and rw.stats["jets"] >= 60
    batches = list(JetDataset(shards, cfg, batch_size=32, reweighter=rw))
    w = torch.cat([b["weight"] for b in batches])
    assert w.dtype == torch.float32 and len(w) == sum(SIZES) and (w >= 0).all() and w.sum() > 0


def _groups(shards, rw) -> dict[int, int]:
    """Reweighting group of each jet, by event id."""
    groups = {}
    for b in JetDataset(shards, load_data_config("jetclass2"), batch_size=1000,
                        extra_columns=("event_id",)):
        groups.update(zip(b["event_id"].tolist(), rw.group_of_label[b["label"].numpy()]))
    return groups


def _drawn(shards, rw, table_of_group):
    """Event ids of one epoch drawn by `rw` with its table set per group."""
    rw.table = np.stack([np.full(rw.table.shape[1:], table_of_group(g), np.float32)
                         for g in range(len(rw.group_names))])
    ds = JetDataset(shards, load_data_config("jetclass2"), batch_size=16, shuffle=True,
                    seed=3, buffer_size=40, reweighter=rw, extra_columns=("event_id",))
    batches = list(ds)
    assert batches and not any("weight" in b for b in batches)  # sampled: unweighted loss
    return np.concatenate([b["event_id"].numpy() for b in batches])


def test_reweighting_samples_jets_by_weight_as_weaver(shards):
    rw = fit_reweighter(shards, load_data_config("jetclass2"), max_jets=60)
    assert rw.mode == "sample"                                   # the default
    groups = _groups(shards, rw)
    first = groups[0]
    # weight 0 for one group, 1 for the rest: that group never drawn, the rest exactly once
    ids = _drawn(shards, rw, lambda g: 0.0 if g == first else 1.0)
    assert rw.n_repeats == 1
    expected = sorted(i for i, g in groups.items() if g != first)
    assert 0 < len(expected) < len(groups) and sorted(ids.tolist()) == expected
    # weight 4 for that group, 1 for the rest: up-sampled 4x (each copy kept), the rest
    # offered 4x and kept with probability 1/4 each
    ids = _drawn(shards, rw, lambda g: 4.0 if g == first else 1.0)
    assert rw.n_repeats == 4
    counts = {i: int((ids == i).sum()) for i in groups}
    heavy = [c for i, c in counts.items() if groups[i] == first]
    light = np.array([c for i, c in counts.items() if groups[i] != first])
    assert heavy and set(heavy) == {4}
    assert light.max() <= 4 and 0.6 < light.mean() < 1.4


def test_sampling_flattens_skewed_toy_and_caps_repeats():
    d = load_data_config("jetclass").to_dict()
    d["reweight"] = {"enabled": True, "groups": "label", "threshold": 0,
                     "bins": {"jet_pt": [200, 250, 300, 400, 500, 700],
                              "jet_sdmass": [20, 60, 100, 140, 180]}}
    rng = np.random.default_rng(1)
    rw = compute_reweighter(*toy(200_000, rng), load_data_config(d))
    pt, m, lab = toy(200_000, rng)
    idx = rw.sample(rw.weights(pt, m, lab), rng)
    assert rw.n_repeats == min(10, int(rw.table.max()))
    assert np.bincount(idx).max() <= rw.n_repeats
    edges = load_data_config(d).reweight.bins
    totals = []
    for k in (0, 1):
        sel = idx[lab[idx] == k]
        h, _, _ = np.histogram2d(pt[sel], m[sel], edges)
        assert h.std() / h.mean() < 0.15                     # the drawn jets are flat
        totals.append(len(sel))
    assert totals[0] == pytest.approx(totals[1], rel=0.1)   # and the groups balanced
    with pytest.raises(ConfigError, match="reweight.mode"):
        load_data_config({**d, "reweight": {**d["reweight"], "mode": "both"}})


def test_root_input_through_the_same_dataset(tmp_path):
    cfg = load_data_config("jetclass")
    written = [write_jetclass_root(tmp_path / f"jc_{i}.root", n_jets=n, seed=i)
               for i, n in enumerate((15, 9))]
    assert len(list_units(sorted(tmp_path.glob("*.root")))) == 2
    batches = list(make_dataloader(sorted(tmp_path.glob("*.root")), cfg, batch_size=10))
    labels = torch.cat([b["label"] for b in batches]).tolist()
    assert labels == [int(x) for w in written for x in w["labels"]]
    assert max(labels) < 10 and batches[0]["x"].shape[1] == 17
    n = np.concatenate([w["n"] for w in written])
    assert torch.cat([b["mask"].sum((1, 2)) for b in batches]).tolist() == n.tolist()
    with pytest.raises(ConfigError, match="label space 'jetclass2'"):
        JetDataset(tmp_path / "jc_0.root", load_data_config("jetclass2"))


def test_split_files_is_stratified_by_folder(tmp_path):
    """One sample per folder: every sample must reach val and test when it has enough files."""
    files = []
    for sample in ("qcd", "res2p", "res34p"):
        (tmp_path / sample).mkdir()
        for i in range(5):
            f = tmp_path / sample / f"{sample}_{i:05d}.parquet"
            f.write_bytes(b"")
            files.append(f)
    train, val, test = split_files(files, 0.2, 0.2, seed=1)
    for split in (val, test):
        assert sorted(p.parent.name for p in split) == ["qcd", "res2p", "res34p"]
    assert len(train) == 9 and not set(train) & set(val) | set(train) & set(test)
