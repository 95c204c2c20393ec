"""Particle features against their formulas, padding/truncation, errors, and the data config."""
from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch
import yaml

from jetfm.data.config import (DataConfig, load_data_config, save_data_config)
from jetfm.data.features import apply_selection, build_inputs
from jetfm.errors import ConfigError, DataError

torch.set_num_threads(1)

JET = {"jet_pt": [800.0, 400.0], "jet_energy": [1000.0, 900.0], "jet_sdmass": [90.0, 30.0],
       "jet_label": [3, 170]}
PART = {  # jet 0: three particles, jet 1: one
    "part_px": [[100.0, -30.0, 2.0], [50.0]], "part_py": [[20.0, 40.0, -1.0], [-10.0]],
    "part_pz": [[50.0, 10.0, 0.5], [300.0]], "part_energy": [[113.0, 52.0, 2.5], [305.0]],
    "part_deta": [[0.01, -0.2, 0.5], [0.05]], "part_dphi": [[-0.02, 0.3, 0.4], [0.0]],
    "part_charge": [[1, -1, 0], [0]], "part_d0val": [[0.1, -2.0, 0.0], [0.0]],
    "part_d0err": [[0.05, 1.7, 0.0], [0.0]], "part_dzval": [[-0.3, 0.8, 0.0], [0.0]],
    "part_dzerr": [[0.2, 0.02, 0.0], [0.0]],
    "part_isChargedHadron": [[True, False, False], [False]],
    "part_isNeutralHadron": [[False, False, False], [True]],
    "part_isPhoton": [[False, False, True], [False]],
    "part_isElectron": [[False, True, False], [False]],
    "part_isMuon": [[False, False, False], [False]],
}


def hand_batch(**override) -> ak.Array:
    return ak.Array({**JET, **PART, **override})


def expected_features(jet: int) -> np.ndarray:
    """The 17 Sophon features of one jet, (17, n), by hand in float64."""
    g = {k: np.array(v[jet], float) for k, v in PART.items()}
    jpt, je = JET["jet_pt"][jet], JET["jet_energy"][jet]
    pt = np.hypot(g["part_px"], g["part_py"])
    clip5 = lambda a: np.clip(a, -5, 5)  # noqa: E731
    rows = [
        clip5((np.log(np.hypot(g["part_px"] * 500 / jpt, g["part_py"] * 500 / jpt)) - 1.7) * 0.7),
        clip5((np.log(g["part_energy"] * 500 / jpt) - 2.0) * 0.7),
        clip5((np.log(pt / jpt) + 4.7) * 0.7),
        clip5((np.log(g["part_energy"] / je) + 4.7) * 0.7),
        clip5((np.hypot(g["part_deta"], g["part_dphi"]) - 0.2) * 4.0),
        g["part_charge"], g["part_isChargedHadron"], g["part_isNeutralHadron"],
        g["part_isPhoton"], g["part_isElectron"], g["part_isMuon"],
        np.tanh(g["part_d0val"]), np.clip(g["part_d0err"], 0, 1),
        np.tanh(g["part_dzval"]), np.clip(g["part_dzerr"], 0, 1),
        g["part_deta"], g["part_dphi"],
    ]
    return np.stack(rows)


def with_changes(name="jetclass2", **changes) -> DataConfig:
    d = load_data_config(name).to_dict()
    for key, val in changes.items():
        d[key] = val
    return load_data_config(d)


@pytest.fixture(scope="module")
def cfg():
    return load_data_config("jetclass2")


def test_feature_order_is_sophons(cfg):
    assert cfg.feature_names == (
        "part_pt_scale_log", "part_e_scale_log", "part_logptrel", "part_logerel",
        "part_deltaR", "part_charge", "part_isChargedHadron", "part_isNeutralHadron",
        "part_isPhoton", "part_isElectron", "part_isMuon", "part_d0", "part_d0err", "part_dz",
        "part_dzerr", "part_deta", "part_dphi")
    assert cfg.max_particles == 128 and cfg.labels.num_classes == 188


