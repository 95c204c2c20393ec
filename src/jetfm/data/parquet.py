"""Read JetClass-II Parquet files (ours or the published ones), streaming, with schema checks.

Batches are yielded as `ak.Array` records (one record per jet, one field per column) built
directly from the Arrow buffers, so there are no spurious option types: list<float32> columns
come out as `var * float32`, flags as `var * bool`, scalars as plain `float32`/`int32`.

Type policy (`validate_parquet`): list vs scalar must match JetClass-II exactly; the value
width may differ (float32 or float64 where float32 is expected, int32 or int64 where an int
is expected, because other writers often default to 64 bit), and such columns are cast to the
canonical JetClass-II type when read; an integer that does not fit the canonical type is an
error, never wrapped around. bool must be bool and strings must be strings. Nulls in a
JetClass-II column are an error (the format has none; empty lists mean "no particles").

Every open verifies the page checksums where the writer stored them (jetfm always does), so a
flipped bit inside a data page is a DataError, not a silently different number.
"""
from __future__ import annotations

import os
from typing import Iterator, Sequence

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError
from ..schema import (JETCLASS2_COLUMNS, OUTPUT_SCHEMA, TRUTH_COLUMNS, is_list_type,
                      value_type)
from .paths import PathLike, PathsLike, expand_paths

# Types we know: JetClass-II columns plus jetfm's extras; other columns pass through unchecked.
KNOWN_TYPES: dict[str, pa.DataType] = {f.name: f.type
                                       for f in list(OUTPUT_SCHEMA) + list(TRUTH_COLUMNS)}

_FLOATS = (pa.float32(), pa.float64())
_INTS = (pa.int32(), pa.int64())
_STRINGS = (pa.string(), pa.large_string())


def _type_name(t: pa.DataType) -> str:
    """'list<float32>' rather than Arrow's 'list<item: float>' (what users grep for)."""
    if is_list_type(t):
        kind = "large_list" if pa.types.is_large_list(t) else "list"
        return f"{kind}<{_type_name(t.value_type)}>"
    names = {pa.float16(): "float16", pa.float32(): "float32", pa.float64(): "float64"}
    return names.get(t, str(t))


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    if is_list_type(actual) != is_list_type(expected):
        return False
    a, e = value_type(actual), value_type(expected)
    if e in _FLOATS:
        return a in _FLOATS
    if e in _INTS:
        return a in _INTS
    if e in _STRINGS:
        return a in _STRINGS
    return a == e


def _check_schema(schema: pa.Schema, required: Sequence[str], path: PathLike) -> None:
    names = set(schema.names)
    for name in required:
        if name not in names:
            raise DataError(f"{path}: column '{name}' is missing")
        expected = KNOWN_TYPES.get(name)
        actual = schema.field(name).type
        if expected is not None and not _compatible(actual, expected):
            raise DataError(f"{path}: column '{name}' has type {_type_name(actual)}, "
                            f"expected {_type_name(expected)}")


