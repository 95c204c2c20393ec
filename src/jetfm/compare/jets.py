"""One side of a comparison, reduced to what the measures need: per-jet numbers (kinematics,
response, multiplicities and energy shares per constituent type, displaced tracks, truth counts)
and per-jet lists (the model's 17 input features per particle, the truth pids per flag).

Reduced batch by batch, so a sample of N jets costs N x (a few dozen numbers + 17 floats per
particle), never the raw columns. Pure: no files, no printing.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache

import awkward as ak
import numpy as np

from ..data.config import DataConfig, load_data_config
from ..data.features import compute_flat

# constituent types: name -> JetClass-II flag column (design.md "Data schema")
TYPES = {"charged_hadron": "part_isChargedHadron", "photon": "part_isPhoton",
         "neutral_hadron": "part_isNeutralHadron", "electron": "part_isElectron",
         "muon": "part_isMuon"}
# truth flags of aux_genpart: name -> column
FLAGS = {name: f"aux_genpart_{name}" for name in
         ("isResX", "isResY", "isResDecayProd", "isTauDecayProd", "isQcdParton")}
DISPLACED_MM = 10.0          # |d0| above which a charged candidate counts as displaced
MATCH_VARS = ("log_pt", "msd_over_pt", "abs_eta")   # the kinematic matching space
FEATURE_CONFIG = "jetclass2"  # the default data config of `jetfm pretrain`

JET_COLUMNS = ["jet_pt", "jet_eta", "jet_sdmass", "genjet_pt"]
PARTICLE_COLUMNS = ["part_energy", "part_charge", "part_d0val", *TYPES.values()]
TRUTH_COLUMNS = ["aux_genpart_pid", *FLAGS.values()]


@lru_cache(maxsize=1)
def feature_config() -> DataConfig:
    """The model's particle features, without the config's labels and cuts: every jet of
    either side is compared, whatever its label (-1 included)."""
    return dataclasses.replace(load_data_config(FEATURE_CONFIG), labels=None, selection=())


def feature_names() -> tuple[str, ...]:
    return feature_config().feature_names


def columns(features: bool = True, truth: bool = True) -> list[str]:
    """Every column `reduce_batch` reads (nothing else is read from the files)."""
    cols = JET_COLUMNS + PARTICLE_COLUMNS + (TRUTH_COLUMNS if truth else [])
    if features:
        cols += feature_config().required_columns()
    return list(dict.fromkeys(cols))


def _ragged_rows(counts: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Flat rows of the lists `idx` (any order, repeats allowed) of lists of length `counts`."""
    counts = counts.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)[idx]
    n = counts[idx]
    new_starts = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    return np.arange(int(n.sum()), dtype=np.int64) + np.repeat(starts - new_starts, n)


@dataclass
class Jets:
    """`jet`: name -> (N,) array; `lists`: name -> (values (M, ...), counts (N,)); `rows`:
    name -> the rows of `values` this sample's lists hold, in order, where a `take` made it
    (the values are shared, not copied: a matched sample costs an index per particle)."""
    jet: dict[str, np.ndarray]
    lists: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    rows: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.jet.values())))

    def take(self, idx) -> "Jets":
        """Jets `idx`, in that order; a jet named twice is there twice (matching with
        replacement weights a simulated jet by how often it was picked)."""
        idx = np.asarray(idx, np.int64)
        lists, rows = {}, {}
        for k, (v, c) in self.lists.items():
            r = _ragged_rows(c, idx)
            rows[k] = self.rows[k][r] if k in self.rows else r
            lists[k] = (v, c[idx])
        return Jets({k: v[idx] for k, v in self.jet.items()}, lists, rows)

    @staticmethod
    def concat(parts: list["Jets"]) -> "Jets":
        assert not any(p.rows for p in parts), "concat reads whole samples, not takes"
        if len(parts) == 1:
            return parts[0]
        return Jets({k: np.concatenate([p.jet[k] for p in parts]) for k in parts[0].jet},
                    {k: (np.concatenate([p.lists[k][0] for p in parts]),
                         np.concatenate([p.lists[k][1] for p in parts]))
                     for k in parts[0].lists})

    def values(self, name: str, column: int | None = None) -> np.ndarray:
        """A list's values of every jet, flattened (one column of a 2-d list: `column`)."""
        v, r = self.lists[name][0], self.rows.get(name)
        if column is None:
            return v if r is None else v[r]
        return v[:, column] if r is None else v[r, column]

    def list_length(self, name: str) -> int:
        return int(self.lists[name][1].sum())

    def matching_space(self) -> np.ndarray:
        """(N, 3): log pT, m_SD/pT, |eta| (the unstandardised matching coordinates)."""
        pt = self.jet["pt"].astype(np.float64)
        return np.stack([np.log(np.maximum(pt, 1e-9)), self.jet["msd"] / np.maximum(pt, 1e-9),
                         np.abs(self.jet["eta"])], axis=1)


def _num(x) -> np.ndarray:
    return ak.to_numpy(x)


def reduce_batch(batch: ak.Array, path="<batch>", row_offset: int = 0,
                 features: bool = True, truth: bool = True) -> Jets:
    """A batch of jet records (`columns()` at least) -> `Jets`. The features are the default
    data config's (`compute_flat`: its finiteness checks, the 128 leading particles of a
    longer jet); DataError names the file and the column."""
    energy = batch.part_energy
    total_e = _num(ak.sum(energy, axis=1)).astype(np.float64)
    jet = {"pt": _num(batch.jet_pt).astype(np.float32),
           "eta": _num(batch.jet_eta).astype(np.float32),
           "msd": _num(batch.jet_sdmass).astype(np.float32),
           "genjet_pt": _num(batch.genjet_pt).astype(np.float32),
           "n": _num(ak.num(energy, axis=1)).astype(np.int32)}
    safe_e = np.where(total_e > 0, total_e, 1.0)
    for name, col in TYPES.items():
        flag = batch[col]
        jet[f"n_{name}"] = _num(ak.sum(flag, axis=1)).astype(np.int32)
        jet[f"e_{name}"] = (_num(ak.sum(energy[flag], axis=1)) / safe_e).astype(np.float32)
    charged = batch.part_charge != 0
    jet["n_charged"] = _num(ak.sum(charged, axis=1)).astype(np.int32)
    jet["n_displaced"] = _num(ak.sum(np.abs(batch.part_d0val[charged]) > DISPLACED_MM,
                                     axis=1)).astype(np.int32)
    lists = {}
    if truth:
        for name, col in FLAGS.items():
            flag = batch[col]
            jet[name] = _num(ak.sum(flag, axis=1)).astype(np.int32)
            pids = _num(ak.flatten(batch.aux_genpart_pid[flag])).astype(np.int32)
            lists[f"pid_{name}"] = (pids, jet[name])
    if features:
        flat = compute_flat(batch, feature_config(), path=path, row_offset=row_offset)
        lists["features"] = (flat.feats, flat.counts.astype(np.int32))
    return Jets(jet, lists)


__all__ = ["Jets", "reduce_batch", "columns", "feature_names", "feature_config", "TYPES",
           "FLAGS", "DISPLACED_MM", "MATCH_VARS"]
