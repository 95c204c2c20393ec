"""Find and load what `jetfm report` summarises, under any mix of paths:

* `jetfm pretrain` run directories (``config.yaml`` + ``logs/csv-N/metrics.csv``),
* `jetfm evaluate` output (``results.json`` with ``n_jets``, ``accuracy``, ``discriminants``),
* `jetfm transfer` output (``results.json`` with ``"kind": "jetfm.transfer"``),
* `jetfm anomaly cwola | iad | autoencoder` output (``"kind": "jetfm.anomaly.*"``),
* folders holding any of these, searched recursively (hidden folders, ``checkpoints/`` and
  ``logs/`` are not entered).

Everything is read and checked before anything is drawn or written; a broken or unknown input
is one :class:`ConfigError` / :class:`DataError` naming its path.
"""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import ConfigError, DataError
from ..metrics.run_eval import csv_logs
from ..runs import CONFIG_NAME, LOGS_DIR, WEIGHTS_NAME, RunDir

__all__ = ["Inputs", "PretrainRun", "short_names", "EvalResult", "TransferResult", "AnomalyResult",
           "collect", "lpc_key",
           "RESULTS_NAME", "TRANSFER_KIND", "METRICS"]

RESULTS_NAME = "results.json"
TRANSFER_KIND = "jetfm.transfer"
TRANSFER_FORMAT = 1
ANOMALY_KINDS = ("jetfm.anomaly.cwola", "jetfm.anomaly.iad", "jetfm.anomaly.autoencoder")
METRICS = ("accuracy", "auc", "rejection_at_30", "rejection_at_50")
_EVAL_KEYS = ("n_jets", "accuracy", "discriminants")
_SKIP_DIRS = {"checkpoints", LOGS_DIR}


@dataclass
class PretrainRun:
    path: Path
    strategy: str
    config: dict
    curves: dict[str, list[tuple[int, float]]]   # metric -> [(step, value)], in order
    name: str = ""   # the shortest trailing part of its path that tells it from the others


@dataclass
class EvalResult:
    path: Path            # the results.json
    results: dict
    strategy: str | None  # of the evaluated run, when its config.yaml is readable
    name: str = ""        # its folder's shortest distinguishing trailing path


@dataclass
class TransferResult:
    path: Path
    task: str
    strategy: str
    mode: str
    backbone: str
    data: dict
    runs: list[dict]
    summary: dict = field(default_factory=dict)   # lpc -> {metric_mean/std, n_seeds}
    representation: str | None = None   # frozen modes' input (None: older file, = cls)
    schedule: dict | None = None        # network modes' LP-FT schedule (None: older file)

    @property
    def mode_label(self) -> str:
        """The mode with what tells two results of one backbone and mode apart: a
        representation other than cls ("linear · projection"), an LP-FT probe phase
        ("finetune · LP-FT 100+200")."""
        label = self.mode
        if self.representation not in (None, "cls"):
            label += f" · {self.representation}"
        s = self.schedule or {}
        if s.get("probe_steps"):
            label += f" · LP-FT {s['probe_steps']}+{s.get('full_steps', '?')}"
        return label

    @property
    def is_scratch(self) -> bool:
        """A baseline without pre-training: a network trained from scratch, or frozen random
        features (`--backbone random`)."""
        return self.mode == "scratch" or self.strategy in ("scratch", "random")


@dataclass
class AnomalyResult:
    path: Path
    kind: str             # jetfm.anomaly.cwola | iad | autoencoder
    data: dict
    name: str = ""


@dataclass
class Inputs:
    pretrain: list[PretrainRun] = field(default_factory=list)
    evaluate: list[EvalResult] = field(default_factory=list)
    transfer: list[TransferResult] = field(default_factory=list)
    anomaly: list[AnomalyResult] = field(default_factory=list)


def lpc_key(lpc) -> tuple:
    """Sort key of labels-per-class: integers ascending, "all" last."""
    return (1, 0) if lpc == "all" else (0, int(lpc))


