"""`inspect`'s read: every page of every column of a file, so that `jetfm inspect` is the check
a user can trust (a flipped bit in `part_px` must not pass because only jet-level columns were
looked at).

Parquet: row group by row group (memory: about one batch of every column), opened with page
checksum verification (jetfm writes page CRCs), every column decoded; only the columns inspect
fills histograms from are converted and yielded. A failure is a DataError naming the file, the
column (found by re-reading that row group column by column) and the row group.
ROOT (JetClass): every branch of the tree is read and decompressed.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Sequence

import awkward as ak
import pyarrow as pa

from ..errors import DataError
from .parquet import open_parquet, read_batches
from .paths import format_of


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _corrupt(path: Path, row_group: int, error: BaseException) -> DataError:
    """The DataError for a row group that failed to read, naming the first bad column."""
    column = None
    with contextlib.suppress(DataError), open_parquet(path) as pf:
        for name in pf.schema_arrow.names:
            try:
                pf.read_row_group(row_group, columns=[name])
            except (pa.ArrowException, OSError):
                column = name
                break
    where = f"column '{column}', row group {row_group}" if column else f"row group {row_group}"
    return DataError(f"{path}: corrupt data in {where} ({_one_line(error)})")


def _parquet(path: Path, columns: Sequence[str], batch_size: int) -> Iterator[tuple[ak.Array, int]]:
    row = 0
    with open_parquet(path) as pf:
        for i in range(pf.metadata.num_row_groups):
            try:
                for batch in read_batches(pf, path, batch_size, row_groups=[i], keep=columns):
                    yield batch, row
                    row += len(batch)
            except DataError as e:       # a page that failed to read: name its column
                if isinstance(e.__cause__, (pa.ArrowException, OSError)):
                    raise _corrupt(path, i, e.__cause__) from e.__cause__
                raise


def _root(path: Path, columns: Sequence[str], batch_size: int) -> Iterator[tuple[ak.Array, int]]:
    from .root import JETCLASS_LABELS, TREE, _open_tree, iter_jetclass_root
    f, t = _open_tree(path, TREE)
    with f:
        keys = list(t.keys(recursive=False))
    # every branch: the label_* ones are read for jet_label, the rest pass through by name
    read = list(columns) + [k for k in keys if k not in columns and k not in JETCLASS_LABELS]
    row = 0
    for batch in iter_jetclass_root([path], read, step_size=batch_size):
        yield batch[list(columns)], row
        row += len(batch)


def read_every_column(path: Path, columns: Sequence[str],
                      batch_size: int) -> Iterator[tuple[ak.Array, int]]:
    """(batch of `columns`, row offset in the file), reading every column of `path` in full."""
    if format_of(path) == "root":
        return _root(path, columns, batch_size)
    return _parquet(path, columns, batch_size)


__all__ = ["read_every_column"]
