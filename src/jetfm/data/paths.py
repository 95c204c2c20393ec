"""Input paths: expand files, folders (recursively) and glob patterns; detect the format.

The one place that decides which files a command reads. A typo must fail loudly rather than
silently train on fewer jets: every folder or pattern must match at least one file, a plain
path must exist, and the result must not be empty.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, Sequence, Union

from ..errors import DataError

PathLike = Union[str, os.PathLike]
PathsLike = Union[PathLike, Iterable[PathLike]]

SUFFIXES = (".parquet", ".root")
_GLOB_CHARS = set("*?[")


def _data_files(found: Iterable[str | Path], suffixes: Sequence[str]) -> list[Path]:
    """Regular files with a data suffix; hidden names (jetfm's temporary files) skipped."""
    return sorted(Path(q) for q in found
                  if os.path.isfile(q) and Path(q).suffix.lower() in suffixes
                  and not Path(q).name.startswith("."))


def expand_paths(paths: PathsLike, suffixes: Sequence[str] = SUFFIXES) -> list[Path]:
    """Files, folders (every `suffixes` file below them, recursively, sorted) and glob
    patterns (`*`, `?`, `[..]`, and `**` for any depth) → files, absolute.

    Duplicates (a file named twice, e.g. by a folder and a pattern) are dropped so no jet is
    read twice. DataError names the path that matches nothing.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        s = os.fspath(p)
        if os.path.isdir(s):
            found = _data_files((os.path.join(d, f) for d, _, fs in os.walk(s) for f in fs),
                                suffixes)
            if not found:
                raise DataError(f"{s}: folder (and its sub-folders) contains no "
                                f"{'/'.join(suffixes)} files")
        elif _GLOB_CHARS & set(s):
            matched = glob.glob(s, recursive=True)
            found = _data_files(matched, suffixes)
            found += _data_files((os.path.join(d, f) for m in matched if os.path.isdir(m)
                                  for d, _, fs in os.walk(m) for f in fs), suffixes)
            if not found:
                raise DataError(f"{s}: pattern matches no {'/'.join(suffixes)} files")
        elif not os.path.exists(s):
            raise DataError(f"{s}: no such file or directory")
        else:
            found = [Path(s)]
        for q in found:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                out.append(key)
    if not out:
        raise DataError("no input files given")
    return out


def format_of(path: PathLike) -> str:
    """'parquet' or 'root' from the file name; DataError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unknown file type {suffix or '(no extension)'!r}; "
                        f"expected one of {', '.join(SUFFIXES)}")
    return suffix[1:]


__all__ = ["PathLike", "PathsLike", "SUFFIXES", "expand_paths", "format_of"]
