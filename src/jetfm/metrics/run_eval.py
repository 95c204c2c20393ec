"""Moved: evaluating a run (open it, score its model) is `jetfm.evaluate_run`; a trained run is
opened by `RunDir.load()` (`jetfm.pretrained`). `metrics/` keeps the metrics alone.

These names stay only until `jetfm/quickstart.py` imports them from their new homes; then this
module goes (it is the one place under metrics/ that reaches a model loader).
"""
from __future__ import annotations

from ..evaluate_run import evaluate_run, format_results, predict, read_history  # moved to jetfm.evaluate_run
from ..runs import RunDir


def load_run(run_dir):
    """(model, run config, data config): moved to `RunDir(run_dir).load()`."""
    run = RunDir(run_dir).load()
    return run.model, run.config, run.data_config


__all__ = ["evaluate_run", "format_results", "load_run", "predict", "read_history"]