def test_features_match_formulas(cfg):
    out = build_inputs(hand_batch(), cfg)
    assert out["x"].shape == (2, 17, 3) and out["x"].dtype == np.float32
    assert out["v"].shape == (2, 4, 3) and out["v"].dtype == np.float32
    assert out["mask"].shape == (2, 1, 3) and out["mask"].dtype == bool
    np.testing.assert_array_equal(out["mask"][:, 0], [[1, 1, 1], [1, 0, 0]])
    np.testing.assert_allclose(out["x"][0], expected_features(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["x"][1, :, :1], expected_features(1), rtol=1e-5, atol=1e-5)
    assert not out["x"][1, :, 1:].any() and not out["v"][1, :, 1:].any()  # padding is zero
    # 4-vectors scaled to jet pT = 500 GeV, as Sophon's pf_vectors
    vec0 = np.array([PART[c][0] for c in ("part_px", "part_py", "part_pz", "part_energy")])
    np.testing.assert_allclose(out["v"][0], vec0 * 500 / 800, rtol=1e-6)
    assert out["label"].dtype == np.int64 and out["label"].tolist() == [3, 170]


def test_raw_vectors_and_unscaled_logs_in_jetclass_config():
    cfg = with_changes("jetclass")
    batch = hand_batch(jet_label=[0, 9])
    out = build_inputs(batch, cfg)
    np.testing.assert_allclose(out["v"][1, :, 0], [50, -10, 300, 305], rtol=1e-6)
    pt = np.hypot(100.0, 20.0)
    np.testing.assert_allclose(out["x"][0, 0, 0], (np.log(pt) - 1.7) * 0.7, rtol=1e-5)


def test_clipping(cfg):
    batch = hand_batch(part_px=[[1e-6, -30.0, 2.0], [5e4]], part_py=[[0.0, 40.0, -1.0], [0.0]],
                       part_energy=[[1e-5, 52.0, 2.5], [6e4]], part_deta=[[3.0, -0.2, 0.5], [0.05]],
                       part_d0err=[[-0.5, 7.0, 0.3], [0.0]])
    x = build_inputs(batch, cfg)["x"]
    assert x[0, 0, 0] == -5 and x[0, 1, 0] == -5      # tiny pT / E: log clipped at -5
    assert x[1, 0, 0] == 5 and x[1, 1, 0] == 5        # huge pT / E: clipped at +5
    assert x[0, 4, 0] == 5                            # ΔR = 3 -> (3 - 0.2) * 4 clipped
    assert x[0, 12].tolist() == [0.0, 1.0, pytest.approx(0.3)]  # d0err clipped to [0, 1]
    assert np.all(np.abs(x[:, :5]) <= 5)


def test_padding_truncation_keeps_leading_pt(cfg):
    small = with_changes(max_particles=4)
    pts = [3.0, 50.0, 1.0, 20.0, 70.0, 5.0]  # deliberately not pT-sorted
    n = len(pts)
    batch = ak.Array({**{k: [v[0], v[1]] for k, v in JET.items()},
                      **{k: [[v[0][0]] * n, [v[0][0]] * 2] for k, v in PART.items()}})
    batch = ak.with_field(batch, [pts, [4.0, 2.0]], "part_px")
    batch = ak.with_field(batch, [[0.0] * n, [0.0] * 2], "part_py")
    batch = ak.with_field(batch, [[p + 1 for p in pts], [5.0, 3.0]], "part_energy")
    out = build_inputs(batch, small)
    assert out["x"].shape == (2, 17, 4)
    np.testing.assert_array_equal(out["mask"][:, 0], [[1, 1, 1, 1], [1, 1, 0, 0]])
    # truncated jet: the four leading-pT particles, in pT order; the short jet keeps its order
    assert out["v"][0, 0].tolist() == pytest.approx([p * 500 / 800 for p in (70, 50, 20, 5)])
    assert out["v"][1, 0, :2].tolist() == pytest.approx([4 * 500 / 400, 2 * 500 / 400])
    # per-batch trimming: P follows the longest jet when it is below max_particles
    assert build_inputs(batch, cfg)["x"].shape[-1] == 6
    assert build_inputs(batch[1:], small)["x"].shape[-1] == 2


def test_empty_jet_is_dataerror_naming_file_and_row(cfg):
    empty = {k: [v[0], []] for k, v in PART.items()}
    with pytest.raises(DataError, match=r"f\.parquet: 1 jet\(s\) without particles .*row 11"):
        build_inputs(hand_batch(**empty), cfg, path="f.parquet", row_offset=10)
    with pytest.raises(DataError, match="2 jet"):
        build_inputs(hand_batch(**{k: [[], []] for k in PART}), cfg)


def test_nan_input_is_dataerror_naming_file_and_column(cfg):
    batch = hand_batch(part_px=[[100.0, np.nan, 2.0], [50.0]])
    with pytest.raises(DataError, match=r"shard_7\.parquet.*'part_px'"):
        build_inputs(batch, cfg, path="shard_7.parquet")
    with pytest.raises(DataError, match=r"'jet_pt'"):
        build_inputs(hand_batch(jet_pt=[np.inf, 400.0]), cfg, path="f.parquet")


def test_label_out_of_space_is_dataerror(cfg):
    with pytest.raises(DataError, match="jet_label"):
        build_inputs(hand_batch(jet_label=[3, 188]), cfg)


def test_label_merge_and_selection():
    merged = with_changes(labels={"column": "jet_label", "space": "jetclass2", "merge": {
        "res": ["X_*"], "qcd_b": ["QCD_b*"], "qcd_other": ["QCD_c*", "QCD_s*", "QCD_light"]}})
    assert merged.labels.names == ("res", "qcd_b", "qcd_other")
    out = build_inputs(hand_batch(jet_label=[3, 161]), merged)
    assert out["label"].tolist() == [0, 1]
    cut = with_changes(selection=[{"column": "jet_pt", "gt": 500}])
    assert len(apply_selection(hand_batch(), cut)) == 1


@pytest.mark.parametrize("change, match", [
    ({"op": "log_banana"}, "log_banana"),
    ({"args": {"column": "part_nonexistent"}}, "part_nonexistent"),
    ({"args": {"column": "jet_pt"}}, "per-particle"),
    ({"multiply": "0.7"}, "expected a number"),
    ({"shift": 1.0}, "shift"),
])
def test_bad_feature_is_configerror(change, match):
    d = load_data_config("jetclass2").to_dict()
    d["features"][5].update(change)
    with pytest.raises(ConfigError, match=match):
        load_data_config(d)


@pytest.mark.parametrize("key, value, match", [
    ("selection", [{"column": "jet_ptt", "gt": 1}], "jet_ptt"),
    ("selection", [{"column": "jet_pt", "above": 1}], "above"),
    ("vectors", {"columns": ["part_px", "part_py", "part_pz", "part_E"]}, "part_E"),
    ("labels", {"space": "jetclass2", "merge": {"a": ["X_*"], "b": ["QCD_nope"]}}, "QCD_nope"),
    ("labels", {"space": "jetclass2", "merge": {"a": ["X_*"]}}, "no merged class"),
    ("max_particles", 0, "max_particles"),
    ("colour", "blue", "colour"),
])
def test_bad_config_is_configerror(key, value, match):
    d = load_data_config("jetclass2").to_dict()
    d[key] = value
    with pytest.raises(ConfigError, match=match):
        load_data_config(d)


def test_bad_reweight_groups_are_configerrors():
    d = load_data_config("jetclass2").to_dict()
    d["reweight"]["groups"] = {"sig": ["X_*"], "qcd": ["QCD_b*"]}
    with pytest.raises(ConfigError, match="belongs to no group"):
        load_data_config(d)
    d["reweight"]["groups"] = "sophon30"
    d["reweight"]["class_weights"] = {"X_QQQ": 2.0}
    with pytest.raises(ConfigError, match="X_QQQ"):
        load_data_config(d)


def test_unknown_builtin_or_path(tmp_path):
    with pytest.raises(ConfigError, match="nosuch"):
        load_data_config("nosuch")
    bad = tmp_path / "bad.yaml"
    bad.write_text("features: [{name: a, op: copy, args: {column: part_px}}\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_data_config(bad)


def test_yaml_round_trip(tmp_path, cfg):
    path = tmp_path / "resolved.yaml"
    save_data_config(cfg, path)
    again = load_data_config(path)
    assert again == cfg
    assert again.reweight.bins[0][0] == 200 and len(again.reweight.bins[1]) == 49
    merged = with_changes(labels={"space": "jetclass2", "merge": {"s": ["X_*"], "b": ["QCD_*"]}})
    text = yaml.safe_dump(merged.to_dict(), sort_keys=False)
    assert load_data_config(yaml.safe_load(text)) == merged
