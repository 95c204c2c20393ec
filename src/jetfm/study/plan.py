"""A study plan: YAML data (read with safe_load, never evaluated) naming the data to generate,
the runs to pre-train and the evaluate / export / transfer / anomaly jobs. `load_plan` checks
it and returns a `Plan`; every mistake is one ConfigError line naming the plan key.

A strategy that needs re-simulated pairs (its registry entry's `pair_by`) reads the paired
data sets (generated with resim >= 2), whatever its name. The format is documented in
docs/studies.md; the built-in plans are in src/jetfm/plans/.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..io import load_yaml
from ..pretrain.registry import REGISTRY
from .checks import (DATA_NAME, NAME, PRETRAIN_OPTIONS, PlanError, command_options, fail,
                     mapping, show, strings)
from .jobs import BASELINES, SELECTORS, Job, JobParser


@dataclass(frozen=True)
class RunSpec:
    name: str
    strategy: str
    data: tuple[str, ...]      # data names
    options: dict


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    data: dict             # name -> generate options (dashed keys)
    runs: dict             # name -> RunSpec
    jobs: tuple            # Job, in plan order

    def paired(self, name: str) -> bool:
        return is_paired(self.data[name])


def is_paired(generate_options: dict) -> bool:
    """A data set of re-simulated pairs: every shower hadronised at least twice."""
    resim = generate_options.get("resim") or 0
    return isinstance(resim, int) and not isinstance(resim, bool) and resim >= 2


def builtin_plans() -> list[str]:
    folder = resources.files("jetfm") / "plans"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_plan(plan: str) -> Plan:
    """A plan file (a path: holds '/' or ends in .yaml/.yml) or a built-in plan name."""
    if "/" in plan or plan.endswith((".yaml", ".yml")):
        path = Path(plan)
        return parse_plan(load_yaml(path, "plan"), path.name.rsplit(".", 1)[0])
    if plan not in builtin_plans():
        raise ConfigError(f"plan {plan!r}: not a built-in plan ({', '.join(builtin_plans())})"
                          " nor a file (give a path ending in .yaml)")
    with resources.as_file(resources.files("jetfm") / "plans" / f"{plan}.yaml") as path:
        return parse_plan(load_yaml(path, "plan"), plan)


def parse_plan(raw, name: str) -> Plan:
    try:
        return _Parser(name).plan(raw)
    except PlanError as exc:
        raise ConfigError(f"plan {name}: {exc}") from None


class _Parser(JobParser):
    def __init__(self, name: str):
        self.name = name
        self.data: dict = {}
        self.runs: dict = {}
        self.outs: dict = {}       # output path -> plan key that writes it

    def plan(self, raw) -> Plan:
        if raw is None:
            fail("plan", "the file is empty")
        mapping(raw, "", ("title", "data", "pretrain", "evaluate", "export", "transfer",
                          "anomaly"))
        title = raw.get("title") or f"jetfm study {self.name}"
        if not isinstance(title, str):
            fail("title", f"expected text, got {show(title)}")
        for name, options in mapping(raw.get("data") or {}, "data").items():
            self._data(name, options)
        if raw.get("pretrain") is not None:
            self._pretrain(mapping(raw["pretrain"], "pretrain",
                                   ("strategies", "data", "paired", "options", "runs")))
        jobs = []
        for kind, parse in (("evaluate", self._evaluate), ("export", self._export),
                            ("transfer", self._transfer), ("anomaly", self._anomaly)):
            entries = raw.get(kind) or []
            if not isinstance(entries, list):
                fail(kind, f"expected a list of jobs, got {show(entries)}")
            for i, entry in enumerate(entries):
                jobs += parse(entry, f"{kind}[{i}]")
        return Plan(self.name, title, self.data, self.runs, tuple(jobs))

    # --- data and runs ---
    def _data(self, name, options) -> None:
        where = f"data.{name}"
        if not isinstance(name, str) or not DATA_NAME.fullmatch(name):
            fail(where, "a data name is letters, digits, _ . + - (and / between parts)")
        opts = command_options(options, where)
        if "workers" in opts:
            fail(f"{where}.workers", "not allowed here: the study sets it itself")
        mapping(opts, where, None, ("sample", "jets"))
        self.data[name] = opts

    def _data_names(self, value, where: str) -> tuple[str, ...]:
        names = strings(value, where)
        for n in names:
            if n not in self.data:
                fail(where, f"no data entry {n!r} (data: {', '.join(self.data) or 'none'})")
        return tuple(names)

    def _pretrain(self, raw: dict) -> None:
        strategies = raw.get("strategies", "all")
        if strategies == "all" or strategies is None:
            strategies = list(REGISTRY)
        elif strategies != []:
            strategies = strings(strategies, "pretrain.strategies")
        for s in strategies:
            if s not in REGISTRY:
                fail("pretrain.strategies", f"unknown strategy {s!r}; known: "
                     f"{', '.join(REGISTRY)}")
        shared = command_options(raw.get("options"), "pretrain.options", PRETRAIN_OPTIONS)
        data = self._data_names(raw["data"], "pretrain.data") if raw.get("data") else ()
        paired = (self._data_names(raw["paired"], "pretrain.paired") if raw.get("paired")
                  else tuple(n for n in data if self._paired(n)))
        for n in paired:
            if not self._paired(n):
                fail("pretrain.paired", f"data {n!r} holds no re-simulated pairs (give it "
                     "resim: 2 or more)")
        specs = {s: {} for s in strategies}
        for name, spec in mapping(raw.get("runs") or {}, "pretrain.runs").items():
            where = f"pretrain.runs.{name}"
            if name in specs:
                fail(where, "a run of that name comes from pretrain.strategies already")
            specs[name] = mapping(spec, where, ("strategy", "data", "options"), ("strategy",))
        for name, spec in specs.items():
            self._run(name, spec, shared, data, paired)

    def _paired(self, name: str) -> bool:
        return is_paired(self.data[name])

    def _run(self, name: str, spec: dict, shared: dict, data, paired) -> None:
        where = f"pretrain.runs.{name}" if spec else "pretrain.strategies"
        if not NAME.fullmatch(name) or name in BASELINES or name in SELECTORS:
            fail(where, f"run name {name!r}: letters, digits, _ . + -, and not one of "
                 f"{', '.join((*BASELINES, *SELECTORS))}")
        strategy = spec.get("strategy", name)
        if strategy not in REGISTRY:
            fail(f"{where}.strategy", f"unknown strategy {strategy!r}; known: "
                 f"{', '.join(REGISTRY)}")
        needs_pairs = REGISTRY[strategy].pair_by is not None
        if spec.get("data"):
            names = self._data_names(spec["data"], f"{where}.data")
            if needs_pairs and not all(self._paired(n) for n in names):
                fail(f"{where}.data", f"strategy {strategy!r} trains on re-simulated pairs "
                     "(it pairs jets by " + REGISTRY[strategy].pair_by + "): name only data "
                     "with resim: 2 or more")
        else:
            names = paired if needs_pairs else data
        if not names:
            what = ("re-simulated pairs (it pairs jets by " + REGISTRY[strategy].pair_by +
                    "): add a data entry with resim: 2 and name it in pretrain.paired"
                    if needs_pairs else "data: name the data entries in pretrain.data")
            fail(where, f"strategy {strategy!r} needs {what}")
        own = command_options(spec.get("options"), f"{where}.options", PRETRAIN_OPTIONS)
        options = {**shared, **own}
        self.runs[name] = RunSpec(name, strategy, tuple(names), options)
        self._claim(f"runs/{name}", where)


__all__ = ["Plan", "RunSpec", "Job", "load_plan", "parse_plan", "builtin_plans", "is_paired"]
