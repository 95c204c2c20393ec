"""The 188 JetClass-II jet labels, built from the JetClass-II rules, and rule-based look-ups.

A label name is a family prefix plus the flavour content of the truth particles matched to the
jet: ``X_`` (Res2P, X → two daughters), ``X_YY_`` (Res34P, X → YY, ≥3 matched daughters of the
Ys) and ``QCD_`` (counts of b, c, s partons, each bucketed {≥2, 1, 0}). The suffix is a string
of tokens from :data:`TOKENS`; the label of a jet is found by comparing the *multiset* of its
matched tokens with the multisets of the labels of its family (multisets are unique within a
family but not across families: ``X_bb`` and ``QCD_bb`` are both {b, b}).

:data:`LABEL_NAMES` is the published JetClass-II list, shipped as ``jetfm/jetclass2_labels.txt``
(index = line number − 1). The rules that generate it are spelled out in :func:`_res2p_names`,
:func:`_res34p_names` and :func:`_qcd_names`; :func:`rule_label_names` must reproduce the
published list exactly (checked by the tests), so the look-ups below follow the same rules.
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from importlib import resources
from itertools import combinations, combinations_with_replacement
from typing import Iterable

# Multi-letter tokens come first so that the greedy tokenizer reads "tauhtaue" as two tokens.
TOKENS: tuple[str, ...] = ("tauh", "taue", "taum", "b", "c", "s", "q", "g", "e", "m", "v")

# Decay channels, written as token strings (q = u or d quark, v = neutrino).
_QUARKS = ("b", "c", "s", "q")
_NEUTRAL_QUARK = tuple(f + f for f in _QUARKS)                  # bb cc ss qq
_CHARGED_HAD = ("bc", "cs", "bq", "cq", "sq", "qq")              # H± / W-like → q q̄'
_TAUTAU = ("tauhtaue", "tauhtaum", "tauhtauh")                   # both-leptonic ττ has no label
_NEUTRAL_LEP = ("ee", "mm") + _TAUTAU
_CHARGED_LEP = ("ev", "mv", "tauev", "taumv", "tauhv")           # H± → ℓν, ν named not matched
_SINGLES = ("b", "c", "s", "q", "g", "e", "m")                   # a lone daughter (other out of cone)

RES2P_PREFIX, RES34P_PREFIX, QCD_PREFIX = "X_", "X_YY_", "QCD_"


def tokenize(suffix: str) -> tuple[str, ...]:
    """Split a label suffix ("bctauev") into tokens ("b", "c", "taue", "v"), greedily."""
    out, i = [], 0
    while i < len(suffix):
        for tok in TOKENS:
            if suffix.startswith(tok, i):
                out.append(tok)
                i += len(tok)
                break
        else:
            raise ValueError(f"cannot tokenize {suffix!r} at position {i}")
    return tuple(out)


def _key(tokens: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """Hashable multiset."""
    return tuple(sorted(Counter(tokens).items()))


def _res2p_names() -> list[str]:
    # Quark pairs (neutral X first, then the charged X's new ones), gluons, then leptons.
    quark = list(_NEUTRAL_QUARK) + [c for c in _CHARGED_HAD if c not in _NEUTRAL_QUARK]
    return [RES2P_PREFIX + s for s in quark + ["gg"] + list(_NEUTRAL_LEP)]


def _res34p_names() -> list[str]:
    neutral = list(_NEUTRAL_QUARK) + ["gg"] + list(_NEUTRAL_LEP)
    hadronic = neutral[:5]                                       # bb cc ss qq gg
    names: list[str] = []
    # Y⁰Y⁰ with at least one hadronic Y: the 4-prong pairs (unordered), then the 3-prong
    # "pair + one daughter of the other Y".
    for i, a in enumerate(hadronic):
        names += [a + b for b in neutral[i:]]
        names += [a + s for s in _SINGLES]
    # Leptonic Y⁰ pair + one quark/gluon of the other (hadronic) Y.
    for lep in _NEUTRAL_LEP:
        names += [s + lep for s in _SINGLES[:5]]
    # H⁺H⁻ both hadronic: only multisets not already named above get a new name.
    seen = {_key(tokenize(n)) for n in names}
    new4 = {}
    for a, b in combinations_with_replacement(_CHARGED_HAD, 2):
        k = _key(tokenize(a + b))
        if k not in seen:
            new4[k] = _charged4_name(Counter(tokenize(a + b)))
    names += [new4[k] for k in sorted(new4, key=lambda k: _charged4_order(dict(k)))]
    # ... and their 3-prong versions: only all-different flavours are new.
    names += ["".join(c) for c in combinations(_QUARKS, 3)]
    # H⁺H⁻ with one leptonic: hadronic pair + charged lepton (or τ) + the named neutrino.
    names += [h + lep for lep in _CHARGED_LEP for h in _CHARGED_HAD]
    return [RES34P_PREFIX + n for n in names]


def _charged4_name(cnt: Counter) -> str:
    # The most repeated flavour is written first, the rest in b, c, s, q order.
    top = max(_QUARKS, key=lambda f: (cnt[f], -_QUARKS.index(f)))
    rest = [f for f in _QUARKS if f != top for _ in range(cnt[f])]
    return top * cnt[top] + "".join(rest)


def _charged4_order(cnt: dict[str, int]):
    # Triples before doubles before all-different; then by the repeated flavour, then the rest.
    mult = sorted(cnt.values(), reverse=True)
    top = max(_QUARKS, key=lambda f: (cnt.get(f, 0), -_QUARKS.index(f)))
    rest = [_QUARKS.index(f) for f in _QUARKS if f != top for _ in range(cnt.get(f, 0))]
    return (-mult[0], _QUARKS.index(top), rest)


def _qcd_names() -> list[str]:
    out = []
    for nb in (2, 1, 0):
        for nc in (2, 1, 0):
            for ns in (2, 1, 0):
                out.append(QCD_PREFIX + ("b" * nb + "c" * nc + "s" * ns or "light"))
    return out


def rule_label_names() -> tuple[str, ...]:
    """The 188 names as the JetClass-II rules build them (equal to :data:`LABEL_NAMES`)."""
    return tuple(_res2p_names() + _res34p_names() + _qcd_names())


def published_label_names() -> tuple[str, ...]:
    """The JetClass-II label list shipped with the package."""
    return tuple(resources.files("jetfm").joinpath("jetclass2_labels.txt").read_text().split())


LABEL_NAMES: tuple[str, ...] = published_label_names()
NUM_LABELS = len(LABEL_NAMES)
FAMILIES: dict[str, range] = {
    "res2p": range(0, 15),
    "res34p": range(15, 161),
    "qcd": range(161, 188),
}
assert NUM_LABELS == 188 and sum(len(r) for r in FAMILIES.values()) == NUM_LABELS

_PREFIX = {"res2p": RES2P_PREFIX, "res34p": RES34P_PREFIX, "qcd": QCD_PREFIX}
_INDEX = {n: i for i, n in enumerate(LABEL_NAMES)}


def family_of(label: int) -> str:
    for fam, r in FAMILIES.items():
        if label in r:
            return fam
    raise ValueError(f"label {label} is outside [0, {NUM_LABELS})")


def label_index(name: str) -> int:
    try:
        return _INDEX[name]
    except KeyError:
        raise KeyError(f"unknown JetClass-II label {name!r}") from None


def label_tokens(label: int) -> tuple[str, ...]:
    """Tokens of a label's suffix; QCD_light has none."""
    fam = family_of(label)
    suffix = LABEL_NAMES[label][len(_PREFIX[fam]):]
    return () if suffix == "light" else tokenize(suffix)


@lru_cache(maxsize=None)
def _family_table(family: str) -> dict:
    table = {}
    for i in FAMILIES[family]:
        k = _key(label_tokens(i))
        if k in table:       # a duplicate would make the label of a jet ambiguous
            raise AssertionError(f"{LABEL_NAMES[table[k]]} and {LABEL_NAMES[i]} share tokens")
        table[k] = i
    return table


def resonance_label(family: str, tokens: Iterable[str]) -> int:
    """Label of the family whose suffix is the multiset `tokens`, or −1 (jet dropped)."""
    if family not in ("res2p", "res34p"):
        raise ValueError(f"resonance_label: family must be res2p or res34p, got {family!r}")
    return _family_table(family).get(_key(tokens), -1)


def qcd_label(n_b: int, n_c: int, n_s: int) -> int:
    """QCD label from the numbers of b, c, s partons; each count is bucketed {≥2, 1, 0}."""
    bucket = [2 - min(max(int(n), 0), 2) for n in (n_b, n_c, n_s)]   # 0 ↔ ≥2, 2 ↔ none
    return FAMILIES["qcd"].start + 9 * bucket[0] + 3 * bucket[1] + bucket[2]
