"""`jetfm anomaly cwola | iad | autoencoder` on simulated dijet events, with every input kind."""
import json

import pytest
import yaml

from jetfm.cli import main


@pytest.fixture(scope="module")
def events(sim_jets, tmp_path_factory):
    root = tmp_path_factory.mktemp("anomaly")
    common = ["--pileup", "0", "--seed", "3", "--no-progress"]
    assert main(["generate", "--sample", "dijet-qcd", "--pthat-min", "400", "--jets", "700",
                 "--out", str(root / "qcd"), *common]) == 0
    assert main(["generate", "--sample", "wprime", "--jets", "200", "--out", str(root / "wp"),
                 *common]) == 0
    run = root / "sup"
    assert main(["pretrain", "--strategy", "supervised", "--data", str(sim_jets), "--preset",
                 "tiny", "--max-steps", "3", "--batch-size", "16", "--out", str(run),
                 "--no-progress"]) == 0
    return root


def test_unweighted_dijet_sample(events):
    import pyarrow.parquet as pq
    t = pq.read_table(next((events / "qcd").glob("*.parquet")),
                      columns=["event_weight", "event_mjj"]).to_pandas()
    assert (t.event_weight == 1).all() and t.event_mjj.min() > 0


def test_cwola_cli_every_input_kind(events, tmp_path, capsys):
    out = tmp_path / "cw"
    args = ["anomaly", "cwola", "--data", str(events / "qcd"), "--signal", str(events / "wp"),
            "--inject", "40", "--bins", "700", "3500", "8", "--centre", "1700",
            "--folds", "3", "--efficiencies", "1", "0.2", "--max-iter", "10",
            "--inputs", "highlevel", f"embedding:{events / 'sup'}",
            f"discriminants:{events / 'sup'}", f"scores:{events / 'sup'}", "--pca", "4",
            "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    assert set(res["inputs"]) == {"highlevel", "embedding:sup", "discriminants:sup",
                                  "scores:sup"}
    assert res["inputs"]["scores:sup"]["features"] == ["pc0", "pc1", "pc2", "pc3"]
    assert res["inputs"]["highlevel"]["features"][:2] == ["pc0", "pc1"]      # 10 -> 4
    assert res["inputs"]["embedding:sup"]["features"] == ["pc0", "pc1", "pc2", "pc3"]
    assert len(res["inputs"]["discriminants:sup"]["features"]) == 4
    hunt = res["inputs"]["highlevel"]["hunts"][0]
    assert [s["efficiency"] for s in hunt["selections"]] == [1.0, 0.2]
    assert hunt["n_sr"] + hunt["n_sb"] <= hunt["n_events"]
    # the same injected events for every input set
    s_in = {k: v["hunts"][0]["signal_events_in_sr"] for k, v in res["inputs"].items()}
    assert len(set(s_in.values())) == 1
    assert "Z=" in printed
    cfg = yaml.safe_load((out / "anomaly_config.yaml").read_text())
    assert cfg["inject"] == 40 and cfg["data"][0].startswith("/")
    assert len(list(out.glob("spectra_*.png"))) == 4
    assert main(["report", str(out), "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "Anomaly detection" in page and "CWoLa hunting" in page and "embedding:sup" in page
    assert page.count("data:image/png;base64") == 4
    md = (tmp_path / "r.md").read_text()
    assert "Z / SIC · sculpting (ε=0.2)" in md and "Look-elsewhere: 2 tests" in md
    # every selection says how much it sculpts the background; every input its trials
    for r in res["inputs"].values():
        assert r["look_elsewhere"]["tests"] == 2 and r["look_elsewhere"]["centres"] == 1
        for s in r["hunts"][0]["selections"]:
            assert s["sculpted"] == (s["sculpting"] is not None and s["sculpting"] > 1.2)
    assert res["inputs"]["highlevel"]["hunts"][0]["selections"][0]["sculpting"] == 1.0
    assert "look-elsewhere: 2 tests" in printed


def test_cwola_refuses_weighted_events_and_leaves_nothing(events, tmp_path, capsys):
    weighted = tmp_path / "w"
    assert main(["generate", "--sample", "dijet-qcd", "--jets", "60", "--pileup", "0",
                 "--out", str(weighted), "--no-progress"]) == 0
    capsys.readouterr()
    out = tmp_path / "never"
    assert main(["anomaly", "cwola", "--data", str(weighted), "--out", str(out),
                 "--no-progress"]) == 2
    assert "event_weight" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("args, needle", [
    (["--inputs", "embedding"], "embedding:RUN_DIR"),
    (["--inputs", "magic"], "must be one of"),
    (["--inputs", "highlevel:x"], "takes no run"),
    (["--inject", "100000", "--signal", "WP"], "signal files hold"),
    (["--inject", "5"], "--inject needs --signal"),
    (["--centre", "9000"], "outside the m_JJ range"),
    (["--pca", "-1"], "--pca -1"),
    (["--sqrt-s", "3000"], "--sqrt-s 3000 GeV must exceed"),
])
def test_cwola_bad_options(events, tmp_path, capsys, args, needle):
    args = [a.replace("WP", str(events / "wp")) for a in args]
    out = tmp_path / "never"
    assert main(["anomaly", "cwola", "--data", str(events / "qcd"), "--bins", "700", "3500", "8",
                 "--out", str(out), "--no-progress", *args]) == 2
    assert needle in capsys.readouterr().err and not out.exists()


def test_iad_and_autoencoder_cli(events, tmp_path, capsys):
    out = tmp_path / "iad"
    assert main(["anomaly", "iad", "--background", str(events / "qcd"), "--signal",
                 str(events / "wp"), "--signal-region", "900", "3500", "--inject", "0", "20",
                 "--runs", "2", "--models", "1", "--max-iter", "20", "--out", str(out),
                 "--no-progress"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["inputs"]["highlevel"]["features"][:2] == ["j1_m_J", "j1_tau21"]
    rows = res["inputs"]["highlevel"]["injections"]
    assert [r["injected"] for r in rows] == [0, 20] and len(rows[1]["runs"]) == 2
    assert (out / "max_sic.png").is_file() and (out / "sic_highlevel.png").is_file()
    assert res["sidebands"] == [[900 * 900 / 3500, 900], [3500, 3500 * 3500 / 900]]
    assert res["inputs"]["highlevel"]["n_background_sideband"] > 0
    assert set(rows[1]["sculpting"]) == {"0.1", "0.01", "0.001"}
    assert "sculpting at eps_B 0.1/0.01/0.001" in capsys.readouterr().out
    out = tmp_path / "ae"
    assert main(["anomaly", "autoencoder", "--background", str(events / "qcd"), "--signal",
                 f"wprime={events / 'wp'}", "--inputs", "highlevel",
                 f"embedding:{events / 'sup'}", f"scores:{events / 'sup'}", "--out", str(out),
                 "--no-progress"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["inputs"]["scores:sup"]["features"] == "188 features"   # every class
    m = res["inputs"]["embedding:sup"]["models"]["wprime"]
    assert 0 <= m["auc_autoencoder"] <= 1 and 0 <= m["auc_supervised"] <= 1
    # W′ jets (W, φ → WW) are far from QCD in m_J and τ21: the supervised AUC is high
    assert res["inputs"]["highlevel"]["models"]["wprime"]["auc_supervised"] > 0.8
    assert "AUC autoencoder" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "iad"), str(out), "--out",
                 str(tmp_path / "r.html")]) == 0
    md = (tmp_path / "r.md").read_text()
    assert "Idealised anomaly detection" in md and "max SIC, N_S=20" in md
    assert "| highlevel | wprime |" in md
    broken = json.loads((out / "results.json").read_text())
    del broken["inputs"]["highlevel"]["models"]["wprime"]["auc_supervised"]
    (out / "results.json").write_text(json.dumps(broken))
    assert main(["report", str(out), "--out", str(tmp_path / "r2.html")]) == 2
    assert "invalid `jetfm anomaly` results" in capsys.readouterr().err
    assert main(["anomaly", "autoencoder", "--background", str(events / "qcd"), "--signal",
                 "nopath", "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "NAME=PATH" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["anomaly", "autoencoder", "--background", "b", "--signal",
                                   "s=x", "--out", "o"], ["inspect", "f"],
                                  ["evaluate", "r", "--out", "o"]])
def test_max_jets_must_be_positive(tmp_path, capsys, argv):
    from jetfm.cli import main
    assert main([*argv, "--max-jets", "-5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--max-jets must be >= 1, got -5" in err[0]
