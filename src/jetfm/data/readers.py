"""Format-agnostic entry points for users: stream jets from any mix of files, count them.

All readers yield `ak.Array` record batches with JetClass-II column names and types, read
through `jetfm.data.files` (Parquet page checksums verified, integer casts range-checked).

Label space: Parquet batches carry the 188-class JetClass-II `jet_label`; ROOT batches carry
the 10-class original JetClass index (`jetfm.data.label_spaces.JETCLASS_LABELS`).
`label_names(path)` returns the right name table for a file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import awkward as ak

from .files import list_units
from .label_spaces import label_families, label_names
from .paths import PathLike, PathsLike, expand_paths, format_of


def iter_jets(paths: PathsLike, columns: Sequence[str] | None = None,
              batch_size: int = 8192) -> Iterator[tuple[Path, ak.Array]]:
    """Stream `(file, batch)` pairs from a mix of Parquet and JetClass ROOT files.

    `columns=None` reads (and requires) every JetClass-II column. The file is yielded with
    each batch so callers can name it in errors and pick the label space (`label_names`).
    """
    for path in expand_paths(paths):
        if format_of(path) == "parquet":
            from .parquet import iter_parquet
            batches = iter_parquet(path, columns=columns, batch_size=batch_size)
        else:
            from .root import iter_jetclass_root
            batches = iter_jetclass_root(path, columns=columns, step_size=batch_size)
        for batch in batches:
            yield path, batch


def count_jets(paths: PathsLike) -> int:
    """Number of jets from metadata only (Parquet footers, ROOT tree entry counts)."""
    return sum(u.num_rows for u in list_units(paths))


__all__ = ["PathLike", "PathsLike", "expand_paths", "iter_jets", "count_jets", "label_names",
           "label_families"]
