"""Open and validate jet files: the one door through which every command reads data.

- `list_units` / `iter_unit`: a file's units of work (a Parquet row group, or a whole ROOT
  file) and their batches. Parquet is always opened with page-checksum verification.
- `check_footer`: the cheap check (footer or tree header): readable, the columns a command
  needs with the right types, the expected label space, at least one jet.
- `verify_file`: the full check of the columns a command will read: every page read (so every
  checksum verified), integers in range, no nulls, no NaN/inf, no jet without particles,
  labels inside the label space.

Every failure is a DataError (or ConfigError for a label-space mismatch) naming the file, and
the column and row where there is one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import awkward as ak
import numpy as np

from ..errors import ConfigError, DataError
from ..labels import LABEL_NAMES
from .label_spaces import JETCLASS_LABELS, label_names
from .parquet import check_finite, open_parquet, read_batches, validate_parquet
from .paths import PathLike, PathsLike, expand_paths, format_of


@dataclass(frozen=True)
class Unit:
    """The smallest piece of work: a Parquet row group, or a whole ROOT file (row_group None)."""
    path: Path
    row_group: int | None
    num_rows: int
    row_start: int = 0  # index in the file of the unit's first jet (for error messages)


def list_units(files: PathsLike) -> list[Unit]:
    """Units of `files` from metadata only (Parquet footers, ROOT entry counts)."""
    units: list[Unit] = []
    for path in expand_paths(files):
        if format_of(path) == "parquet":
            with open_parquet(path) as pf:
                md = pf.metadata
                sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
            starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
            units += [Unit(path, i, n, starts[i]) for i, n in enumerate(sizes) if n]
        else:
            from .root import count_jetclass_root
            n = count_jetclass_root(path)
            units += [Unit(path, None, n)] if n else []
    return units


def iter_unit(unit: Unit, columns: Sequence[str], batch_size: int,
              limit: int | None = None) -> Iterator[tuple[ak.Array, int]]:
    """(batch, row offset in file) for one unit, reading only `columns`, at most `limit` jets."""
    limit = unit.num_rows if limit is None else limit
    done = 0
    if unit.row_group is None:
        from .root import iter_jetclass_root
        batches = iter_jetclass_root([unit.path], columns, step_size=batch_size)
    else:
        validate_parquet(unit.path, columns)

        def _parquet():
            with open_parquet(unit.path) as pf:
                yield from read_batches(pf, unit.path, batch_size, columns, [unit.row_group])
        batches = _parquet()
    for batch in batches:
        batch = batch[: limit - done]
        if len(batch):
            yield batch, unit.row_start + done
        done += len(batch)
        if done >= limit:
            break


# jet_label of jets no JetClass-II label applies to (`jetfm generate --sample tau`, dark jets)
UNLABELLED = -1
_UNLABELLED_HINT = ("no JetClass-II label applies to them (e.g. `jetfm generate --sample tau`); "
                    "a classifier (`--strategy supervised|clip`, `jetfm evaluate`) needs "
                    "labelled jets: use a self-supervised strategy (jepa, resim, autoencoder) "
                    "or leave these files out")


def _unlabelled_error(path, column: str, n: int, where: str) -> DataError:
    return DataError(f"{path}: column '{column}' has {n} unlabelled jets (-1){where}; "
                     f"{_UNLABELLED_HINT}")


def check_footer(path: PathLike, columns: Sequence[str],
                 labels: Sequence[str] | None = None, label_column: str | None = None,
                 allow_unlabelled: bool = True) -> int:
    """Cheap checks from metadata: readable, `columns` present with JetClass-II types, the
    file's label space equal to `labels` (if given), at least one jet; with `label_column`
    and not `allow_unlabelled`, no unlabelled jet by the Parquet column statistics.
    Returns the jet count."""
    path = Path(path)
    if format_of(path) == "parquet":
        validate_parquet(path, required=columns)
        if label_column in columns and not allow_unlabelled:
            n = _negative_rows(path, label_column)
            if n:
                raise _unlabelled_error(path, label_column, n, " (column statistics)")
    check_label_space(path, labels)
    n = sum(u.num_rows for u in list_units(path))
    if n == 0:
        raise DataError(f"{path}: no jets in this file")
    return n


def _negative_rows(path: Path, column: str) -> int:
    """Rows of the row groups whose statistics say `column` has a negative value (0 when the
    file has no statistics: the full check reads the values)."""
    with open_parquet(path) as pf:
        meta = pf.metadata
    j = meta.schema.to_arrow_schema().get_field_index(column)
    n = 0
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(j).statistics
        if stats is not None and stats.has_min_max and stats.min < 0:
            n += meta.row_group(i).num_rows
    return n


def check_label_space(path: PathLike, labels: Sequence[str] | None) -> None:
    """A JetClass ROOT file (10 labels) must not be read as JetClass-II (188), or vice versa."""
    if labels is not None and tuple(label_names(path)) != tuple(labels):
        space = {JETCLASS_LABELS: "jetclass", LABEL_NAMES: "jetclass2"}.get(tuple(labels), "?")
        raise ConfigError(f"{path}: file labels are {len(label_names(path))}-class but the "
                          f"data config expects label space {space!r} ({len(labels)} classes)")


def verify_file(path: PathLike, columns: Sequence[str], labels: Sequence[str] | None = None,
                label_column: str = "jet_label", particle_column: str | None = "part_px",
                batch_size: int = 65536, allow_unlabelled: bool = False) -> int:
    """Read every page of `columns` and check the values (see the module docstring).

    Returns the number of jets. Raises DataError naming the file, column and first bad row.
    """
    n = check_footer(path, columns, labels, label_column, allow_unlabelled)
    n_labels = len(labels) if labels is not None else len(label_names(path))
    for unit in list_units(path):
        for batch, row in iter_unit(unit, columns, batch_size):
            check_batch(batch, path, row, label_column if label_column in columns else None,
                        n_labels, particle_column if particle_column in columns else None,
                        allow_unlabelled)
    return n


def check_batch(batch: ak.Array, path: PathLike, row_offset: int, label_column: str | None,
                n_labels: int, particle_column: str | None,
                allow_unlabelled: bool = False) -> None:
    """Value checks of one batch: finiteness, label range (−1, unlabelled, only if allowed),
    no jet without particles."""
    check_finite(batch, None, path, row_offset)
    if label_column is not None:
        lab = ak.to_numpy(batch[label_column])
        low = UNLABELLED if allow_unlabelled else 0
        bad = np.flatnonzero((lab < low) | (lab >= n_labels))
        if len(bad) and (lab[bad] == UNLABELLED).all():
            raise _unlabelled_error(path, label_column, len(bad),
                                    f", first at row {row_offset + int(bad[0])}")
        if len(bad):
            raise DataError(f"{path}: column '{label_column}' has {len(bad)} values outside "
                            f"[0, {n_labels}), first {int(lab[bad[0]])} at row "
                            f"{row_offset + int(bad[0])}")
    if particle_column is not None:
        empty = np.flatnonzero(ak.to_numpy(ak.num(batch[particle_column], axis=1)) == 0)
        if len(empty):
            raise DataError(f"{path}: {len(empty)} jet(s) without particles (empty "
                            f"'{particle_column}'), first at row {row_offset + int(empty[0])}")


__all__ = ["Unit", "list_units", "iter_unit", "check_footer", "check_label_space",
           "verify_file", "check_batch", "UNLABELLED"]
