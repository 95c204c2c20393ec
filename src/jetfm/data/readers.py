"""Format-agnostic entry points: expand paths, dispatch on extension (.parquet / .root).

All readers yield `ak.Array` record batches with JetClass-II column names and types (see
`jetfm.data.parquet` and `jetfm.data.root`). The format modules are imported lazily so that
reading Parquet never pays for importing uproot.

Label space: Parquet batches carry the 188-class JetClass-II `jet_label`; ROOT batches carry
the 10-class original JetClass index (`jetfm.data.root.JETCLASS_LABELS`). `label_names(path)`
returns the right name table for a file.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence, Union

import awkward as ak

from jetfm.errors import DataError

PathLike = Union[str, os.PathLike]
PathsLike = Union[PathLike, Iterable[PathLike]]

SUFFIXES = (".parquet", ".root")
_GLOB_CHARS = set("*?[")


def expand_paths(paths: PathsLike, suffixes: Sequence[str] = SUFFIXES) -> list[Path]:
    """Files, directories (their `suffixes` files, sorted, not recursive) and globs -> files.

    Every directory or glob must match at least one file, and the result must be non-empty:
    a typo in a path should fail loudly rather than silently train on fewer jets. Duplicates
    (a file named twice, e.g. by a directory and a glob) are dropped so no jet is read twice.
    A plain path that does not exist raises DataError naming it.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        s = os.fspath(p)
        if os.path.isdir(s):
            found = sorted(q for q in Path(s).iterdir()
                           if q.is_file() and q.suffix.lower() in suffixes)
            if not found:
                raise DataError(f"{s}: directory contains no {'/'.join(suffixes)} files")
        elif _GLOB_CHARS & set(s):
            found = sorted(Path(q) for q in glob.glob(s) if os.path.isfile(q))
            if not found:
                raise DataError(f"{s}: pattern matches no files")
        elif not os.path.exists(s):
            raise DataError(f"{s}: no such file or directory")
        else:
            found = [Path(s)]
        for q in found:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                out.append(q)
    if not out:
        raise DataError("no input files given")
    return out


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unknown file type {suffix or '(no extension)'!r}; "
                        f"expected one of {', '.join(SUFFIXES)}")
    return suffix[1:]


def iter_jets(paths: PathsLike, columns: Sequence[str] | None = None,
              batch_size: int = 8192) -> Iterator[tuple[Path, ak.Array]]:
    """Stream `(file, batch)` pairs from a mix of Parquet and JetClass ROOT files.

    The file is yielded with each batch so callers can name it in errors and pick the label
    space (`label_names(file)`).
    """
    for path in expand_paths(paths):
        fmt = _format_of(path)
        if fmt == "parquet":
            from jetfm.data.parquet import iter_parquet
            batches = iter_parquet(path, columns=columns, batch_size=batch_size)
        else:
            from jetfm.data.root import iter_jetclass_root
            batches = iter_jetclass_root(path, columns=columns, step_size=batch_size)
        for batch in batches:
            yield path, batch


def count_jets(paths: PathsLike) -> int:
    """Number of jets from metadata only (Parquet footers, ROOT tree entry counts)."""
    total = 0
    for path in expand_paths(paths):
        if _format_of(path) == "parquet":
            from jetfm.data.parquet import count_jets as count_parquet
            total += count_parquet(path)
        else:
            from jetfm.data.root import count_jetclass_root
            total += count_jetclass_root(path)
    return total


def label_names(path: PathLike) -> tuple[str, ...]:
    """Names indexed by `jet_label` for this file's format (188 JetClass-II or 10 JetClass)."""
    if _format_of(Path(path)) == "root":
        from jetfm.data.root import JETCLASS_LABELS
        return JETCLASS_LABELS
    from jetfm.labels import LABEL_NAMES
    return tuple(LABEL_NAMES)


def label_families(path: PathLike) -> dict[str, range | tuple[int, ...]]:
    """Family -> label indices (res2p / res34p / qcd) in this file's label space."""
    if _format_of(Path(path)) == "root":
        from jetfm.data.root import JETCLASS_FAMILIES
        return dict(JETCLASS_FAMILIES)
    from jetfm.labels import FAMILIES
    return dict(FAMILIES)
