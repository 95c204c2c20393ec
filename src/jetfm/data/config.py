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
from ..io import read_text
from .config_fields import KNOWN_COLUMNS, check_keys, known_column, number
from .label_groups import group_of_label, resolve_names
from .label_spaces import JETCLASS_LABELS
from .reweight_config import ReweightSpec


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


def label_space_names(space: str) -> tuple[str, ...]:
    """Names indexed by `jet_label` in a label space (188 JetClass-II or 10 JetClass)."""
    if space == "jetclass2":
        return tuple(jetclass2.LABEL_NAMES)
    if space == "jetclass":
        return tuple(JETCLASS_LABELS)
    raise ConfigError(f"labels.space: unknown label space {space!r}; "
                      f"expected one of {', '.join(LABEL_SPACES)}")


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
        check_keys(d, {"name", "op", "args", "subtract", "multiply", "clip"}, where,
                    {"name", "op"})
        name, op = d["name"], d["op"]
        where = f"{where} ({name})"
        if op not in OPS:
            raise ConfigError(f"{where}: unknown op {op!r} (known: {', '.join(OPS)})")
        spec, given = OPS[op], dict(d.get("args") or {})
        check_keys(given, set(spec.args), f"{where}.args")
        args = {}
        for k, default in spec.args.items():
            v = given.get(k, default)
            if v is None:
                raise ConfigError(f"{where}.args: missing key {k!r}")
            args[k] = known_column(v, f"{where}.args.{k}", per_particle=True) if k == "column" \
                else number(v, f"{where}.args.{k}")
        clip = d.get("clip")
        if clip is not None:
            if not isinstance(clip, (list, tuple)) or len(clip) != 2:
                raise ConfigError(f"{where}.clip: expected [min, max] or null, got {clip!r}")
            clip = (number(clip[0], f"{where}.clip"), number(clip[1], f"{where}.clip"))
            if clip[0] > clip[1]:
                raise ConfigError(f"{where}.clip: min {clip[0]} > max {clip[1]}")
        return cls(str(name), op, tuple(sorted(args.items())),
                   number(d.get("subtract", 0.0), f"{where}.subtract"),
                   number(d.get("multiply", 1.0), f"{where}.multiply"), clip)

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
        check_keys(d, {"column", "min", "max", "gt", "lt"}, where, {"column"})
        bounds = {k: number(d[k], f"{where}.{k}") for k in ("min", "max", "gt", "lt")
                  if d.get(k) is not None}
        if not bounds:
            raise ConfigError(f"{where}: cut on {d['column']!r} has no bound (min/max/gt/lt)")
        return cls(known_column(d["column"], f"{where}.column", per_particle=False), **bounds)

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
        check_keys(d, {"column", "space", "merge"}, "labels")
        col = known_column(d.get("column", "jet_label"), "labels.column", per_particle=False)
        space = d.get("space", "jetclass2")
        label_space_names(space)
        merge = d.get("merge")
        if merge is not None:
            check_keys(merge, set(merge), "labels.merge")
            merge = tuple((str(k), tuple(str(p) for p in (v if isinstance(v, list) else [v])))
                          for k, v in merge.items())
        spec = cls(col, space, merge)
        spec.mapping()  # validate names and coverage now, not mid-training
        return spec

    def to_dict(self) -> dict:
        return {"column": self.column, "space": self.space,
                "merge": {k: list(v) for k, v in self.merge} if self.merge else None}


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
        check_keys(d, keys, "data config", {"features"})
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
        check_keys(vec, {"columns", "scale_to_jet_pt"}, "vectors")
        vcols = vec.get("columns", list(cls.vector_columns))
        if not isinstance(vcols, list) or len(vcols) != 4:
            raise ConfigError("vectors.columns: expected 4 columns (px, py, pz, E)")
        vcols = tuple(known_column(c, "vectors.columns", per_particle=True) for c in vcols)
        scale = vec.get("scale_to_jet_pt")
        scale = None if scale is None else number(scale, "vectors.scale_to_jet_pt")
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
        text = read_text(s, "data config")
    elif s in builtin_configs():
        text = resources.files("jetfm.data").joinpath("configs", f"{s}.yaml").read_text()
    else:
        raise ConfigError(f"data config {s!r}: no such file or built-in config "
                          f"(built-in: {', '.join(builtin_configs())})")
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"data config {s}: invalid YAML ({e})".replace("\n", " ")) from None
    try:
        return DataConfig.from_dict(d)
    except ConfigError as e:
        raise ConfigError(f"data config {s}: {e}") from None


def save_data_config(cfg: DataConfig, path: str | os.PathLike) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


__all__ = ["OPS", "KNOWN_COLUMNS", "FeatureSpec", "Cut", "LabelSpec", "ReweightSpec",
           "DataConfig", "load_data_config", "save_data_config", "builtin_configs",
           "label_space_names", "resolve_names"]
