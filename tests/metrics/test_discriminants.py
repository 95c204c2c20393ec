"""The discriminant formula and the label-name based built-ins."""
import numpy as np
import pytest

from jetfm import labels as L
from jetfm.data.root import JETCLASS_LABELS
from jetfm.metrics import (
    InvalidScoresError, builtin_discriminants, discriminant, jetclass2_builtins, label_set_of,
)

PROBS = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]])


def test_formula_on_hand_made_probs():
    np.testing.assert_allclose(discriminant(PROBS, [0], [1]), [0.625, 0.5, 0.25])
    # Two signal classes with w = (1, 0.5): (g0 + 0.5 g2) / (g0 + 0.5 g2 + g1).
    np.testing.assert_allclose(discriminant(PROBS, [0, 2], [1], weights=[1.0, 0.5]),
                               [0.6 / 0.9, 0.5 / 0.6, 0.3 / 0.9])
    # Two background classes are summed.
    np.testing.assert_allclose(discriminant(PROBS, [0], [1, 2]), [0.5, 0.1, 0.2])


def test_all_zero_scores_give_one_half_and_bad_inputs_raise():
    p = np.array([[0.0, 0.0, 1.0]])
    assert discriminant(p, [0], [1])[0] == 0.5
    with pytest.raises(InvalidScoresError, match="share"):
        discriminant(PROBS, [0, 1], [1])
    with pytest.raises(InvalidScoresError, match="outside"):
        discriminant(PROBS, [3], [1])
    with pytest.raises(InvalidScoresError, match="weights"):
        discriminant(PROBS, [0], [1], weights=[1.0, 2.0])
    with pytest.raises(InvalidScoresError, match="sum to 1"):
        discriminant(PROBS * 2, [0], [1])


def _by_name(discs):
    return {d.name: d for d in discs}


def test_jetclass2_builtins_resolve_to_the_right_indices():
    b = _by_name(builtin_discriminants(L.LABEL_NAMES))
    qcd = list(L.FAMILIES["qcd"])
    sig, bkg = b["Xbb_vs_QCD"].indices(L.LABEL_NAMES)
    assert sig == [L.label_index("X_bb")] == [0] and bkg == qcd
    assert b["Xcc_vs_QCD"].indices(L.LABEL_NAMES)[0] == [L.label_index("X_cc")]
    assert b["Res2P_vs_QCD"].indices(L.LABEL_NAMES)[0] == list(L.FAMILIES["res2p"])
    assert b["Res34P_vs_QCD"].indices(L.LABEL_NAMES)[0] == list(L.FAMILIES["res34p"])
    assert len([n for n in b if n.startswith("X") and n.count("_") == 2]) == 15
    # Reordering the model's classes moves the indices with the names.
    shuffled = list(np.random.default_rng(0).permutation(L.LABEL_NAMES))
    sig, bkg = b["Xbb_vs_QCD"].indices(shuffled)
    assert [shuffled[i] for i in sig] == ["X_bb"]
    assert sorted(shuffled[i] for i in bkg) == sorted(L.LABEL_NAMES[i] for i in qcd)


def test_jetclass2_group_contents():
    b = _by_name(jetclass2_builtins())
    four = set(b["Res34P_4q_vs_QCD"].signal)
    three = set(b["Res34P_3q_vs_QCD"].signal)
    assert {"X_YY_bbbb", "X_YY_qqqq", "X_YY_bcsq", "X_YY_qqqb"} <= four
    assert {"X_YY_bbq", "X_YY_qqq", "X_YY_csq"} <= three
    assert not {"X_YY_bbgg", "X_YY_gggg", "X_YY_bbee", "X_YY_ggq"} & (four | three)
    assert (len(four), len(three)) == (22, 20)
    assert all(n.startswith("X_YY_") for n in four | three | set(b["Res34P_qqlv_vs_QCD"].signal))
    assert len(b["Res34P_qqlv_vs_QCD"].signal) == 30


def test_leptonic_flags_follow_the_label_tokens():
    b = _by_name(jetclass2_builtins())
    leptonic = {n for n, d in b.items() if d.leptonic}
    assert leptonic == {"Xee_vs_QCD", "Xmm_vs_QCD", "Xtauhtaue_vs_QCD", "Xtauhtaum_vs_QCD",
                        "Xtauhtauh_vs_QCD", "Res34P_qqlv_vs_QCD"}


def test_jetclass10_builtins():
    assert label_set_of(JETCLASS_LABELS) == "jetclass"
    b = _by_name(builtin_discriminants(JETCLASS_LABELS))
    assert b["Xbb_vs_QCD"].indices(JETCLASS_LABELS) == ([1], [0])       # label_Hbb vs label_QCD
    assert b["Xcc_vs_QCD"].indices(JETCLASS_LABELS) == ([2], [0])
    assert b["Tbqq_vs_QCD"].indices(JETCLASS_LABELS) == ([8], [0])
    assert {n for n, d in b.items() if d.leptonic} == {"Hqql_vs_QCD", "Tbl_vs_QCD"}
    assert set(b["Res2P_vs_QCD"].signal) == {"label_Hbb", "label_Hcc", "label_Hgg", "label_Zqq",
                                             "label_Wqq"}


def test_subsets_and_unknown_label_sets():
    subset = ["label_QCD", "label_Hbb", "label_Tbl"]
    names = {d.name for d in builtin_discriminants(subset)}
    assert names == {"Xbb_vs_QCD", "Tbl_vs_QCD", "Res2P_vs_QCD", "Res34P_vs_QCD"}
    assert builtin_discriminants(["QCD_light", "X_cc"])[0].indices(["QCD_light", "X_cc"]) == (
        [1], [0])
    assert label_set_of(["W+", "QCD"]) == "custom" and builtin_discriminants(["W+", "QCD"]) == []
    # A JetClass-II model without QCD classes has no background: no built-ins.
    assert builtin_discriminants(["X_bb", "X_cc"]) == []
