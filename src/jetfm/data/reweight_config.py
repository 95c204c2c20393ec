"""The `reweight:` section of a data config (weaver/Sophon `reweight_method: flat`; the
reweighting itself is `jetfm.data.reweight`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from .config_fields import check_keys, known_column, number

GROUP_MODES = ("label", "family", "sophon30")


def _edges(spec: Any, where: str) -> tuple[float, ...]:
    """Bin edges from a list, or from {min, max, n, log} (log: geometric spacing)."""
    if isinstance(spec, Mapping):
        check_keys(spec, {"min", "max", "n", "log"}, where, {"min", "max", "n"})
        lo, hi, n = (number(spec[k], f"{where}.{k}") for k in ("min", "max", "n"))
        if n < 1 or n != int(n) or (spec.get("log") and lo <= 0):
            raise ConfigError(f"{where}: need integer n >= 1 (and min > 0 for log bins)")
        e = np.geomspace(lo, hi, int(n) + 1) if spec.get("log") else np.linspace(lo, hi, int(n) + 1)
        edges = tuple(float(x) for x in e)
    elif isinstance(spec, (list, tuple)):
        edges = tuple(number(x, where) for x in spec)
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
    mode: str = "sample"           # sample jets by weight (weaver) or weight the loss
    max_resample: int = 10         # weaver's cap on up-sampling when sampling

    @classmethod
    def from_dict(cls, d: Any) -> "ReweightSpec":
        keys = {"enabled", "method", "vars", "bins", "groups", "class_weights", "threshold",
                "max_jets", "discard_under_overflow", "mode", "max_resample"}
        check_keys(d, keys, "reweight")
        if d.get("method", "flat") != "flat":
            raise ConfigError(f"reweight.method: unknown method {d['method']!r}; only 'flat'")
        vars_ = d.get("vars", list(cls.vars))
        if not isinstance(vars_, (list, tuple)) or len(vars_) != 2:
            raise ConfigError("reweight.vars: expected two per-jet columns")
        vars_ = tuple(known_column(v, "reweight.vars", per_particle=False) for v in vars_)
        bins = d.get("bins")
        if bins is None and vars_ == cls.vars:
            edges = cls.bins  # one bin each: harmless default for a disabled section
        else:
            check_keys(bins, set(vars_), "reweight.bins", set(vars_))
            edges = tuple(_edges(bins[v], f"reweight.bins.{v}") for v in vars_)
        groups = d.get("groups", "label")
        if isinstance(groups, str):
            if groups not in GROUP_MODES:
                raise ConfigError(f"reweight.groups: unknown grouping {groups!r} "
                                  f"(expected one of {', '.join(GROUP_MODES)} or a mapping)")
        else:
            check_keys(groups, set(groups), "reweight.groups")
            groups = tuple((str(k), tuple(str(p) for p in v)) for k, v in groups.items())
        cw = d.get("class_weights") or {}
        check_keys(cw, set(cw), "reweight.class_weights")
        cw = tuple((str(k), number(v, f"reweight.class_weights.{k}")) for k, v in cw.items())
        max_jets = d.get("max_jets", cls.max_jets)
        if not isinstance(max_jets, int) or max_jets < 1:
            raise ConfigError(f"reweight.max_jets: expected a positive integer, got {max_jets!r}")
        mode = d.get("mode", cls.mode)
        if mode not in ("sample", "loss"):
            raise ConfigError(f"reweight.mode: expected 'sample' or 'loss', got {mode!r}")
        max_resample = d.get("max_resample", cls.max_resample)
        if not isinstance(max_resample, int) or isinstance(max_resample, bool) \
                or max_resample < 1:
            raise ConfigError("reweight.max_resample: expected a positive integer, got "
                              f"{max_resample!r}")
        return cls(bool(d.get("enabled", False)), "flat", vars_, edges, groups, cw,
                   number(d.get("threshold", cls.threshold), "reweight.threshold"), max_jets,
                   bool(d.get("discard_under_overflow", True)), mode, max_resample)

    def to_dict(self) -> dict:
        groups = self.groups if isinstance(self.groups, str) else \
            {k: list(v) for k, v in self.groups}
        return {"enabled": self.enabled, "method": self.method, "vars": list(self.vars),
                "bins": {v: list(e) for v, e in zip(self.vars, self.bins)}, "groups": groups,
                "class_weights": dict(self.class_weights), "threshold": self.threshold,
                "max_jets": self.max_jets, "discard_under_overflow": self.discard_under_overflow,
                "mode": self.mode, "max_resample": self.max_resample}
