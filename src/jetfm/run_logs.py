"""A pre-training run's training logs (RUN/logs/csv-N/metrics.csv, one per invocation), read
in one place for every reader (evaluate's history, the report's curves, the studies).

Lightning appends rows as the run goes, so a run killed with -9 may end its last file with a
line cut mid-row: that line is dropped (it is lost anyway, and the resumed run logs its step
again). Any other malformed row is a DataError naming the file and line. Folders under logs/
that are not `csv-<number>` (TensorBoard's `tb`, a user's `csv-old`) are not jetfm's and are
skipped.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from .errors import DataError
from .runs import RunDir


def csv_logs(run_dir: str | os.PathLike) -> list[Path]:
    """The run's metrics.csv files, one per (resumed) invocation, oldest first."""
    found = []
    for path in RunDir(run_dir).logs_dir.glob("csv-*/metrics.csv"):
        number = path.parent.name.split("-", 1)[1]
        if number.isdigit():
            found.append((int(number), path))
    return [p for _, p in sorted(found)]


def _rows(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable training log ({exc})") from None
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]     # a row cut by a kill: dropped
    try:
        for line, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
            if None in row or "step" not in row or None in row.values():
                raise DataError(f"{path}: line {line} does not have the header's columns")
            yield line, row
    except csv.Error as exc:
        raise DataError(f"{path}: unreadable training log ({exc})") from None


def metric_curves(run_dir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """metric -> [(step, value)] over every metrics.csv of the run (oldest first); only the
    logged metrics (names with a '/'), finite values."""
    out: dict[str, list[tuple[int, float]]] = {}
    for path in csv_logs(run_dir):
        for line, row in _rows(path):
            try:
                step = int(float(row["step"]))
                values = {k: float(v) for k, v in row.items() if v != "" and "/" in k}
            except ValueError as exc:
                raise DataError(f"{path}: line {line}: {exc}") from None
            for key, v in values.items():
                if math.isfinite(v):
                    out.setdefault(key, []).append((step, v))
    return out


__all__ = ["csv_logs", "metric_curves"]
