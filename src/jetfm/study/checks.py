"""The pieces every part of a plan is checked with: each mistake is one line naming the
plan key (`PlanError`, turned into a ConfigError by `parse_plan`)."""
from __future__ import annotations

import re
from pathlib import Path

# options that only a study's own generic settings may take: a strategy's defaults (learning
# rate, optimizer, strategy_options) stay as the registry sets them, so strategies compare fairly
PRETRAIN_OPTIONS = ("preset", "max-steps", "batch-size", "seed", "val-every-steps",
                    "checkpoint-every-steps", "data-config", "reweight", "workers",
                    "accelerator", "devices", "num-nodes", "precision", "compile")
# options the study sets itself, with the plan key that sets them (if any)
_SET_BY_STUDY = {"out": None, "threads": None, "no-progress": None, "data": "data",
                 "shard": None, "num-shards": None, "backbone": "backbones",
                 "task": "task", "mode": "mode", "labels-per-class": "labels",
                 "seeds": "seeds", "representation": "representation", "strategy": "strategy",
                 "config": None, "set": None, "signal": "signal", "background": "background",
                 "inputs": "inputs", "list-tasks": None, "force": None}
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.+-]*"
DATA_NAME = re.compile(rf"{_NAME}(/{_NAME})*")
NAME = re.compile(_NAME)


class PlanError(Exception):
    pass


def fail(where: str, msg: str):
    raise PlanError(f"{where}: {msg}")


def mapping(value, where: str, allowed=None, required=()) -> dict:
    if not isinstance(value, dict):
        fail(where, f"expected a mapping, got {show(value)}")
    for key in value:
        if not isinstance(key, str) or (allowed is not None and key not in allowed):
            known = f"; known: {', '.join(allowed)}" if allowed else ""
            fail(f"{where}.{key}" if where else str(key), f"unknown key{known}")
    for key in required:
        if value.get(key) is None:
            fail(f"{where}.{key}" if where else key, "missing")
    return value


def as_list(value) -> list:
    """A list, or one item as a list of one."""
    return list(value) if isinstance(value, list) else [value]


def strings(value, where: str) -> list[str]:
    items = as_list(value)
    if not items or not all(isinstance(v, str) and v for v in items):
        fail(where, f"expected a name or a list of names, got {show(value)}")
    return items


def show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def command_options(value, where: str, allowed=None) -> dict:
    """Command options: key -> scalar or list of scalars; keys as the command spells its
    options without the dashes (jets-per-file; jets_per_file is read the same)."""
    out = {}
    for key, v in mapping(value or {}, where).items():
        flag = key.replace("_", "-")
        if flag in _SET_BY_STUDY or (allowed is not None and flag not in allowed):
            own = _SET_BY_STUDY.get(flag)
            why = (f"give it as the plan key '{own}'" if own else "the study sets it itself"
                   ) if flag in _SET_BY_STUDY else (
                "a plan sets only the options every strategy shares ("
                + ", ".join(allowed) + "); a strategy's own defaults (learning rate, "
                "optimizer, strategy options) stay as its registry entry sets them")
            fail(f"{where}.{key}", f"not allowed here: {why}")
        items = v if isinstance(v, list) else [v]
        if not items or not all(isinstance(i, (str, int, float, bool)) for i in items):
            fail(f"{where}.{key}", f"expected a value or a list of values, got {show(v)}")
        out[flag] = v
    return out


def relative(value, where: str) -> str:
    if not isinstance(value, str) or not value or value.startswith("/") or \
            ".." in Path(value).parts:
        fail(where, f"expected a path inside the study folder, got {show(value)}")
    return value


__all__ = ["PlanError", "fail", "mapping", "as_list", "strings", "show", "command_options", "relative",
           "NAME", "DATA_NAME", "PRETRAIN_OPTIONS"]