def open_parquet(path: PathLike) -> pq.ParquetFile:
    """Open the footer, turning every failure into a DataError that names the file."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    try:
        # Verify page CRCs where the writer stored them (cheap, catches bit rot mid-file).
        return pq.ParquetFile(path, page_checksum_verification=True)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from e


def validate_parquet(path: PathLike,
                     required: Sequence[str] = JETCLASS2_COLUMNS) -> pa.Schema:
    """Check that `path` is a readable Parquet file holding `required` with the right types.

    Only the footer is read. Returns the file's Arrow schema; raises DataError naming the file
    (and the column) otherwise.
    """
    with open_parquet(path) as pf:
        schema = pf.schema_arrow
    _check_schema(schema, required, path)
    return schema


def count_jets(paths: PathsLike) -> int:
    """Total number of jets (rows) in the Parquet files, from their footers only."""
    total = 0
    for path in expand_paths(paths, (".parquet",)):
        with open_parquet(path) as pf:
            total += pf.metadata.num_rows
    return total


def _numpy(arr: pa.Array, target: pa.DataType | None, name: str, path: PathLike) -> np.ndarray:
    out = arr.to_numpy(zero_copy_only=False)
    if target is None or pa.types.is_string(target):
        return out
    dtype = np.dtype(target.to_pandas_dtype())
    if dtype.kind in "iu" and out.dtype.kind in "iu" and out.dtype != dtype and len(out):
        info = np.iinfo(dtype)     # a cast would wrap 2**32 + 5 around to 5
        lo, hi = out.min(), out.max()
        if lo < info.min or hi > info.max:
            raise DataError(f"{path}: column '{name}' has values outside the {dtype} range "
                            f"[{info.min}, {info.max}] (e.g. {hi if hi > info.max else lo})")
    return out.astype(dtype, copy=False)


def _column_layout(name: str, col: pa.Array, path: PathLike) -> ak.contents.Content:
    target = KNOWN_TYPES.get(name)
    known = target is not None
    if pa.types.is_fixed_size_list(col.type):
        col = col.cast(pa.list_(col.type.value_type))
    if is_list_type(col.type):
        values = col.flatten()
        inner = values.type
        simple = pa.types.is_primitive(inner) and not pa.types.is_temporal(inner)
        if simple and col.null_count == 0 and values.null_count == 0:
            offsets = col.offsets.to_numpy().astype(np.int64)
            offsets -= offsets[0]  # a sliced batch starts mid-buffer
            return ak.contents.ListOffsetArray(
                ak.index.Index64(offsets),
                ak.contents.NumpyArray(_numpy(values, value_type(target) if known else None,
                                             name, path)))
    elif pa.types.is_primitive(col.type) and not pa.types.is_temporal(col.type):
        if col.null_count == 0:
            return ak.contents.NumpyArray(_numpy(col, target, name, path))
    if known and (col.null_count or (is_list_type(col.type) and col.flatten().null_count)):
        raise DataError(f"{path}: column '{name}' contains nulls")
    # Strings and anything exotic: let awkward convert; drop the option layer if no nulls.
    arr = ak.from_arrow(col)
    if col.null_count == 0:
        arr = ak.drop_none(arr, axis=0)
    return arr.layout


def to_awkward(batch: pa.RecordBatch, path: PathLike = "<batch>") -> ak.Array:
    """Arrow record batch -> `ak.Array` of jet records with canonical JetClass-II types."""
    contents = [_column_layout(n, c, path) for n, c in zip(batch.schema.names, batch.columns)]
    return ak.Array(ak.contents.RecordArray(contents, batch.schema.names,
                                            length=batch.num_rows))


def iter_parquet(paths: PathsLike, columns: Sequence[str] | None = None,
                 batch_size: int = 8192, validate: bool = True) -> Iterator[ak.Array]:
    """Stream jets from Parquet files as `ak.Array` record batches of <= `batch_size` jets.

    `paths`: a file, directory (its *.parquet, sorted), glob, or a list of these. Files are
    read one after another, row group by row group, so memory stays at about one batch.
    `columns=None` reads every column of each file and (with `validate`) requires all
    JetClass-II columns; otherwise only `columns` are read and checked. Batches never span
    two files. Raises DataError naming the file for missing/corrupt files and bad schemas,
    including corruption discovered mid-read.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    for path in expand_paths(paths, (".parquet",)):
        with open_parquet(path) as pf:
            schema = pf.schema_arrow
            if validate:
                _check_schema(schema, JETCLASS2_COLUMNS if columns is None else columns, path)
            else:
                missing = [c for c in (columns or []) if c not in schema.names]
                if missing:
                    raise DataError(f"{path}: column '{missing[0]}' is missing")
            yield from read_batches(pf, path, batch_size, columns)


def read_batches(pf: pq.ParquetFile, path: PathLike, batch_size: int,
                 columns: Sequence[str] | None = None,
                 row_groups: Sequence[int] | None = None,
                 keep: Sequence[str] | None = None) -> Iterator[ak.Array]:
    """Batches of an open file as `ak.Array`s; a failure mid-read (a checksum mismatch, a
    truncated page) is a DataError naming the file. `keep`: read (and so verify) `columns`
    but convert only these (inspect reads every column, histograms a few)."""
    it = pf.iter_batches(batch_size=batch_size, row_groups=row_groups,
                         columns=None if columns is None else list(columns))
    while True:
        try:
            rb = next(it)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{path}: corrupt data while reading ({e})") from e
        if rb.num_rows:
            yield to_awkward(rb if keep is None else rb.select(list(keep)), path)


def check_finite(batch: ak.Array, columns: Sequence[str] | None = None,
                 path: PathLike = "<batch>", row_offset: int = 0) -> None:
    """Raise DataError if a float column of `batch` holds NaN or +-inf.

    `columns=None` checks every floating-point field (int/bool fields cannot be non-finite).
    The message names the file, the column, the number of bad values and the first bad jet
    (`row_offset` + index within the batch, so callers can report a position in the file).
    """
    names = ak.fields(batch) if columns is None else list(columns)
    for name in names:
        if name not in ak.fields(batch):
            raise DataError(f"{path}: column '{name}' is missing")
        col = batch[name]
        flat = ak.to_numpy(ak.flatten(col, axis=None))
        if not np.issubdtype(flat.dtype, np.floating):
            continue
        bad = ~np.isfinite(flat)
        if not bad.any():
            continue
        per_jet = ~np.isfinite(col)
        while per_jet.ndim > 1:
            per_jet = ak.any(per_jet, axis=-1)
        rows = np.flatnonzero(ak.to_numpy(per_jet))
        raise DataError(f"{path}: column '{name}' has {int(bad.sum())} non-finite values "
                        f"(NaN/inf) in {len(rows)} jets, first at row {row_offset + rows[0]}")


__all__ = ["open_parquet", "read_batches", "validate_parquet", "iter_parquet", "count_jets", "check_finite",
           "to_awkward", "KNOWN_TYPES"]
