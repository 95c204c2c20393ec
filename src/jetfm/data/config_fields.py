"""Shared checks of data-config fields: known columns, mapping keys, numbers (each error
names the field)."""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import ConfigError
from ..schema import OUTPUT_SCHEMA, TRUTH_COLUMNS, is_list_type

# Columns a config may name, and whether they are per-particle lists.
KNOWN_COLUMNS: dict[str, bool] = {f.name: is_list_type(f.type)
                                  for f in list(OUTPUT_SCHEMA) + list(TRUTH_COLUMNS)}


def check_keys(d: Any, allowed: set[str], where: str, required: set[str] = frozenset()):
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(d).__name__}")
    for k in d:
        if k not in allowed:
            raise ConfigError(f"{where}: unknown key {k!r} (allowed: {', '.join(sorted(allowed))})")
    for k in required:
        if k not in d:
            raise ConfigError(f"{where}: missing key {k!r}")


def known_column(name: Any, where: str, per_particle: bool | None = None) -> str:
    if not isinstance(name, str) or name not in KNOWN_COLUMNS:
        raise ConfigError(f"{where}: unknown column {name!r}")
    if per_particle is not None and KNOWN_COLUMNS[name] != per_particle:
        kind = "per-particle (list)" if per_particle else "per-jet (scalar)"
        raise ConfigError(f"{where}: column {name!r} is not a {kind} column")
    return name


def number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {v!r}")
    return float(v)
