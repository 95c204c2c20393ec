"""Label name patterns and reweighting groups: which labels a config names, and which group
(of Sophon's 30, a family, one per label, or a user's mapping) each label belongs to."""
from __future__ import annotations

import fnmatch
import numpy as np

from ..errors import ConfigError
from ..labels import FAMILIES, LABEL_NAMES, family_of, label_tokens
from .label_spaces import label_families


def resolve_names(patterns, names: tuple[str, ...], where: str) -> tuple[int, ...]:
    """Indices of `names` matched by exact names or fnmatch patterns; each must match."""
    if isinstance(patterns, str) or not isinstance(patterns, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of label names, got {patterns!r}")
    out: list[int] = []
    for p in patterns:
        hits = [i for i, n in enumerate(names) if fnmatch.fnmatchcase(n, str(p))]
        if not hits:
            raise ConfigError(f"{where}: unknown label {p!r}")
        out += [i for i in hits if i not in out]
    return tuple(out)


# Sophon's topology tokens: any quark -> Q, e/mu -> l, leptonic tau -> taul; written in this order.
_TOPO = {"b": "Q", "c": "Q", "s": "Q", "q": "Q", "e": "l", "m": "l", "taue": "taul",
         "taum": "taul"}
_TOPO_ORDER = ("Q", "g", "l", "tauh", "taul", "v")


def _sophon30() -> list[str]:
    out = []
    for i in range(len(LABEL_NAMES)):
        fam = family_of(i)
        if fam == "qcd":
            out.append("QCD")
            continue
        toks = sorted((_TOPO.get(t, t) for t in label_tokens(i)), key=_TOPO_ORDER.index)
        out.append(("X_" if i in FAMILIES["res2p"] else "X_YY_") + "".join(toks))
    return out


def group_of_label(cfg) -> tuple[tuple[str, ...], np.ndarray]:
    """(group names, group index per source label) for `cfg.reweight.groups` (`cfg`: a
    DataConfig; not imported here, config imports this module)."""
    spec, labels = cfg.reweight, cfg.labels
    if labels is None:
        raise ConfigError("reweight: needs labels")
    src = labels.source_names
    mode = spec.groups
    if mode == "label":
        per_label = list(src)
    elif mode == "family":
        fams = label_families("x.root" if labels.space == "jetclass" else "x.parquet")
        per_label = [next(f for f, idx in fams.items() if i in idx) for i in range(len(src))]
    elif mode == "sophon30":
        if labels.space != "jetclass2":
            raise ConfigError("reweight.groups: 'sophon30' needs the jetclass2 label space")
        per_label = _sophon30()
    else:
        per_label = [None] * len(src)
        for name, pats in mode:
            for i in resolve_names(list(pats), src, f"reweight.groups.{name}"):
                if per_label[i] is not None:
                    raise ConfigError(f"reweight.groups.{name}: label {src[i]!r} is already "
                                      f"in group {per_label[i]!r}")
                per_label[i] = name
        if None in per_label:
            raise ConfigError(f"reweight.groups: label {src[per_label.index(None)]!r} "
                              f"belongs to no group")
    names = tuple(dict.fromkeys(per_label))
    for g, _ in spec.class_weights:
        if g not in names:
            raise ConfigError(f"reweight.class_weights: unknown group {g!r}")
    return names, np.array([names.index(g) for g in per_label], np.int64)


__all__ = ["resolve_names", "group_of_label"]
