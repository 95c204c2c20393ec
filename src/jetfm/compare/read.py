"""Read one side of a comparison: a reproducible random sample of at most `max_jets` jets of a
set of JetClass-II Parquet files (published, ntuplized Delphes or jetfm's), reduced batch by
batch to `Jets`, reading only the columns the measures use.

The sample is drawn over all jets of all files at once (rows picked by `seed` from the total
the footers give), so a capped sample mixes every file rather than taking the first ones; the
same files with the same seed give the same jets. Memory: the reduced sample plus one batch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.parquet import open_parquet, read_batches, validate_parquet
from ..data.paths import PathsLike, expand_paths
from ..errors import DataError
from .jets import Jets, columns, reduce_batch

BATCH = 8192


def side_files(paths: PathsLike, what: str) -> tuple[list[Path], list[int]]:
    """The Parquet files of one side (footers checked: readable, every column present with a
    JetClass-II type) and their jet counts."""
    try:
        files = expand_paths(paths, (".parquet",))
    except DataError as exc:
        raise DataError(f"{what}: {exc}") from None
    cols, rows = columns(), []
    for path in files:
        validate_parquet(path, cols)
        with open_parquet(path) as pf:
            rows.append(pf.metadata.num_rows)
    if not sum(rows):
        raise DataError(f"{what}: no jets in its {len(files)} file(s) ({files[0]}"
                        f"{' ...' if len(files) > 1 else ''})")
    return files, rows


def _reduce(batch, path: Path, start: int, local: np.ndarray | None) -> Jets:
    if local is None:
        return reduce_batch(batch, path, start)
    try:
        return reduce_batch(batch[local], path, start)
    except DataError:
        # the sampled rows' error counts rows among them: the whole batch names the file's row
        reduce_batch(batch, path, start)
        raise


def read_side(files: list[Path], rows: list[int], what: str, max_jets: int, seed: int,
              progress: bool = True) -> tuple[Jets, dict]:
    """(`Jets` of at most `max_jets` jets of `files` (jets per file: `rows`, from
    `side_files`) drawn with `seed`, a record of what was read)."""
    total = int(sum(rows))
    n = min(int(max_jets), total)
    pick = (np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
            if n < total else None)
    parts: list[Jets] = []
    offset = 0
    cols = columns()
    with tqdm(total=total, unit="jet", desc=f"read {what}", disable=not progress,
              dynamic_ncols=True) as bar:
        for path, n_rows in zip(files, rows):
            start = 0
            with open_parquet(path) as pf:
                for batch in read_batches(pf, path, BATCH, cols):
                    lo = offset + start
                    local = None
                    if pick is not None:
                        sel = pick[np.searchsorted(pick, lo):np.searchsorted(pick, lo + len(batch))]
                        local = sel - lo
                    if local is None or len(local):
                        parts.append(_reduce(batch, path, start, local))
                    start += len(batch)
                    bar.update(len(batch))
            offset += n_rows
    record = {"files": [str(f) for f in files], "jets_in_files": total,
              "jets_read": n, "sampled": pick is not None}
    return Jets.concat(parts), record


__all__ = ["side_files", "read_side"]
