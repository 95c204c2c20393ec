"""Data configs: which particle features, 4-vectors, labels, cuts and reweighting to use.

A data config is YAML holding *data only*: every feature names an op from the fixed registry
`OPS` (implemented in `jetfm.data.features`), cuts are `{column, min/max/gt/lt}` records, label
merges and reweighting groups are name lists (fnmatch patterns allowed). Nothing is ever
evaluated, so a config file cannot run code -- unlike weaver's `new_variables` expressions,
which it replaces. Unknown keys, ops, columns or label names raise ConfigError naming them.

Built-in configs live in `jetfm/data/configs/` (`jetclass2`: Sophon's JetClass-II inputs;
`jetclass`: ParT's original JetClass inputs). `DataConfig.to_dict()` gives the fully resolved
config (bin edges spelled out) for writing next to a run; loading it back gives an equal config.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from .. import labels as jetclass2
from ..errors import ConfigError
from ..schema import OUTPUT_SCHEMA, TRUTH_COLUMNS, is_list_type
from .label_groups import group_of_label, resolve_names
from .label_spaces import JETCLASS_LABELS

# Columns a config may name, and whether they are per-particle lists.
KNOWN_COLUMNS: dict[str, bool] = {f.name: is_list_type(f.type)
                                  for f in list(OUTPUT_SCHEMA) + list(TRUTH_COLUMNS)}


@dataclass(frozen=True)
class OpSpec:
    """A feature op: the columns it always reads, and its args with defaults (None = required)."""
    columns: tuple[str, ...]
    args: Mapping[str, Any]


# The op registry. `column` args must name a per-particle column (checked at load).
OPS: dict[str, OpSpec] = {
    "log_pt_scaled": OpSpec(("part_px", "part_py", "jet_pt"), {"scale": 500.0}),  # log(pT*s/jet_pt)
    "log_e_scaled": OpSpec(("part_energy", "jet_pt"), {"scale": 500.0}),          # log(E*s/jet_pt)
    "log_pt": OpSpec(("part_px", "part_py"), {}),                                 # log(pT)
    "log_e": OpSpec(("part_energy",), {}),                                        # log(E)
    "log_ptrel": OpSpec(("part_px", "part_py", "jet_pt"), {}),                    # log(pT/jet_pt)
    "log_erel": OpSpec(("part_energy", "jet_energy"), {}),                        # log(E/jet_E)
    "delta_r": OpSpec(("part_deta", "part_dphi"), {}),                            # hypot(deta, dphi)
    "copy": OpSpec((), {"column": None}),
    "tanh": OpSpec((), {"column": None}),
}

LABEL_SPACES = ("jetclass2", "jetclass")
GROUP_MODES = ("label", "family", "sophon30")


def label_space_names(space: str) -> tuple[str, ...]:
    """Names indexed by `jet_label` in a label space (188 JetClass-II or 10 JetClass)."""
    if space == "jetclass2":
        return tuple(jetclass2.LABEL_NAMES)
    if space == "jetclass":
        return tuple(JETCLASS_LABELS)
    raise ConfigError(f"labels.space: unknown label space {space!r}; "
                      f"expected one of {', '.join(LABEL_SPACES)}")


def _check_keys(d: Any, allowed: set[str], where: str, required: set[str] = frozenset()):
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(d).__name__}")
    for k in d:
        if k not in allowed:
            raise ConfigError(f"{where}: unknown key {k!r} (allowed: {', '.join(sorted(allowed))})")
    for k in required:
        if k not in d:
            raise ConfigError(f"{where}: missing key {k!r}")


def _column(name: Any, where: str, per_particle: bool | None = None) -> str:
    if not isinstance(name, str) or name not in KNOWN_COLUMNS:
        raise ConfigError(f"{where}: unknown column {name!r}")
    if per_particle is not None and KNOWN_COLUMNS[name] != per_particle:
        kind = "per-particle (list)" if per_particle else "per-jet (scalar)"
        raise ConfigError(f"{where}: column {name!r} is not a {kind} column")
    return name


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {v!r}")
    return float(v)


@dataclass(frozen=True)
class FeatureSpec:
    """One particle feature: value = clip((op(args) - subtract) * multiply, *clip)."""
    name: str
    op: str
    args: tuple[tuple[str, Any], ...] = ()
    subtract: float = 0.0
    multiply: float = 1.0
    clip: tuple[float, float] | None = None

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    @property
    def columns(self) -> tuple[str, ...]:
        cols = OPS[self.op].columns
        return cols + ((self.kwargs["column"],) if "column" in self.kwargs else ())

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "FeatureSpec":
        _check_keys(d, {"name", "op", "args", "subtract", "multiply", "clip"}, where,
                    {"name", "op"})
        name, op = d["name"], d["op"]
        where = f"{where} ({name})"
        if op not in OPS:
            raise ConfigError(f"{where}: unknown op {op!r} (known: {', '.join(OPS)})")
        spec, given = OPS[op], dict(d.get("args") or {})
        _check_keys(given, set(spec.args), f"{where}.args")
        args = {}
        for k, default in spec.args.items():
            v = given.get(k, default)
            if v is None:
                raise ConfigError(f"{where}.args: missing key {k!r}")
            args[k] = _column(v, f"{where}.args.{k}", per_particle=True) if k == "column" \
                else _number(v, f"{where}.args.{k}")
        clip = d.get("clip")
        if clip is not None:
            if not isinstance(clip, (list, tuple)) or len(clip) != 2:
                raise ConfigError(f"{where}.clip: expected [min, max] or null, got {clip!r}")
            clip = (_number(clip[0], f"{where}.clip"), _number(clip[1], f"{where}.clip"))
            if clip[0] > clip[1]:
                raise ConfigError(f"{where}.clip: min {clip[0]} > max {clip[1]}")
        return cls(str(name), op, tuple(sorted(args.items())),
                   _number(d.get("subtract", 0.0), f"{where}.subtract"),
                   _number(d.get("multiply", 1.0), f"{where}.multiply"), clip)

    def to_dict(self) -> dict:
        return {"name": self.name, "op": self.op, "args": self.kwargs, "subtract": self.subtract,
                "multiply": self.multiply, "clip": list(self.clip) if self.clip else None}


@dataclass(frozen=True)
class Cut:
    """Keep jets with min <= column <= max and gt < column < lt (absent bounds: no cut)."""
    column: str
    min: float | None = None
    max: float | None = None
    gt: float | None = None
    lt: float | None = None

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "Cut":
        _check_keys(d, {"column", "min", "max", "gt", "lt"}, where, {"column"})
        bounds = {k: _number(d[k], f"{where}.{k}") for k in ("min", "max", "gt", "lt")
                  if d.get(k) is not None}
        if not bounds:
            raise ConfigError(f"{where}: cut on {d['column']!r} has no bound (min/max/gt/lt)")
        return cls(_column(d["column"], f"{where}.column", per_particle=False), **bounds)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("column", "min", "max", "gt", "lt")
                if getattr(self, k) is not None}


@dataclass(frozen=True)
class LabelSpec:
    """`column` holds indices into `space`; `merge` (ordered) maps them to merged classes."""
    column: str = "jet_label"
    space: str = "jetclass2"
    merge: tuple[tuple[str, tuple[str, ...]], ...] | None = None

    @property
    def source_names(self) -> tuple[str, ...]:
        return label_space_names(self.space)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.merge) if self.merge else self.source_names

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def mapping(self) -> np.ndarray:
        """Source label -> output class (int64 array over the source space)."""
        src = self.source_names
        if not self.merge:
            return np.arange(len(src), dtype=np.int64)
        out = np.full(len(src), -1, np.int64)
        for k, (name, pats) in enumerate(self.merge):
            idx = resolve_names(list(pats), src, f"labels.merge.{name}")
            taken = [src[i] for i in idx if out[i] >= 0]
            if taken:
                raise ConfigError(f"labels.merge.{name}: label {taken[0]!r} is already merged "
                                  f"into another class")
            out[list(idx)] = k
        if (out < 0).any():
            missing = [src[i] for i in np.flatnonzero(out < 0)]
            raise ConfigError(f"labels.merge: {len(missing)} labels belong to no merged class, "
                              f"e.g. {missing[0]!r}")
        return out

    @classmethod
    def from_dict(cls, d: Any) -> "LabelSpec":
        _check_keys(d, {"column", "space", "merge"}, "labels")
        col = _column(d.get("column", "jet_label"), "labels.column", per_particle=False)
        space = d.get("space", "jetclass2")
        label_space_names(space)
        merge = d.get("merge")
        if merge is not None:
            _check_keys(merge, set(merge), "labels.merge")
            merge = tuple((str(k), tuple(str(p) for p in (v if isinstance(v, list) else [v])))
                          for k, v in merge.items())
        spec = cls(col, space, merge)
        spec.mapping()  # validate names and coverage now, not mid-training
        return spec

    def to_dict(self) -> dict:
        return {"column": self.column, "space": self.space,
                "merge": {k: list(v) for k, v in self.merge} if self.merge else None}


def _edges(spec: Any, where: str) -> tuple[float, ...]:
    """Bin edges from a list, or from {min, max, n, log} (log: geometric spacing)."""
    if isinstance(spec, Mapping):
        _check_keys(spec, {"min", "max", "n", "log"}, where, {"min", "max", "n"})
        lo, hi, n = (_number(spec[k], f"{where}.{k}") for k in ("min", "max", "n"))
        if n < 1 or n != int(n) or (spec.get("log") and lo <= 0):
            raise ConfigError(f"{where}: need integer n >= 1 (and min > 0 for log bins)")
        e = np.geomspace(lo, hi, int(n) + 1) if spec.get("log") else np.linspace(lo, hi, int(n) + 1)
        edges = tuple(float(x) for x in e)
    elif isinstance(spec, (list, tuple)):
        edges = tuple(_number(x, where) for x in spec)
    else:
        raise ConfigError(f"{where}: expected a list of edges or {{min, max, n, log}}")
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ConfigError(f"{where}: bin edges must be >= 2 strictly increasing numbers")
    return edges


@dataclass(frozen=True)
class ReweightSpec:
    """weaver/Sophon `reweight_method: flat` options (see `jetfm.data.reweight`)."""
    enabled: bool = False
    method: str = "flat"
    vars: tuple[str, str] = ("jet_pt", "jet_sdmass")
    bins: tuple[tuple[float, ...], tuple[float, ...]] = ((200.0, 2500.0), (20.0, 500.0))
    groups: str | tuple[tuple[str, tuple[str, ...]], ...] = "label"
    class_weights: tuple[tuple[str, float], ...] = ()
    threshold: float = 10.0        # percentile of populated bins below which no up-weighting
    max_jets: int = 2_000_000      # cap on jets read to fill the histograms
    discard_under_overflow: bool = True

    @classmethod
    def from_dict(cls, d: Any) -> "ReweightSpec":
        keys = {"enabled", "method", "vars", "bins", "groups", "class_weights", "threshold",
                "max_jets", "discard_under_overflow"}
        _check_keys(d, keys, "reweight")
        if d.get("method", "flat") != "flat":
            raise ConfigError(f"reweight.method: unknown method {d['method']!r}; only 'flat'")
        vars_ = d.get("vars", list(cls.vars))
        if not isinstance(vars_, (list, tuple)) or len(vars_) != 2:
            raise ConfigError("reweight.vars: expected two per-jet columns")
        vars_ = tuple(_column(v, "reweight.vars", per_particle=False) for v in vars_)
        bins = d.get("bins")
        if bins is None and vars_ == cls.vars:
            edges = cls.bins  # one bin each: harmless default for a disabled section
        else:
            _check_keys(bins, set(vars_), "reweight.bins", set(vars_))
            edges = tuple(_edges(bins[v], f"reweight.bins.{v}") for v in vars_)
        groups = d.get("groups", "label")
        if isinstance(groups, str):
            if groups not in GROUP_MODES:
                raise ConfigError(f"reweight.groups: unknown grouping {groups!r} "
                                  f"(expected one of {', '.join(GROUP_MODES)} or a mapping)")
        else:
            _check_keys(groups, set(groups), "reweight.groups")
            groups = tuple((str(k), tuple(str(p) for p in v)) for k, v in groups.items())
        cw = d.get("class_weights") or {}
        _check_keys(cw, set(cw), "reweight.class_weights")
        cw = tuple((str(k), _number(v, f"reweight.class_weights.{k}")) for k, v in cw.items())
        max_jets = d.get("max_jets", cls.max_jets)
        if not isinstance(max_jets, int) or max_jets < 1:
            raise ConfigError(f"reweight.max_jets: expected a positive integer, got {max_jets!r}")
        return cls(bool(d.get("enabled", False)), "flat", vars_, edges, groups, cw,
                   _number(d.get("threshold", cls.threshold), "reweight.threshold"), max_jets,
                   bool(d.get("discard_under_overflow", True)))

    def to_dict(self) -> dict:
        groups = self.groups if isinstance(self.groups, str) else \
            {k: list(v) for k, v in self.groups}
        return {"enabled": self.enabled, "method": self.method, "vars": list(self.vars),
                "bins": {v: list(e) for v, e in zip(self.vars, self.bins)}, "groups": groups,
                "class_weights": dict(self.class_weights), "threshold": self.threshold,
                "max_jets": self.max_jets, "discard_under_overflow": self.discard_under_overflow}


@dataclass(frozen=True)
class DataConfig:
    name: str
    max_particles: int
    features: tuple[FeatureSpec, ...]
    vector_columns: tuple[str, str, str, str] = ("part_px", "part_py", "part_pz", "part_energy")
    vector_scale: float | None = None   # v *= scale / jet_pt (Sophon: 500); None = raw GeV
    labels: LabelSpec | None = field(default_factory=LabelSpec)
    selection: tuple[Cut, ...] = ()
    reweight: ReweightSpec = field(default_factory=ReweightSpec)
    description: str = ""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def num_features(self) -> int:
        return len(self.features)

    def required_columns(self) -> list[str]:
        """Every column building a batch reads (features, vectors, labels, cuts, weights)."""
        cols: list[str] = []
        for f in self.features:
            cols += f.columns
        cols += list(self.vector_columns) + (["jet_pt"] if self.vector_scale else [])
        cols += [self.labels.column] if self.labels else []
        cols += [c.column for c in self.selection]
        cols += list(self.reweight.vars) if self.reweight.enabled else []
        return list(dict.fromkeys(cols))

    @classmethod
    def from_dict(cls, d: Any) -> "DataConfig":
        keys = {"name", "description", "max_particles", "features", "vectors", "labels",
                "selection", "reweight"}
        _check_keys(d, keys, "data config", {"features"})
        mp = d.get("max_particles", 128)
        if isinstance(mp, bool) or not isinstance(mp, int) or mp < 1:
            raise ConfigError(f"max_particles: expected a positive integer, got {mp!r}")
        feats = d["features"]
        if not isinstance(feats, list) or not feats:
            raise ConfigError("features: expected a non-empty list")
        features = tuple(FeatureSpec.from_dict(f, f"features[{i}]") for i, f in enumerate(feats))
        names = [f.name for f in features]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ConfigError(f"features: duplicate feature name {dup!r}")
        vec = d.get("vectors") or {}
        _check_keys(vec, {"columns", "scale_to_jet_pt"}, "vectors")
        vcols = vec.get("columns", list(cls.vector_columns))
        if not isinstance(vcols, list) or len(vcols) != 4:
            raise ConfigError("vectors.columns: expected 4 columns (px, py, pz, E)")
        vcols = tuple(_column(c, "vectors.columns", per_particle=True) for c in vcols)
        scale = vec.get("scale_to_jet_pt")
        scale = None if scale is None else _number(scale, "vectors.scale_to_jet_pt")
        labels = None if d.get("labels", {}) is None else LabelSpec.from_dict(d.get("labels", {}))
        sel = d.get("selection") or []
        if not isinstance(sel, list):
            raise ConfigError("selection: expected a list of cuts")
        cuts = tuple(Cut.from_dict(c, f"selection[{i}]") for i, c in enumerate(sel))
        rw = ReweightSpec.from_dict(d.get("reweight") or {})
        if rw.enabled and labels is None:
            raise ConfigError("reweight: needs labels (groups are made of label classes)")
        cfg = cls(str(d.get("name", "custom")), mp, features, vcols, scale, labels, cuts, rw,
                  str(d.get("description", "")))
        if rw.enabled:
            group_of_label(cfg)  # validate group names / coverage at load time
        return cfg

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description,
                "max_particles": self.max_particles,
                "features": [f.to_dict() for f in self.features],
                "vectors": {"columns": list(self.vector_columns),
                            "scale_to_jet_pt": self.vector_scale},
                "labels": self.labels.to_dict() if self.labels else None,
                "selection": [c.to_dict() for c in self.selection],
                "reweight": self.reweight.to_dict()}


def builtin_configs() -> list[str]:
    files = resources.files("jetfm.data").joinpath("configs").iterdir()
    return sorted(Path(p.name).stem for p in files if p.name.endswith(".yaml"))


def load_data_config(path_or_name: str | os.PathLike | Mapping) -> DataConfig:
    """A DataConfig from a built-in name (`jetclass2`, `jetclass`), a YAML path or a dict."""
    if isinstance(path_or_name, Mapping):
        return DataConfig.from_dict(path_or_name)
    s = os.fspath(path_or_name)
    if os.path.isfile(s):
        text = Path(s).read_text()
    elif s in builtin_configs():
        text = resources.files("jetfm.data").joinpath("configs", f"{s}.yaml").read_text()
    else:
        raise ConfigError(f"data config {s!r}: no such file or built-in config "
                          f"(built-in: {', '.join(builtin_configs())})")
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"data config {s}: invalid YAML ({e})") from e
    try:
        return DataConfig.from_dict(d)
    except ConfigError as e:
        raise ConfigError(f"data config {s}: {e}") from None


def save_data_config(cfg: DataConfig, path: str | os.PathLike) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


__all__ = ["OPS", "KNOWN_COLUMNS", "FeatureSpec", "Cut", "LabelSpec", "ReweightSpec",
           "DataConfig", "load_data_config", "save_data_config", "builtin_configs",
           "label_space_names", "resolve_names"]