def collect(paths) -> Inputs:
    if not paths:
        raise ConfigError("give at least one path (run directory, results.json or folder)")
    found: dict[Path, str] = {}   # resolved path -> "run" | "results"
    for p in map(Path, paths):
        before = len(found)
        if not p.exists():
            raise ConfigError(f"{p}: no such file or folder")
        if p.is_file():
            if p.name == CONFIG_NAME:
                RunDir(p.parent).config()   # raises if not a run's config
                found.setdefault(p.parent.resolve(), "run")
            elif p.suffix.lower() == ".json":
                found.setdefault(p.resolve(), "results")
            else:
                raise ConfigError(f"{p}: not a results.json, run directory or folder")
        else:
            for kind, q in _walk(p):
                found.setdefault(q.resolve(), kind)
        if len(found) == before and not _already(p, found):
            raise ConfigError(f"{p}: no `jetfm pretrain` run, `jetfm evaluate`, `jetfm "
                              "transfer` or `jetfm anomaly` results.json found there")
    inputs = Inputs()
    for path, kind in found.items():
        if kind == "run":
            inputs.pretrain.append(load_run(path))
        else:
            res = load_results(path)
            {TransferResult: inputs.transfer, AnomalyResult: inputs.anomaly}.get(
                type(res), inputs.evaluate).append(res)
    _check_duplicates(inputs.transfer)
    for r, name in zip(inputs.pretrain, short_names([r.path for r in inputs.pretrain])):
        r.name = name
    for r, name in zip(inputs.evaluate, short_names([r.path.parent for r in inputs.evaluate])):
        r.name = name
    for r, name in zip(inputs.anomaly, short_names([r.path.parent for r in inputs.anomaly])):
        r.name = name
    return inputs


def short_names(paths) -> list[str]:
    """The fewest trailing parts of each path that tell it from the others ("run",
    "a/run", "b/run")."""
    paths = [Path(p).parts for p in paths]
    depth = [1] * len(paths)
    while True:
        names = ["/".join(p[-k:]) for p, k in zip(paths, depth)]
        dup = {n for n in names if names.count(n) > 1}
        grow = [i for i, n in enumerate(names) if n in dup and depth[i] < len(paths[i])]
        if not grow:
            return names
        for i in grow:
            depth[i] += 1


def _already(p: Path, found) -> bool:
    """True if `p` was found through an earlier argument (given twice, or inside another)."""
    r = p.resolve()
    return any(f == r or r in f.parents for f in found)


def _walk(root: Path):
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        if CONFIG_NAME in files and _looks_like_run(here):
            yield "run", here
        if RESULTS_NAME in files:
            yield "results", here / RESULTS_NAME


def _looks_like_run(folder: Path) -> bool:
    run = RunDir(folder)
    if run.is_run():
        return True
    if (folder / LOGS_DIR).is_dir() or (folder / WEIGHTS_NAME).is_file():
        run.config()   # meant to be a run but its config is broken: raises, naming it
    return False       # some other config.yaml


def load_run(path: Path) -> PretrainRun:
    cfg = RunDir.existing(path).config()
    train = cfg["train"] if isinstance(cfg["train"], dict) else {}
    strategy = train.get("strategy")
    if not isinstance(strategy, str) or not strategy:
        raise ConfigError(f"{path / CONFIG_NAME}: no train.strategy")
    return PretrainRun(Path(path), strategy, cfg, read_curves(path))


def read_curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """metric -> [(step, value)] over every metrics.csv of the run (oldest first)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for path in csv_logs(run_dir):
        try:
            with path.open(newline="") as fh:
                for line, row in enumerate(csv.DictReader(fh), start=2):
                    if None in row or "step" not in row:
                        raise ValueError(f"line {line}: not the header's columns")
                    step = int(float(row["step"]))
                    for key, value in row.items():
                        if value not in (None, "") and "/" in key:
                            v = float(value)
                            if math.isfinite(v):
                                out.setdefault(key, []).append((step, v))
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
            raise DataError(f"{path}: unreadable training log ({exc})") from None
    return out


def load_results(path: Path):
    """A TransferResult or EvalResult; DataError if unreadable, ConfigError if unknown."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable results file ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: results file is not a JSON object")
    if "kind" in data:
        if data["kind"] in ANOMALY_KINDS:
            return _anomaly(path, data)
        if data["kind"] != TRANSFER_KIND:
            raise ConfigError(f"{path}: unknown results kind {data['kind']!r} (expected "
                              f"{TRANSFER_KIND!r} or one of {', '.join(ANOMALY_KINDS)})")
        return _transfer(path, data)
    if all(k in data for k in _EVAL_KEYS):
        return EvalResult(Path(path), data, _strategy_of(data.get("run_dir")))
    raise ConfigError(f"{path}: not a `jetfm evaluate` or `jetfm transfer` results file")


