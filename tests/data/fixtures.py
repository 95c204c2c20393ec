"""Tiny, well-typed fixture files for reader / inspect tests (reusable by other tests).

`write_jetclass2_parquet` writes JetClass-II-schema Parquet (jetfm's OUTPUT_SCHEMA) with random
content; `write_jetclass_root` writes an original-JetClass-format ROOT file (tree `tree`, float
PID flags and charge, one-hot bool `label_*` branches). Both return what they wrote so tests
can compare counts against the truth.
"""
from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jetfm.schema import OUTPUT_SCHEMA, is_list_type, value_type

N_LABELS = 188
JETCLASS_LABELS = ("label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q",
                   "label_Hqql", "label_Zqq", "label_Wqq", "label_Tbqq", "label_Tbl")
# Which list columns share a multiplicity.
_GROUP_PREFIX = (("aux_genpart_", "aux"), ("genpart_", "gen"), ("part_", "part"))


def _group(name: str) -> str | None:
    for prefix, group in _GROUP_PREFIX:
        if name.startswith(prefix):
            return group
    return None


def _values(rng: np.random.Generator, typ: pa.DataType, n: int) -> np.ndarray:
    if pa.types.is_boolean(typ):
        return rng.random(n) < 0.3
    if pa.types.is_integer(typ):
        return rng.integers(-1, 2, n).astype(typ.to_pandas_dtype())
    return rng.normal(0.0, 1.0, n).astype(typ.to_pandas_dtype())


def jetclass2_table(n_jets: int = 20, seed: int = 0, labels=None,
                    max_particles: int = 12) -> pa.Table:
    """Random but well-typed JetClass-II table (OUTPUT_SCHEMA). `labels`: jet_label values."""
    rng = np.random.default_rng(seed)
    counts = {"part": rng.integers(1, max_particles + 1, n_jets),
              "gen": rng.integers(0, max_particles + 1, n_jets) * (rng.random(n_jets) < 0.8),
              "aux": rng.integers(0, 5, n_jets)}
    offsets = {g: np.concatenate([[0], np.cumsum(c)]).astype(np.int32)
               for g, c in counts.items()}
    data = {}
    for field in OUTPUT_SCHEMA:
        name, typ = field.name, field.type
        if is_list_type(typ):
            g = _group(name)
            vals = _values(rng, value_type(typ), int(offsets[g][-1]))
            data[name] = pa.ListArray.from_arrays(pa.array(offsets[g]),
                                                  pa.array(vals, value_type(typ)))
        elif name == "sample":
            data[name] = pa.array(["fixture"] * n_jets, pa.string())
        else:
            data[name] = pa.array(_values(rng, typ, n_jets), typ)
    if labels is None:
        labels = rng.integers(0, N_LABELS, n_jets)
    data["jet_label"] = pa.array(np.asarray(labels, np.int32))
    data["jet_nparticles"] = pa.array(counts["part"].astype(np.int32))
    data["genjet_nparticles"] = pa.array(counts["gen"].astype(np.int32))
    data["jet_pt"] = pa.array(rng.uniform(400, 1200, n_jets).astype(np.float32))
    data["jet_sdmass"] = pa.array(rng.uniform(0, 250, n_jets).astype(np.float32))
    tau1 = rng.uniform(0.05, 0.5, n_jets).astype(np.float32)
    tau1[::7] = 0.0  # exercises the tau21 guard
    data["jet_tau1"] = pa.array(tau1)
    data["jet_tau2"] = pa.array((tau1 * rng.uniform(0.1, 1.0, n_jets)).astype(np.float32))
    data["event_id"] = pa.array(np.arange(n_jets, dtype=np.int64))
    return pa.Table.from_pydict(data, schema=OUTPUT_SCHEMA)


def write_jetclass2_parquet(path, n_jets: int = 20, seed: int = 0, labels=None,
                            row_group_size: int | None = None, table: pa.Table | None = None,
                            **kw) -> pa.Table:
    """Write a fixture Parquet file (or the given `table`) and return the table written."""
    if table is None:
        table = jetclass2_table(n_jets, seed, labels, **kw)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    return table


def write_jetclass_root(path, n_jets: int = 20, seed: int = 0, labels=None,
                        drop: tuple[str, ...] = (), tree: str = "tree") -> dict:
    """Write a JetClass-format ROOT file; returns the arrays written (by branch name)."""
    import uproot

    rng = np.random.default_rng(seed)
    n = rng.integers(1, 10, n_jets)
    naux = rng.integers(1, 4, n_jets)

    def jag(counts, vals):
        return ak.unflatten(vals, counts)

    tot, totaux = int(n.sum()), int(naux.sum())
    part = {k: jag(n, rng.normal(0, 1, tot).astype(np.float32))
            for k in ("px", "py", "pz", "energy", "deta", "dphi",
                      "d0val", "d0err", "dzval", "dzerr")}
    part["charge"] = jag(n, rng.integers(-1, 2, tot).astype(np.float32))
    pid = rng.integers(0, 5, tot)
    for i, flag in enumerate(("isChargedHadron", "isNeutralHadron", "isPhoton",
                              "isElectron", "isMuon")):
        part[flag] = jag(n, (pid == i).astype(np.float32))
    aux = {k: jag(naux, rng.normal(0, 1, totaux).astype(np.float32))
           for k in ("eta", "phi", "pt")}
    aux["pid"] = jag(naux, rng.choice([5, -5, 24, 25], totaux).astype(np.float32))
    if labels is None:
        labels = rng.integers(0, len(JETCLASS_LABELS), n_jets)
    labels = np.asarray(labels)
    branches: dict = {
        "part": ak.zip({k: v for k, v in part.items() if f"part_{k}" not in drop}),
        "aux_genpart": ak.zip(aux),
    }
    for i, name in enumerate(JETCLASS_LABELS):
        if name not in drop:
            branches[name] = labels == i
    jets = {"jet_pt": rng.uniform(500, 1000, n_jets), "jet_eta": rng.uniform(-2, 2, n_jets),
            "jet_phi": rng.uniform(-3, 3, n_jets), "jet_energy": rng.uniform(500, 2000, n_jets),
            "jet_nparticles": n.astype(np.float64), "jet_sdmass": rng.uniform(0, 250, n_jets)}
    for k in range(1, 5):
        jets[f"jet_tau{k}"] = rng.uniform(0, 0.5, n_jets)
    jets["aux_truth_match"] = np.ones(n_jets)
    for name, arr in jets.items():
        if name not in drop:
            branches[name] = arr.astype(np.float32)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path) as f:
        # mktree, not f[tree] = ...: recent uproot writes an RNTuple for the latter.
        f.mktree(tree, {k: (v.type if isinstance(v, ak.Array) else v.dtype)
                        for k, v in branches.items()})
        f[tree].extend(branches)
    return {"labels": labels, "n": n, "part": part, "jets": jets}


def truncate(path, fraction: float = 0.5) -> None:
    """Cut a file to `fraction` of its bytes (simulates an interrupted copy)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])
