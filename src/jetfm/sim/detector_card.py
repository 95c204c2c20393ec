"""Detector cards: every number of the CMS-like detector, read from one YAML file.

The built-in card `cms` (`jetfm/sim/cards/cms.yaml`, shipped with the package) holds the
parameters of the Delphes CMS card used for JetClass-II. A user's card is a copy of it with
edits. :func:`load_card` turns a card into a frozen :class:`DetectorConfig`; a missing or
unknown key, a value of the wrong type or an impossible value is one :class:`ConfigError`
naming the card and the key, raised before any event is generated.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import get_type_hints

import yaml

from ..errors import ConfigError

# Tables keep the card's row layout as tuples (hashable, picklable to worker processes):
# efficiency rows (abseta_max, pT lower edges, one efficiency per edge),
# resolution rows (abseta_max, a, b) with σ(pT)/pT = sqrt(a² + (b·pT)²),
# impact-parameter rows (abseta_max, n+1 pT edges, n σ values in mm).
EffTable = tuple[tuple[float, tuple[float, ...], tuple[float, ...]], ...]
ResTable = tuple[tuple[float, float, float], ...]
IpTable = tuple[tuple[float, tuple[float, ...], tuple[float, ...]], ...]

TRACK_RESCALING_MODES = ("none", "calo", "combine")
BUILTIN_CARDS = ("cms",)
_LIST_ROW_KEYS = ("pt_edges", "efficiency", "sigma_mm")   # row entries that are lists


def _table(*row_keys: str):
    """A table field: a list of mappings with exactly `row_keys` in the card."""
    return field(metadata={"row": row_keys})


@dataclass(frozen=True)
class DetectorConfig:
    """The detector; field names are the card's keys (see `cards/cms.yaml` for meanings)."""
    # solenoid and acceptance
    b_field: float
    calo_radius: float
    tracker_half_length: float
    tracker_eta_max: float
    calo_eta_max: float
    # tracking efficiency and momentum resolution
    hadron_track_eff: EffTable = _table("abseta_max", "pt_edges", "efficiency")
    electron_track_eff: EffTable = _table("abseta_max", "pt_edges", "efficiency")
    muon_track_eff: EffTable = _table("abseta_max", "pt_edges", "efficiency")
    muon_eff_falloff_pt: float
    muon_eff_falloff_slope: float
    hadron_pt_res: ResTable = _table("abseta_max", "a", "b")
    electron_pt_res: ResTable = _table("abseta_max", "a", "b")
    muon_pt_res: ResTable = _table("abseta_max", "a", "b")
    # calorimeters
    ecal_deta: float
    ecal_dphi_deg: float
    hcal_deta: float
    hcal_dphi_deg: float
    em_pids: tuple[int, ...]
    split_pids: tuple[int, ...]
    split_ecal_fraction: float
    ecal_constant: float
    ecal_stochastic: float
    ecal_noise: float
    ecal_barrel_eta: float
    ecal_barrel_eta_coef: float
    ecal_endcap_eta: float
    ecal_endcap_shape: tuple[float, float, float]
    ecal_forward_constant: float
    ecal_forward_stochastic: float
    hcal_constant: float
    hcal_stochastic: float
    ecal_e_min: float
    hcal_e_min: float
    ecal_significance_min: float
    hcal_significance_min: float
    # particle flow
    track_rescaling: str
    # pileup mitigation (RunPUPPI), used when pileup is overlaid
    puppi_cone: float
    puppi_min_weight: float
    puppi_neutral_min_pt: float
    puppi_neutral_pt_slope: float
    # impact parameters
    ip_d0_resolution: IpTable = _table("abseta_max", "pt_edges", "sigma_mm")
    ip_dz_resolution: IpTable = _table("abseta_max", "pt_edges", "sigma_mm")

    def __post_init__(self) -> None:
        _check_physics(self)

    def replace(self, **changes) -> "DetectorConfig":
        """A copy with some values changed (validated like a card)."""
        return dataclasses.replace(self, **changes)

    def to_card(self) -> dict:
        """The card as plain data (what `load_card` reads back to an equal config)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if "row" in f.metadata:
                value = [{k: list(v) if k in _LIST_ROW_KEYS else v
                          for k, v in zip(f.metadata["row"], row)} for row in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def _check_physics(c: DetectorConfig) -> None:
    for name in ("b_field", "calo_radius", "tracker_half_length", "tracker_eta_max", "calo_eta_max", "ecal_deta",
                 "ecal_dphi_deg", "hcal_deta", "hcal_dphi_deg", "ecal_barrel_eta",
                 "ecal_endcap_eta", "muon_eff_falloff_pt"):
        _require(getattr(c, name) > 0, name, "must be > 0", getattr(c, name))
    for name in ("ecal_dphi_deg", "hcal_dphi_deg"):
        n = 360.0 / getattr(c, name)
        _require(abs(n - round(n)) < 1e-9, name, "must divide 360 degrees", getattr(c, name))
    for name in ("ecal_e_min", "hcal_e_min", "ecal_significance_min", "hcal_significance_min",
                 "ecal_constant", "ecal_stochastic", "ecal_noise", "ecal_barrel_eta_coef",
                 "ecal_forward_constant", "ecal_forward_stochastic", "hcal_constant",
                 "hcal_stochastic", "muon_eff_falloff_slope"):
        _require(getattr(c, name) >= 0, name, "must be >= 0", getattr(c, name))
    _require(c.ecal_barrel_eta < c.ecal_endcap_eta, "ecal_endcap_eta",
             "must be larger than ecal_barrel_eta", c.ecal_endcap_eta)
    _require(c.ecal_endcap_shape[0] >= 0 and c.ecal_endcap_shape[1] >= 0, "ecal_endcap_shape",
             "p0 and p1 must be >= 0 (a resolution factor)", list(c.ecal_endcap_shape))
    _require(0.0 <= c.split_ecal_fraction <= 1.0, "split_ecal_fraction", "must be in [0, 1]",
             c.split_ecal_fraction)
    _require(0.0 < c.puppi_cone <= 1.5, "puppi_cone", "must be in (0, 1.5]", c.puppi_cone)
    _require(0.0 <= c.puppi_min_weight <= 1.0, "puppi_min_weight", "must be in [0, 1]",
             c.puppi_min_weight)
    for name in ("puppi_neutral_min_pt", "puppi_neutral_pt_slope"):
        _require(getattr(c, name) >= 0, name, "must be >= 0", getattr(c, name))
    _require(c.track_rescaling in TRACK_RESCALING_MODES, "track_rescaling",
             f"must be one of {list(TRACK_RESCALING_MODES)}", c.track_rescaling)
    both = set(c.em_pids) & set(c.split_pids)
    _require(not both, "split_pids", "must not repeat em_pids", sorted(both))
    for name in ("hadron_track_eff", "electron_track_eff", "muon_track_eff"):
        table = getattr(c, name)
        _check_edges(name + ".abseta_max", [r[0] for r in table])
        for i, (_, edges, effs) in enumerate(table):
            _check_edges(f"{name}[{i}].pt_edges", list(edges))
            _require(len(effs) == len(edges), f"{name}[{i}].efficiency",
                     "needs one value per pT edge", list(effs))
            _require(all(0.0 <= x <= 1.0 for x in effs), f"{name}[{i}].efficiency",
                     "values must be in [0, 1]", list(effs))
    for name in ("hadron_pt_res", "electron_pt_res", "muon_pt_res"):
        table = getattr(c, name)
        _check_edges(name + ".abseta_max", [r[0] for r in table])
        for i, (_, a, b) in enumerate(table):
            _require(a >= 0 and b >= 0, f"{name}[{i}]", "resolution terms a, b must be >= 0",
                     [a, b])
    for name in ("ip_d0_resolution", "ip_dz_resolution"):
        table = getattr(c, name)
        _check_edges(name + ".abseta_max", [r[0] for r in table])
        for i, (_, edges, sigma) in enumerate(table):
            _check_edges(f"{name}[{i}].pt_edges", list(edges))
            _require(len(sigma) == len(edges) - 1, f"{name}[{i}].sigma_mm",
                     "needs one value per pT bin (len(pt_edges) - 1)", len(sigma))
            _require(all(0 < s < math.inf for s in sigma), f"{name}[{i}].sigma_mm",
                     "values must be finite and > 0", list(sigma))


def _require(ok: bool, key: str, what: str, value) -> None:
    if not ok:
        raise ConfigError(f"{key} {what}, got {value!r}")


def _check_edges(key: str, edges: list[float]) -> None:
    _require(bool(edges) and all(b > a for a, b in zip(edges, edges[1:])), key,
             "must be non-empty and increasing", edges)


# ---------------------------------------------------------------------------------------------
# reading a card: structure and types (physics checks run in DetectorConfig.__post_init__)


def _number(key: str, v, allow_inf: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{key} must be a number, got {type(v).__name__} {v!r}")
    v = float(v)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ConfigError(f"{key} must be a finite number, got {v!r}")
    return v


def _sequence(key: str, v, item, length: int | None = None) -> tuple:
    if not isinstance(v, list):
        raise ConfigError(f"{key} must be a list, got {type(v).__name__} {v!r}")
    if length is not None and len(v) != length:
        raise ConfigError(f"{key} must have {length} entries, got {len(v)}")
    return tuple(item(f"{key}[{i}]", x) for i, x in enumerate(v))


def _integer(key: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{key} must be an integer, got {type(v).__name__} {v!r}")
    return v


def _row(key: str, v, row_keys: tuple[str, ...]) -> tuple:
    if not isinstance(v, dict):
        raise ConfigError(f"{key} must be a mapping with keys {list(row_keys)}, got {v!r}")
    _same_keys(key + ".", v, row_keys)
    # the last pT edge of a bin table may be .inf (open last bin)
    return tuple(_sequence(f"{key}.{k}", v[k], lambda kk, x: _number(kk, x, allow_inf=True))
                 if k in _LIST_ROW_KEYS else _number(f"{key}.{k}", v[k]) for k in row_keys)


def _same_keys(prefix: str, got: dict, expected) -> None:
    unknown = [k for k in got if k not in expected]
    if unknown:
        raise ConfigError(f"unknown key {prefix}{unknown[0]} (expected: {', '.join(expected)})")
    missing = [k for k in expected if k not in got]
    if missing:
        raise ConfigError(f"missing key {prefix}{missing[0]}")


def _convert(f: dataclasses.Field, typ, v):
    if "row" in f.metadata:
        return _sequence(f.name, v, lambda k, x: _row(k, x, f.metadata["row"]))
    if typ is float:
        return _number(f.name, v)
    if typ is str:
        if not isinstance(v, str):
            raise ConfigError(f"{f.name} must be a string, got {type(v).__name__} {v!r}")
        return v
    if typ == tuple[int, ...]:
        return _sequence(f.name, v, _integer)
    if typ == tuple[float, float, float]:
        return _sequence(f.name, v, _number, length=3)
    raise TypeError(f"DetectorConfig.{f.name}: no card reader for {typ}")   # a jetfm bug


def config_from_card(card) -> DetectorConfig:
    """DetectorConfig from a parsed card (mapping); ConfigError names the offending key."""
    if not isinstance(card, dict):
        raise ConfigError(f"a detector card must be a mapping of keys to values, got "
                          f"{type(card).__name__}")
    fields = dataclasses.fields(DetectorConfig)
    _same_keys("", card, [f.name for f in fields])
    hints = get_type_hints(DetectorConfig)
    return DetectorConfig(**{f.name: _convert(f, hints[f.name], card[f.name]) for f in fields})


def read_card_text(source: str | Path) -> tuple[str, str]:
    """(text, where) for a built-in card name or a YAML file path."""
    s = str(source)
    if s in BUILTIN_CARDS:
        text = resources.files("jetfm.sim").joinpath("cards", f"{s}.yaml").read_text()
        return text, f"built-in card {s!r}"
    path = Path(s)
    if not path.is_file():
        raise ConfigError(f"--detector-card {s}: no such file (built-in cards: "
                          f"{', '.join(BUILTIN_CARDS)})")
    try:
        return path.read_text(), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"detector card {path}: cannot read it ({exc})") from None


def load_card(source: str | Path = "cms") -> DetectorConfig:
    """Read and validate a detector card: a built-in name (`cms`) or a YAML file."""
    text, where = read_card_text(source)
    try:
        card = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"detector card {where}: not valid YAML ({exc})".replace("\n", " "))
    try:
        return config_from_card(card)
    except ConfigError as exc:
        raise ConfigError(f"detector card {where}: {exc}") from None


@lru_cache(maxsize=1)
def default_detector() -> DetectorConfig:
    """The built-in CMS-like card (JetClass-II's Delphes CMS card)."""
    return load_card("cms")
