"""evaluate_scores end to end: files, strict JSON, known values, input validation."""
import json

import matplotlib
import numpy as np
import pytest

from jetfm import labels as L
from jetfm.data.root import JETCLASS_LABELS
from jetfm.errors import DataError
from jetfm.metrics import evaluate_scores


def _softmax_toy(n, c, seed, boost=2.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y] += boost
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


def _strict_load(path):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")
    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def toy188(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval188")
    y, p = _softmax_toy(3000, L.NUM_LABELS, seed=0)
    history = {"train_loss": list(np.linspace(2.0, 1.0, 40)), "val_loss": [1.9, 1.4, 1.2, 1.1],
               "train_acc": list(np.linspace(0.1, 0.5, 40)), "val_acc": [0.2, 0.3, 0.4, 0.45]}
    rc_before = dict(matplotlib.rcParams)
    res = evaluate_scores(y, p, L.LABEL_NAMES, out, history=history)
    return out, res, y, p, rc_before


def test_188_toy_writes_loadable_json_and_pngs(toy188):
    out, res, y, p, rc_before = toy188
    loaded = _strict_load(out / "results.json")
    assert loaded == res
    assert loaded["label_set"] == "jetclass2" and loaded["n_classes"] == 188
    assert loaded["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y))
    for name in ["confusion.png", "history.png", "roc_res2p_hadronic.png",
                 "roc_res2p_leptonic.png", "roc_groups.png", "disc_Xbb_vs_QCD.png",
                 "disc_Res34P_4q_vs_QCD.png"]:
        assert name in loaded["plots"]
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(f.name for f in out.iterdir()) == sorted(loaded["plots"] + ["results.json"])
    assert dict(matplotlib.rcParams) == rc_before          # the mplhep style did not leak


def test_188_toy_contents(toy188):
    _, res, y, _, _ = toy188
    assert len(res["auc_per_class"]) == len(np.unique(y))
    assert res["auc_macro"] == pytest.approx(np.mean(list(res["auc_per_class"].values())))
    xbb = res["discriminants"]["Xbb_vs_QCD"]
    assert xbb["n_sig"] == np.sum(y == 0) and xbb["n_bkg"] == np.sum(y >= 161)
    assert set(xbb["rejection"]) == {"30", "50"}
    assert set(res["discriminants"]["Xtauhtauh_vs_QCD"]["rejection"]) == {"30", "50", "99"}
    for d in res["discriminants"].values():
        assert 0.5 < d["auc"] <= 1.0
        assert d["max_sic"] is None or d["max_sic_eff_b"] > d["sic_eff_b_floor"]
    conf = res["confusion"]
    assert conf["groups"] == ["res2p", "res34p", "qcd"]
    np.testing.assert_allclose(np.sum(conf["matrix"], axis=1), 1.0)
    assert np.sum(conf["counts"]) == len(y)
    assert res["history"]["best"]["val_loss"] == 1.1 and res["history"]["final"]["val_acc"] == 0.45


def test_jetclass10_known_values(tmp_path):
    # Hbb jets are perfectly separated from QCD; Hcc jets score exactly like QCD.
    rng = np.random.default_rng(5)
    n = 400
    y = np.repeat([0, 1, 2], n)
    p = np.full((3 * n, 10), 0.01)
    p[:, 0] = rng.uniform(0.2, 0.4, 3 * n)
    p[y == 1, 0] = 0.01
    p[y == 1, 1] = rng.uniform(0.5, 0.9, n)
    p[y != 1, 2] = rng.uniform(0.1, 0.3, 2 * n)
    p /= p.sum(axis=1, keepdims=True)
    res = evaluate_scores(y, p, JETCLASS_LABELS, tmp_path, plots=False)
    assert res["label_set"] == "jetclass"
    xbb, xcc = res["discriminants"]["Xbb_vs_QCD"], res["discriminants"]["Xcc_vs_QCD"]
    assert xbb["auc"] == 1.0 and xbb["rejection"] == {"30": "inf", "50": "inf"}
    assert xcc["auc"] == pytest.approx(0.5, abs=0.06)
    assert xcc["rejection"]["50"] == pytest.approx(2.0, rel=0.2)
    # No Tbl jets: skipped, not silently scored.
    assert "Tbl_vs_QCD" in res["discriminants_skipped"]
    assert res["confusion"]["groups"] == list(JETCLASS_LABELS)
    assert _strict_load(tmp_path / "results.json")["discriminants"]["Xbb_vs_QCD"]["rejection"][
        "30"] == "inf"
    assert not list(tmp_path.glob(".*"))                        # no temporary files left


@pytest.mark.parametrize("mutate, match", [
    (lambda y, p: (y[:-1], p), "does not match"),
    (lambda y, p: (y, p[:, :-1]), "columns"),
    (lambda y, p: (y, p * 1.5), "sum to 1"),
    (lambda y, p: (y, np.where(np.arange(p.shape[1]) == 0, np.nan, p)), "NaN"),
    (lambda y, p: (y + 10, p), "outside"),
    (lambda y, p: (y.astype(float) + 0.5, p), "integer"),
    (lambda y, p: (y[:, None], p), r"\(N,\)"),
])
def test_invalid_inputs(tmp_path, mutate, match):
    y, p = _softmax_toy(50, 10, seed=1)
    y, p = mutate(y, p)
    with pytest.raises(DataError, match=match):
        evaluate_scores(y, p, JETCLASS_LABELS, tmp_path, plots=False)
    with pytest.raises(ValueError, match=match):
        evaluate_scores(y, p, JETCLASS_LABELS, tmp_path, plots=False)
    assert not (tmp_path / "results.json").exists()


def test_custom_label_set_and_explicit_discriminant(tmp_path):
    from jetfm.metrics import Discriminant
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 500)
    p1 = np.clip(0.5 + 0.3 * (2 * y - 1) + 0.2 * rng.normal(size=500), 0.0, 1.0)
    p = np.stack([1 - p1, p1], axis=1)
    names = ["QCD", "W+"]
    res = evaluate_scores(y, p, names, tmp_path, plots=False)
    assert res["label_set"] == "custom" and res["discriminants"] == {}
    assert res["confusion"]["groups"] == names
    assert res["auc_per_class"]["W+"] == pytest.approx(res["auc_per_class"]["QCD"])
    d = Discriminant("Wp_vs_QCD", ("W+",), ("QCD",))
    res = evaluate_scores(y, p, names, tmp_path, discriminants=[d], plots=False)
    assert res["discriminants"]["Wp_vs_QCD"]["auc"] == pytest.approx(res["auc_per_class"]["W+"])


@pytest.mark.parametrize("history", [{"loss": 1.0}, {"loss": [[1.0, 2.0]]}, [1.0, 2.0]])
def test_invalid_history(tmp_path, history):
    y, p = _softmax_toy(50, 10, seed=1)
    with pytest.raises(DataError, match="history"):
        evaluate_scores(y, p, JETCLASS_LABELS, tmp_path, history=history, plots=False)


def test_console_summary_is_readable():
    from jetfm.evaluate_run import format_results

    text = format_results({"n_jets": 3, "accuracy": 0.5, "auc_macro": 0.7, "discriminants": {
        "Xbb_vs_QCD": {"auc": 0.9, "rejection": {"50": 233.33333, "30": "inf"}},
        "Xcc_vs_QCD": {"auc": 0.6, "rejection": {}}}})
    lines = text.splitlines()
    assert lines[0] == "jets 3  accuracy 0.5000  macro AUC 0.7000"
    assert "233.3" in lines[1] and "233.333" not in lines[1] and lines[1].endswith("inf")
    assert lines[2].split()[-1] == "-"
