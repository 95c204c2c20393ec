"""Tagging discriminants built from multi-class softmax scores, and the built-in set
(docs/design.md).

    D = Σ_{a∈A} w_a·g_a / (Σ_{a∈A} w_a·g_a + Σ_{b∈B} g_b)

with g the class probabilities, A the signal classes and B the background classes. Built-ins are
defined **by label name** and resolved to column indices against the label list of the model, so
they survive any reordering or sub-setting of the classes.

JetClass-II (188 labels, :data:`jetfm.labels.LABEL_NAMES`); the background B is always all 27
``QCD_*`` labels:

* ``X<suffix>_vs_QCD`` — one per Res2P label, signal = that single label, e.g. ``Xbb_vs_QCD``
  (X_bb), ``Xcc_vs_QCD`` (X_cc), ``Xtauhtauh_vs_QCD`` (X_tauhtauh): 15 discriminants.
* ``Res2P_vs_QCD`` — signal = all 15 ``X_*`` labels.
* ``Res34P_vs_QCD`` — signal = all 146 ``X_YY_*`` labels.
* ``Res34P_4q_vs_QCD`` — "triboson-like" 4-prong: ``X_YY_*`` labels made of exactly four quark
  tokens (b, c, s, q; no gluon, no lepton), e.g. X_YY_bbbb, X_YY_qqqq, X_YY_bcsq: 22 labels.
* ``Res34P_3q_vs_QCD`` — 3-prong: ``X_YY_*`` labels made of exactly three quark tokens, e.g.
  X_YY_bbq, X_YY_qqq, X_YY_csq: 20 labels.
* ``Res34P_qqlv_vs_QCD`` — semi-leptonic (WW → qq'ℓν-like): ``X_YY_*`` labels containing a
  neutrino token ``v`` (a hadronic pair + e/μ/τ + ν): 30 labels.

JetClass (10 labels, :data:`jetfm.data.root.JETCLASS_LABELS`), background = ``label_QCD``:
``Xbb_vs_QCD`` (label_Hbb), ``Xcc_vs_QCD`` (label_Hcc), ``Xgg_vs_QCD`` (label_Hgg) — named like
their JetClass-II counterparts — then ``H4q_vs_QCD``, ``Hqql_vs_QCD``, ``Zqq_vs_QCD``,
``Wqq_vs_QCD``, ``Tbqq_vs_QCD``, ``Tbl_vs_QCD``, and ``Res2P_vs_QCD`` / ``Res34P_vs_QCD`` from
:data:`jetfm.data.root.JETCLASS_FAMILIES`.

A discriminant is *leptonic* (rejection also quoted at ε_S = 99 %) when every signal label
contains a lepton: a token e, m, taue, taum or tauh for JetClass-II; label_Hqql and label_Tbl
(H → WW* → qqℓν, t → bℓν) for JetClass.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jetfm import labels as L
from jetfm.metrics.core import InvalidScoresError, as_index_list, check_probs

__all__ = [
    "Discriminant", "discriminant", "builtin_discriminants", "jetclass2_builtins",
    "jetclass_builtins", "label_set_of", "LEPTON_TOKENS",
]

LEPTON_TOKENS = frozenset({"e", "m", "taue", "taum", "tauh"})
_QUARK_TOKENS = frozenset({"b", "c", "s", "q"})
_JETCLASS_LEPTONIC = frozenset({"label_Hqql", "label_Tbl"})
# JetClass names whose discriminant shares the JetClass-II name (same physics signal).
_JETCLASS_ALIASES = {"label_Hbb": "Xbb", "label_Hcc": "Xcc", "label_Hgg": "Xgg"}


def discriminant(probs, signal_labels: Sequence[int], background_labels: Sequence[int],
                 weights: Sequence[float] | None = None) -> np.ndarray:
    """D per jet (see module docstring) from (N, C) softmax ``probs`` and class indices.

    ``weights`` (one per signal class, default 1) re-weight the signal classes, e.g. by their
    expected cross-section. Where both sums vanish (all scores underflowed) D = 0.5: the jet is
    classified as neither, so it carries no preference."""
    p = check_probs(probs)
    sig = as_index_list(signal_labels, p.shape[1], "signal_labels")
    bkg = as_index_list(background_labels, p.shape[1], "background_labels")
    if np.intersect1d(sig, bkg).size:
        raise InvalidScoresError(
            f"signal and background share classes {np.intersect1d(sig, bkg).tolist()}")
    w = np.ones(len(sig)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != sig.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidScoresError(
            f"weights must be {len(sig)} finite non-negative numbers, one per signal class")
    num = p[:, sig] @ w
    den = num + p[:, bkg].sum(axis=1)
    return np.divide(num, den, out=np.full(len(p), 0.5), where=den > 0)


@dataclass(frozen=True)
class Discriminant:
    """A named discriminant defined by label names; ``group`` picks the ROC figure it goes in."""
    name: str
    signal: tuple[str, ...]
    background: tuple[str, ...]
    leptonic: bool = False
    group: str = "groups"
    weights: tuple[float, ...] | None = None

    def indices(self, label_names: Sequence[str]) -> tuple[list[int], list[int]]:
        """Column indices of the signal and background labels in ``label_names``."""
        pos = {n: i for i, n in enumerate(label_names)}
        missing = [n for n in self.signal + self.background if n not in pos]
        if missing:
            raise KeyError(f"{self.name}: labels {missing} not in the label list")
        return [pos[n] for n in self.signal], [pos[n] for n in self.background]

    def restrict(self, label_names: Sequence[str]) -> "Discriminant | None":
        """The same discriminant over the labels present in ``label_names``; None if the signal
        or the background would be empty."""
        present = set(label_names)
        keep = [i for i, n in enumerate(self.signal) if n in present]
        bkg = tuple(n for n in self.background if n in present)
        if not keep or not bkg:
            return None
        w = None if self.weights is None else tuple(self.weights[i] for i in keep)
        return Discriminant(self.name, tuple(self.signal[i] for i in keep), bkg,
                            self.leptonic, self.group, w)

    def __call__(self, probs, label_names: Sequence[str]) -> np.ndarray:
        sig, bkg = self.indices(label_names)
        return discriminant(probs, sig, bkg, self.weights)


def _names(family: str) -> list[str]:
    return [L.LABEL_NAMES[i] for i in L.FAMILIES[family]]


def _is_leptonic(label: int) -> bool:
    return bool(LEPTON_TOKENS.intersection(L.label_tokens(label)))


def jetclass2_builtins() -> list[Discriminant]:
    """Built-ins for the 188 JetClass-II labels (see the module docstring for the contents)."""
    qcd = tuple(_names("qcd"))
    out = []
    for i in L.FAMILIES["res2p"]:
        name = L.LABEL_NAMES[i]
        lep = _is_leptonic(i)
        out.append(Discriminant(f"X{name[len(L.RES2P_PREFIX):]}_vs_QCD", (name,), qcd, lep,
                                "res2p_leptonic" if lep else "res2p_hadronic"))
    res34p = list(L.FAMILIES["res34p"])

    def select(pred) -> tuple[str, ...]:
        return tuple(L.LABEL_NAMES[i] for i in res34p if pred(L.label_tokens(i)))

    n_quarks = lambda toks, n: len(toks) == n and set(toks) <= _QUARK_TOKENS  # noqa: E731
    out += [
        Discriminant("Res2P_vs_QCD", tuple(_names("res2p")), qcd),
        Discriminant("Res34P_vs_QCD", tuple(_names("res34p")), qcd),
        Discriminant("Res34P_4q_vs_QCD", select(lambda t: n_quarks(t, 4)), qcd),
        Discriminant("Res34P_3q_vs_QCD", select(lambda t: n_quarks(t, 3)), qcd),
        Discriminant("Res34P_qqlv_vs_QCD", select(lambda t: "v" in t), qcd, leptonic=True),
    ]
    return out


def jetclass_builtins() -> list[Discriminant]:
    """Built-ins for the 10 JetClass labels: each signal class vs label_QCD, plus the families."""
    from jetfm.data.label_spaces import JETCLASS_FAMILIES, JETCLASS_LABELS

    qcd = ("label_QCD",)
    out = []
    for name in JETCLASS_LABELS:
        if name in qcd:
            continue
        short = _JETCLASS_ALIASES.get(name, name[len("label_"):])
        out.append(Discriminant(f"{short}_vs_QCD", (name,), qcd, name in _JETCLASS_LEPTONIC,
                                "jetclass"))
    for fam, title in (("res2p", "Res2P"), ("res34p", "Res34P")):
        sig = tuple(JETCLASS_LABELS[i] for i in JETCLASS_FAMILIES[fam])
        out.append(Discriminant(f"{title}_vs_QCD", sig, qcd,
                                all(n in _JETCLASS_LEPTONIC for n in sig)))
    return out


def label_set_of(label_names: Sequence[str]) -> str:
    """``"jetclass2"`` or ``"jetclass"`` when every name belongs to that label set (any order,
    any subset), else ``"custom"``."""
    names = set(label_names)
    if names and names <= set(L.LABEL_NAMES):
        return "jetclass2"
    if names and all(re.fullmatch(r"label_\w+", n) for n in names):
        from jetfm.data.label_spaces import JETCLASS_LABELS
        if names <= set(JETCLASS_LABELS):
            return "jetclass"
    return "custom"


def builtin_discriminants(label_names: Sequence[str]) -> list[Discriminant]:
    """The built-ins that apply to a model's label list, restricted to the labels it has.

    A built-in is kept if at least one of its signal and one of its background labels are
    present; unknown label sets (e.g. a binary transfer task) get none."""
    if len(set(label_names)) != len(label_names):
        raise InvalidScoresError("label_names has duplicates")
    kind = label_set_of(label_names)
    if kind == "custom":
        return []
    full = jetclass2_builtins() if kind == "jetclass2" else jetclass_builtins()
    return [d for d in (b.restrict(label_names) for b in full) if d is not None]


def safe_name(name: str) -> str:
    """A file-name-safe version of a discriminant name (for ``roc_<name>.png``)."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)
