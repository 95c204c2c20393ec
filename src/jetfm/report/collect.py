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

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import ConfigError, DataError
from ..run_logs import csv_logs
from .. import pretrained
from ..runs import CONFIG_NAME, LOGS_DIR, WEIGHTS_NAME, RunDir
from .checks import check_evaluate, check_transfer_fields, transfer_runs, transfer_summary

__all__ = ["Inputs", "PretrainRun", "short_names", "EvalResult", "TransferResult", "AnomalyResult",
           "collect", "lpc_key",
           "RESULTS_NAME", "TRANSFER_KIND", "METRICS", "BUILTIN_BACKBONES", "input_files"]

RESULTS_NAME = "results.json"
TRANSFER_KIND = "jetfm.transfer"
TRANSFER_FORMAT = 1
ANOMALY_KINDS = ("jetfm.anomaly.cwola", "jetfm.anomaly.iad", "jetfm.anomaly.autoencoder")
METRICS = ("accuracy", "auc", "rejection_at_30", "rejection_at_50")
_EVAL_KEYS = ("n_jets", "accuracy", "discriminants")
_SKIP_DIRS = {"checkpoints", LOGS_DIR}
# `jetfm transfer --backbone scratch | random` records these words; a run folder is recorded
# by its absolute path, so a run folder *called* random is never one of them
BUILTIN_BACKBONES = ("scratch", "random")
NOT_RECORDED = "not recorded"   # a test-set setting an older results.json does not hold


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
        features (`--backbone random`): what results.json records under "baseline"; older
        files without it: by the recorded backbone, not by a name a pre-training run could
        also have, and files without a backbone by the strategy."""
        if "baseline" in self.data:
            return self.data["baseline"] is not None
        if self.mode == "scratch":
            return True
        if "backbone" in self.data:
            return self.backbone in BUILTIN_BACKBONES
        return self.strategy in BUILTIN_BACKBONES

    @property
    def test_set(self) -> tuple:
        """((setting, value), ...) that fix the test jets: results differing in one of them
        were measured on different jets and are not ranked against each other."""
        cfg = self.data.get("config")
        recorded = isinstance(cfg, dict) and "data" in cfg
        data = tuple(cfg["data"]) if recorded else NOT_RECORDED
        mpc = (cfg.get("max_per_class") or "all") if recorded else NOT_RECORDED
        return (("--test-seed", self.data.get("test_seed", NOT_RECORDED)),
                ("--max-per-class", mpc), ("--data", data),
                ("test jets", self.data.get("n_test", NOT_RECORDED)))


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


def input_files(inputs: Inputs) -> list[Path]:
    """Every file the report reads (the report may write none of them)."""
    from .anomaly import FIGURES
    files = [r.path for r in (*inputs.transfer, *inputs.evaluate, *inputs.anomaly)]
    for run in inputs.pretrain:
        files += [Path(run.path) / CONFIG_NAME, *csv_logs(run.path)]
    for r in inputs.anomaly:
        files += sorted(Path(r.path).parent.glob(FIGURES[r.kind]))
    return files


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
    """What the run's config.yaml and logs say (`pretrained.open_run(path, weights=False)`): the report
    draws no weights, and a run still training may have none yet."""
    run = pretrained.open_run(path, weights=False)
    return PretrainRun(Path(path), run.strategy, run.config, run.history())


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
        try:
            check_evaluate(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{path}: invalid `jetfm evaluate` results: {_why(exc)}") from None
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


def _transfer(path: Path, d: dict) -> TransferResult:
    def bad(msg):
        return DataError(f"{path}: invalid `jetfm transfer` results: {msg}")

    fmt = d.get("format")
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt < 1:
        raise bad(f"format {fmt!r}")
    if fmt > TRANSFER_FORMAT:
        raise ConfigError(f"{path}: transfer results format {fmt} is newer than this jetfm "
                          f"reads ({TRANSFER_FORMAT}); update jetfm")
    for key in ("task", "strategy", "mode"):
        if not isinstance(d.get(key), str) or not d[key]:
            raise bad(f"{key!r} must be a non-empty string")
    try:
        check_transfer_fields(d)
        runs = transfer_runs(d, METRICS)
        summary = transfer_summary(d, runs, METRICS)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise bad(_why(exc)) from None
    return TransferResult(Path(path), d["task"], d["strategy"], d["mode"],
                          str(d.get("backbone") or d["strategy"]), d, runs, summary,
                          d.get("representation"), d.get("schedule"))


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def _check_duplicates(results: list[TransferResult]) -> None:
    seen: dict[tuple, Path] = {}
    for r in results:
        key = (r.task, r.backbone, r.strategy, r.mode_label, r.test_set)
        if key in seen:   # one arm on two test sets is two groups of the report, not a repeat
            raise ConfigError(f"{r.path} and {seen[key]}: both hold task {r.task!r}, "
                              f"backbone {r.backbone}, mode {r.mode_label}; give only one")
        seen[key] = r.path
