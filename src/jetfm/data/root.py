"""Read the original JetClass ROOT files (tree `tree`, one-hot `label_*` branches). Read only.

Batches come out like `jetfm.data.parquet.iter_parquet`'s: `ak.Array` jet records, JetClass-II
column names and types. JetClass stores most branches as floats (PID flags, charge,
`jet_nparticles`, `aux_genpart_pid`); they are converted to JetClass-II's bool / int32 /
float32. The ten `label_*` branches become one int32 `jet_label`, an index into
`JETCLASS_LABELS` -- the 10-class JetClass label space, NOT the 188-class JetClass-II one.
JetClass-II columns that JetClass lacks (GEN-jet, impact-parameter-free variants, ...) are
simply absent from the batches.
"""
from __future__ import annotations

import os
from typing import Iterator, Sequence

import awkward as ak
import numpy as np
import pyarrow as pa
import uproot

from ..errors import DataError
from ..schema import JETCLASS2_COLUMNS, JETCLASS2_SCHEMA, is_list_type, value_type
from .label_spaces import JETCLASS_FAMILIES, JETCLASS_LABELS
from .paths import PathLike, PathsLike, expand_paths
TREE = "tree"
# What every JetClass file has: required when reading with columns=None. Other JetClass-II
# columns (the aux_genpart_* truth particles) are read too when the tree has them.
JETCLASS_COLUMNS: tuple[str, ...] = tuple(
    c for c in JETCLASS2_COLUMNS if c.startswith(("part_", "jet_")))

_TARGET = {f.name: f.type for f in JETCLASS2_SCHEMA}


def _open_tree(path: PathLike, tree: str):
    """(file, tree) with every failure mapped to a DataError naming the file."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    try:
        f = uproot.open(path)
    except Exception as e:  # uproot raises many types for junk files (ValueError, OSError...)
        raise DataError(f"{path}: not a readable ROOT file ({e})") from e
    try:
        t = f[tree]
    except Exception as e:
        f.close()
        raise DataError(f"{path}: no readable tree '{tree}' ({type(e).__name__})") from e
    if not isinstance(t, uproot.TTree):
        f.close()
        raise DataError(f"{path}: '{tree}' is a {type(t).__name__}, not a TTree")
    return f, t


def count_jetclass_root(path: PathLike, tree: str = TREE) -> int:
    """Number of jets in one JetClass ROOT file (tree entry count, no data read)."""
    f, t = _open_tree(path, tree)
    with f:
        return int(t.num_entries)


def _branches_for(columns: Sequence[str], keys: set[str], path: PathLike) -> list[str]:
    need: list[str] = []
    for col in columns:
        for b in (JETCLASS_LABELS if col == "jet_label" else (col,)):
            if b not in keys:
                raise DataError(f"{path}: branch '{b}' is missing from tree '{TREE}'")
            if b not in need:
                need.append(b)
    return need


def _convert(name: str, arr: ak.Array, path: PathLike) -> ak.Array:
    """Cast one branch to its JetClass-II type (unknown branches pass through unchanged)."""
    target = _TARGET.get(name)
    if target is None:
        return arr
    want_list, have_list = is_list_type(target), arr.ndim > 1
    if want_list != have_list:
        raise DataError(f"{path}: branch '{name}' is {'jagged' if have_list else 'scalar'}, "
                        f"expected {'jagged' if want_list else 'scalar'}")
    vt = value_type(target)
    if pa.types.is_boolean(vt):
        return arr != 0  # JetClass stores flags as 0./1. floats
    dtype = vt.to_pandas_dtype()
    source = ak.to_numpy(ak.flatten(arr, axis=None)).dtype
    if np.issubdtype(dtype, np.integer) and np.issubdtype(source, np.floating):
        arr = np.rint(arr)  # charge / pid / multiplicity stored as floats: round, don't floor
    if np.issubdtype(dtype, np.integer):
        flat = ak.to_numpy(ak.flatten(arr, axis=None))
        info = np.iinfo(dtype)   # a cast would wrap out-of-range values around
        if len(flat) and (flat.min() < info.min or flat.max() > info.max
                          or not np.all(np.isfinite(flat))):
            raise DataError(f"{path}: branch '{name}' has values that are not {dtype} "
                            f"integers (outside [{info.min}, {info.max}] or NaN/inf)")
    return ak.values_astype(arr, dtype)


def _jet_label(chunk: dict, path: PathLike, first_entry: int) -> np.ndarray:
    onehot = np.stack([ak.to_numpy(chunk[b]) != 0 for b in JETCLASS_LABELS], axis=1)
    nset = onehot.sum(axis=1)
    bad = np.flatnonzero(nset != 1)
    if bad.size:
        raise DataError(f"{path}: label_* branches are not one-hot for {bad.size} jets "
                        f"(first at entry {first_entry + bad[0]}: {nset[bad[0]]} labels set)")
    return onehot.argmax(axis=1).astype(np.int32)


def iter_jetclass_root(paths: PathsLike, columns: Sequence[str] | None = None,
                       step_size: int | str = 8192, tree: str = TREE) -> Iterator[ak.Array]:
    """Stream JetClass ROOT files as `ak.Array` record batches with JetClass-II types.

    `paths`: file, directory (its *.root, sorted), glob, or a list of these. `columns`:
    output names; `None` means `JETCLASS_COLUMNS` (part_*, jet_*, incl. `jet_label`; all
    required) plus any other JetClass-II column the tree has (aux_genpart_*).
    Other JetClass branches (e.g. `aux_truth_match`) may be requested by name and pass
    through unconverted. `step_size`: jets per batch (int) or a size such as "100 MB".
    Missing/corrupt files, a missing tree or branch, or non-one-hot labels -> DataError
    naming the file (and the branch).
    """
    for path in expand_paths(paths, (".root",)):
        f, t = _open_tree(path, tree)
        with f:
            keys = set(t.keys())
            cols = list(columns) if columns is not None else \
                [c for c in JETCLASS2_COLUMNS if c in JETCLASS_COLUMNS or c in keys]
            branches = _branches_for(cols, keys, path)
            it = t.iterate(branches, step_size=step_size, library="ak", how=dict,
                           report=True)
            while True:
                try:
                    chunk, report = next(it)
                except StopIteration:
                    break
                except Exception as e:  # decompression / deserialization of a bad basket
                    raise DataError(f"{path}: corrupt data while reading tree '{tree}' "
                                    f"({type(e).__name__}: {e})") from e
                out = {}
                for col in cols:
                    if col == "jet_label":
                        out[col] = _jet_label(chunk, path, report.tree_entry_start)
                    else:
                        out[col] = _convert(col, chunk[col], path)
                if out and len(next(iter(out.values()))):
                    # depth_limit=1: never broadcast jagged columns with different lengths
                    yield ak.zip(out, depth_limit=1)


__all__ = ["JETCLASS_LABELS", "JETCLASS_FAMILIES", "JETCLASS_COLUMNS", "iter_jetclass_root",
           "count_jetclass_root"]
