"""Type and range checks of every value the report shows: a number out of its range, NaN, a
string or a list where a number or an object belongs is a ValueError naming the field (the
caller turns it into one DataError naming the results.json). A report never prints a value
it did not check."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["number", "metric", "RANGES", "check_evaluate", "lpc_value", "transfer_runs",
           "transfer_summary", "check_transfer_fields"]

INF = math.inf
# accuracy and AUC are fractions; rejection = 1/ε_B with ε_B <= 1, so at least 1
RANGES = {"accuracy": (0.0, 1.0), "auc": (0.0, 1.0), "rejection_at_30": (1.0, INF),
          "rejection_at_50": (1.0, INF)}
_SLACK = 1e-9   # float rounding of a mean or an interpolation at the edge of a range


def number(v, field: str, lo: float = -INF, hi: float = INF, none: bool = True) -> float | None:
    """`v` as a float in [lo, hi]: null -> None (when `none`), "inf"/"-inf" -> ±inf."""
    if v is None:
        if none:
            return None
        raise ValueError(f"{field} is missing (null)")
    if isinstance(v, str) and v in ("inf", "-inf"):
        x = float(v)
    elif isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{field} is not a number: {_short(v)}")
    else:
        x = float(v)
    if math.isnan(x):
        raise ValueError(f"{field} is NaN")
    if not lo - _SLACK <= x <= hi + _SLACK:
        raise ValueError(f"{field} = {v!r} is outside [{lo:g}, {hi:g}]")
    return x


def metric(name: str, v, field: str, std: bool = False) -> float | None:
    """A transfer metric (or its std over seeds) checked against its range."""
    lo, hi = RANGES[name]
    return number(v, field, 0.0, hi - lo) if std else number(v, field, lo, hi)


def lpc_value(lpc, field: str):
    """labels_per_class: a positive integer or "all"."""
    if lpc == "all" or (isinstance(lpc, int) and not isinstance(lpc, bool) and lpc > 0):
        return lpc
    raise ValueError(f"{field} = {_short(lpc)} is not a positive integer or 'all'")


def _object(v, field: str) -> dict:
    if not isinstance(v, dict):
        raise ValueError(f"{field} is not an object: {_short(v)}")
    return v


def check_evaluate(d: dict) -> None:
    """The fields of a `jetfm evaluate` results.json that the report shows."""
    n = d["n_jets"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"'n_jets' = {_short(n)} is not a count of jets")
    number(d["accuracy"], "'accuracy'", 0.0, 1.0, none=False)
    number(d.get("auc_macro"), "'auc_macro'", 0.0, 1.0)
    if d.get("run_dir") is not None and not isinstance(d["run_dir"], str):
        raise ValueError(f"'run_dir' is not a path: {_short(d['run_dir'])}")
    for name, disc in _object(d["discriminants"], "'discriminants'").items():
        where = f"discriminants.{name}"
        _object(disc, where)
        number(disc.get("auc"), f"{where}.auc", 0.0, 1.0)
        for eff, rej in _object(disc.get("rejection") or {}, f"{where}.rejection").items():
            number(rej, f"{where}.rejection.{eff}", 1.0, INF)


def transfer_runs(d: dict, metrics: tuple) -> list[dict]:
    """The checked ``runs`` of a transfer results.json."""
    if not isinstance(d.get("runs"), list) or not d["runs"]:
        raise ValueError("no runs")
    runs = []
    for i, r in enumerate(d["runs"]):
        where = f"runs[{i}]"
        try:
            _object(r, where)
            lpc = lpc_value(r["labels_per_class"], f"{where}.labels_per_class")
            seed = r["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError(f"{where}.seed = {_short(seed)} is not an integer")
            m = _object(r["metrics"], f"{where}.metrics")
            values = {k: metric(k, m.get(k), f"{where}.metrics.{k}") for k in metrics}
            roc = r.get("roc")
            if roc is not None:
                _object(roc, f"{where}.roc")
                fpr, tpr = ([number(x, f"{where}.roc.{k}", 0.0, 1.0, none=False)
                             for x in _list(roc[k], f"{where}.roc.{k}")] for k in ("fpr", "tpr"))
                if len(fpr) != len(tpr):
                    raise ValueError(f"{where}.roc: fpr and tpr differ in length")
                roc = {"fpr": fpr, "tpr": tpr}
        except KeyError as exc:
            raise ValueError(f"{where}: missing {exc.args[0]!r}") from None
        runs.append({"labels_per_class": lpc, "seed": seed, "metrics": values, "roc": roc})
    return runs


def transfer_summary(d: dict, runs: list[dict], metrics: tuple) -> dict:
    """lpc -> {metric_mean/std, n_seeds}, checked, and each mean equal to that of its runs
    (the report shows the summary: it must not hide runs that say otherwise)."""
    summary = {}
    for i, row in enumerate(_list(d.get("summary") or [], "'summary'")):
        where = f"summary[{i}]"
        _object(row, where)
        if "labels_per_class" not in row:
            raise ValueError(f"{where}: missing 'labels_per_class'")
        lpc = lpc_value(row["labels_per_class"], f"{where}.labels_per_class")
        out = {}
        for k, v in row.items():
            name = k[:-5] if k.endswith("_mean") else k[:-4] if k.endswith("_std") else None
            if k == "n_seeds":
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ValueError(f"{where}.n_seeds = {_short(v)} is not a count of seeds")
                out[k] = v
            elif name in metrics:
                out[k] = metric(name, v, f"{where}.{k}", std=k.endswith("_std"))
            elif name is not None:
                out[k] = number(v, f"{where}.{k}")
        for name in metrics:
            vals = [r["metrics"][name] for r in runs if r["labels_per_class"] == lpc
                    and r["metrics"][name] is not None]
            have = out.get(f"{name}_mean")
            if f"{name}_mean" not in out or not any(r["labels_per_class"] == lpc for r in runs):
                continue
            want = float(np.mean(vals)) if vals else None
            if (have is None) != (want is None) or (
                    have is not None and not math.isclose(have, want, rel_tol=1e-6,
                                                          abs_tol=1e-9)):
                raise ValueError(f"{where}.{name}_mean = {have!r} is not the mean of its runs "
                                 f"({want!r})")
        summary[lpc] = out
    return summary


def check_transfer_fields(d: dict) -> None:
    """The settings the report reads besides runs and summary."""
    b = d.get("backbone")
    if b is not None and (not isinstance(b, str) or not b):
        raise ValueError(f"'backbone' = {_short(b)} is not a path or a built-in name")
    for key in ("test_seed", "n_test"):
        v = d.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ValueError(f"{key!r} = {_short(v)} is not a non-negative integer")
    cfg = d.get("config")
    if cfg is not None:
        _object(cfg, "'config'")
        if "data" in cfg and not all(isinstance(f, str) for f in _list(cfg["data"],
                                                                         "config.data")):
            raise ValueError("config.data is not a list of file names")
        mpc = cfg.get("max_per_class")
        if mpc is not None and (isinstance(mpc, bool) or not isinstance(mpc, int) or mpc < 1):
            raise ValueError(f"config.max_per_class = {_short(mpc)} is not a positive integer")
    for i, k in enumerate(_list(d.get("skipped") or [], "'skipped'")):
        _object(k, f"skipped[{i}]")
    rep, schedule = d.get("representation"), d.get("schedule")
    if rep is not None and (not isinstance(rep, str) or not rep):
        raise ValueError("'representation' must be a non-empty string")
    if schedule is not None:
        _object(schedule, "'schedule'")


def _list(v, field: str) -> list:
    if not isinstance(v, list):
        raise ValueError(f"{field} is not a list: {_short(v)}")
    return v


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
