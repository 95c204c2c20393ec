"""JetClass-II label list and rule-based look-ups."""
from collections import Counter

import pytest

from jetfm import labels as L


def test_rules_reproduce_the_published_list():
    """The shipped list (a public fact) and the JetClass-II rules agree name by name."""
    assert L.LABEL_NAMES == L.published_label_names() == L.rule_label_names()
    assert L.NUM_LABELS == 188 == len(set(L.LABEL_NAMES))
    assert L.LABEL_NAMES[:3] == ("X_bb", "X_cc", "X_ss")
    assert L.LABEL_NAMES[-1] == "QCD_light"


def test_family_ranges_and_prefixes():
    assert [len(r) for r in L.FAMILIES.values()] == [15, 146, 27]
    for i, name in enumerate(L.LABEL_NAMES):
        fam = L.family_of(i)
        assert i in L.FAMILIES[fam]
        prefix = {"res2p": "X_", "res34p": "X_YY_", "qcd": "QCD_"}[fam]
        assert name.startswith(prefix)
        assert fam == "res34p" or not name.startswith("X_YY_")
        assert L.label_index(name) == i
    with pytest.raises(ValueError):
        L.family_of(188)
    with pytest.raises(KeyError):
        L.label_index("X_YY_nope")


def test_tokenizer_greedy_and_round_trip():
    assert L.tokenize("tauhtaue") == ("tauh", "taue")
    assert L.tokenize("bctauev") == ("b", "c", "taue", "v")
    assert L.tokenize("bctauhv") == ("b", "c", "tauh", "v")
    assert L.tokenize("qqmv") == ("q", "q", "m", "v")
    with pytest.raises(ValueError):
        L.tokenize("bx")
    for i, name in enumerate(L.LABEL_NAMES):
        toks = L.label_tokens(i)
        assert set(toks) <= set(L.TOKENS)
        suffix = name.split("_", 2)[-1] if name.startswith("X_YY_") else name.split("_", 1)[1]
        assert "".join(toks) == ("" if suffix == "light" else suffix)


@pytest.mark.parametrize("family", ["res2p", "res34p", "qcd"])
def test_token_multisets_injective_within_family(family):
    keys = [frozenset(Counter(L.label_tokens(i)).items()) for i in L.FAMILIES[family]]
    assert len(set(keys)) == len(keys)


def test_resonance_label_is_family_restricted_and_order_free():
    assert L.resonance_label("res2p", ["b", "b"]) == L.label_index("X_bb")
    assert L.resonance_label("res2p", ["taue", "tauh"]) == L.label_index("X_tauhtaue")
    assert L.resonance_label("res2p", ["c", "b"]) == L.label_index("X_bc")
    assert L.resonance_label("res34p", ["c", "b", "c", "b"]) == L.label_index("X_YY_bbcc")
    assert L.resonance_label("res34p", ["v", "e", "s", "c"]) == L.label_index("X_YY_csev")
    assert L.resonance_label("res34p", ["b", "c", "tauh", "v"]) == L.label_index("X_YY_bctauhv")
    # Same multiset, different families; and multisets that are no label.
    assert L.resonance_label("res34p", ["b", "b"]) == -1
    assert L.resonance_label("res2p", ["b", "b", "c"]) == -1
    assert L.resonance_label("res2p", ["taue", "taue"]) == -1
    assert L.resonance_label("res34p", ["b", "c", "e"]) == -1        # ν's sibling: no 3-prong ℓν
    assert L.resonance_label("res34p", ["b", "b", "tauh"]) == -1
    assert L.resonance_label("res2p", ["b", "pid6"]) == -1
    with pytest.raises(ValueError):
        L.resonance_label("qcd", ["b"])


@pytest.mark.parametrize("counts, name", [
    ((0, 0, 0), "QCD_light"), ((3, 1, 0), "QCD_bbc"), ((2, 2, 2), "QCD_bbccss"),
    ((1, 0, 0), "QCD_b"), ((0, 0, 1), "QCD_s"), ((0, 5, 1), "QCD_ccs"), ((1, 1, 1), "QCD_bcs"),
])
def test_qcd_buckets(counts, name):
    assert L.LABEL_NAMES[L.qcd_label(*counts)] == name


def test_qcd_label_covers_family():
    got = {L.qcd_label(b, c, s) for b in range(3) for c in range(3) for s in range(3)}
    assert got == set(L.FAMILIES["qcd"])
