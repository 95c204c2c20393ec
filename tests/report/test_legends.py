"""The report reads at a glance: which class is signal, which baseline a Δ is measured
against, one row per run, what '-' and the marks mean, on which jets the probe was measured."""
from __future__ import annotations

import json

import yaml

from jetfm.report import build_report

from .test_report import BASE, Page, _row, write_run, write_transfer


def _edit(results, **changes):
    data = json.loads(results.read_text())
    data.update(changes)
    results.write_text(json.dumps(data))


def _page(out):
    page = Page()
    page.feed(out.read_text())
    return page, " ".join(" ".join(page.text).split())


def test_a_multi_class_roc_says_which_class_is_signal(tmp_path):
    for strategy, mode in [("clip", "linear"), ("scratch", "scratch")]:
        res = write_transfer(tmp_path / "in" / strategy, strategy, mode)
        _edit(res, classes=["QCD", "Hbb", "Hcc"], signal_class=None)
    build_report([tmp_path / "in"], tmp_path / "r.html")
    _, text = _page(tmp_path / "r.html")
    which = "signal: Hbb vs background: QCD (score p_S/(p_S + p_B); the other 1 class left out)"
    assert f"ROC ({which}) at the largest labels per class" in text
    assert f"Rejection = 1/ε_B at ε_S = 30 % ({which})" in text


def test_the_delta_note_names_the_baseline_used(tmp_path):
    write_transfer(tmp_path / "a" / "clip", "clip", "linear")
    write_transfer(tmp_path / "a" / "scratch", "scratch", "scratch")
    build_report([tmp_path / "a"], tmp_path / "a.html")
    assert "Δ vs scratch (network trained from scratch): accuracy minus the baseline's" in \
        _page(tmp_path / "a.html")[1]
    BASE["random", "linear"] = 0.58        # above scratch: the baseline compared against
    try:
        write_transfer(tmp_path / "a" / "random", "random", "linear", backbone="random")
    finally:
        del BASE["random", "linear"]
    build_report([tmp_path / "a"], tmp_path / "b.html")
    page, text = _page(tmp_path / "b.html")
    assert "Δ vs random / linear (frozen random features, cls): accuracy minus" in text
    assert _row(page.tables[0], "-", "random", "linear", "10")[-1] == "baseline"
    md = (tmp_path / "b.md").read_text()
    assert "Δ vs random / linear (frozen random features, cls)" in md


def test_two_runs_of_one_strategy_are_two_rows_named_by_their_folders(tmp_path):
    write_transfer(tmp_path / "in" / "1", "clip", "linear", backbone="/runs/a/clip")
    write_transfer(tmp_path / "in" / "2", "clip", "linear", backbone="/runs/b/clip")
    build_report([tmp_path / "in"], tmp_path / "r.html")
    page, text = _page(tmp_path / "r.html")
    table = page.tables[0]
    assert table[0][0] == "Run"
    assert _row(table, "a/clip", "clip", "linear", "10")[5] == "0.660 ± 0.010"
    assert _row(table, "b/clip", "clip", "linear", "10")[5] == "0.660 ± 0.010"
    assert "Run: the pre-training run (its folder) whose backbone was transferred" in text


def test_dashes_and_unmeasurable_rejections_are_explained(tmp_path):
    res = write_transfer(tmp_path / "in" / "clip", "clip", "linear", summary=False)
    data = json.loads(res.read_text())
    for r in data["runs"]:     # seed 1 at 10/class, every seed at 100: no background jet left
        if (r["labels_per_class"], r["seed"]) in ((10, 1), (100, 0), (100, 1)):
            r["metrics"]["rejection_at_30"] = None
    res.write_text(json.dumps(data))
    build_report([tmp_path / "in"], tmp_path / "r.html")
    page, text = _page(tmp_path / "r.html")
    table = page.tables[0]
    assert _row(table, "clip", "clip", "linear", "10")[7] == "6.5 ± 0.0 *"
    assert _row(table, "clip", "clip", "linear", "100")[7] == "- *"
    assert _row(table, "clip", "clip", "linear", "all")[7] == "8.1 ± 0.1"
    assert "so it is capped by their number" in text
    assert "'-': no value (no background jet of the test set was left at the cut" in text
    assert "'*': no background jet was left in some seeds" in text
    assert "Δ: no baseline (a network trained from scratch or frozen random features)" in text


def test_probe_curves_say_on_which_validation_jets(tmp_path):
    for name, strategy in (("one", "clip"), ("two", "jepa")):
        write_run(tmp_path / "runs" / name, strategy)
    build_report([tmp_path / "runs"], tmp_path / "same.html")
    text = _page(tmp_path / "same.html")[1]
    assert "Online probe: validation jets. probe/acc" in text
    assert "the same validation files for every run" in text
    cfg_path = tmp_path / "runs" / "two" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["splits"]["val"] = ["/data/other_val.parquet"]
    cfg_path.write_text(yaml.safe_dump(cfg))
    build_report([tmp_path / "runs"], tmp_path / "other.html")
    text = _page(tmp_path / "other.html")[1]
    assert "2 different sets of jets (val set 1: one; val set 2: two)" in text


def test_the_delta_note_reads_the_recorded_baseline_kind(tmp_path):
    """results.json says which baseline an arm is ("baseline"); the note follows it, not the
    names (here a random-features arm whose backbone and strategy are named otherwise)."""
    write_transfer(tmp_path / "a" / "clip", "clip", "linear")
    res = write_transfer(tmp_path / "a" / "feat", "jepa", "linear", backbone="/x/untrained")
    _edit(res, baseline="random-features")
    build_report([tmp_path / "a"], tmp_path / "a.html")
    assert "(frozen random features, cls): accuracy minus" in _page(tmp_path / "a.html")[1]