def _anomaly(path: Path, data: dict) -> AnomalyResult:
    from .anomaly import TABLES
    res = AnomalyResult(Path(path), data["kind"], data)
    try:
        if not isinstance(data.get("inputs"), dict) or not data["inputs"]:
            raise ValueError("no input sets")
        TABLES[res.kind][1](data)          # every value the report needs is there
    except (KeyError, TypeError, ValueError, IndexError, StopIteration) as exc:
        raise DataError(f"{path}: invalid `jetfm anomaly` results ({_why(exc)})") from None
    return res


def _strategy_of(run_dir) -> str | None:
    if not isinstance(run_dir, str):
        return None
    try:
        cfg = yaml.safe_load((Path(run_dir) / CONFIG_NAME).read_text())
        return str(cfg["train"]["strategy"])
    except (OSError, yaml.YAMLError, UnicodeDecodeError, KeyError, TypeError):
        return None


def number(v) -> float | None:
    """A metric value as float: null -> None, "inf" -> inf; anything else is an error."""
    if v is None:
        return None
    if isinstance(v, str) and v in ("inf", "-inf"):
        return float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"not a number: {v!r}")
    return float(v)


def _transfer(path: Path, d: dict) -> TransferResult:
    def bad(msg):
        return DataError(f"{path}: invalid `jetfm transfer` results: {msg}")

    fmt = d.get("format")
    if not isinstance(fmt, int) or fmt < 1:
        raise bad(f"format {fmt!r}")
    if fmt > TRANSFER_FORMAT:
        raise ConfigError(f"{path}: transfer results format {fmt} is newer than this jetfm "
                          f"reads ({TRANSFER_FORMAT}); update jetfm")
    for key in ("task", "strategy", "mode"):
        if not isinstance(d.get(key), str) or not d[key]:
            raise bad(f"{key!r} must be a non-empty string")
    if not isinstance(d.get("runs"), list) or not d["runs"]:
        raise bad("no runs")
    runs = []
    for i, r in enumerate(d["runs"]):
        try:
            lpc, seed = r["labels_per_class"], r["seed"]
            if not (lpc == "all" or (isinstance(lpc, int) and not isinstance(lpc, bool)
                                     and lpc > 0)):
                raise ValueError(f"labels_per_class {lpc!r}")
            if not isinstance(seed, int):
                raise ValueError(f"seed {seed!r}")
            metrics = {m: number(r["metrics"].get(m)) for m in METRICS}
            roc = r.get("roc")
            if roc is not None:
                fpr, tpr = [float(x) for x in roc["fpr"]], [float(x) for x in roc["tpr"]]
                if len(fpr) != len(tpr):
                    raise ValueError("roc fpr and tpr differ in length")
                roc = {"fpr": fpr, "tpr": tpr}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise bad(f"runs[{i}]: {_why(exc)}") from None
        runs.append({"labels_per_class": lpc, "seed": seed, "metrics": metrics, "roc": roc})
    summary = {}
    for i, s in enumerate(d.get("summary") or []):
        try:
            summary[s["labels_per_class"]] = {
                k: number(v) for k, v in s.items() if k.endswith(("_mean", "_std", "n_seeds"))}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise bad(f"summary[{i}]: {_why(exc)}") from None
    rep, schedule = d.get("representation"), d.get("schedule")
    if rep is not None and (not isinstance(rep, str) or not rep):
        raise bad("'representation' must be a non-empty string")
    if schedule is not None and not isinstance(schedule, dict):
        raise bad("'schedule' must be an object")
    return TransferResult(Path(path), d["task"], d["strategy"], d["mode"],
                          str(d.get("backbone") or d["strategy"]), d, runs, summary, rep,
                          schedule)


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def _check_duplicates(results: list[TransferResult]) -> None:
    seen: dict[tuple, Path] = {}
    for r in results:
        key = (r.task, r.backbone, r.strategy, r.mode_label)
        if key in seen:
            raise ConfigError(f"{r.path} and {seen[key]}: both hold task {r.task!r}, "
                              f"backbone {r.backbone}, mode {r.mode_label}; give only one")
        seen[key] = r.path
