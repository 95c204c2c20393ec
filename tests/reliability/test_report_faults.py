"""`jetfm report` under faults: results on different test sets, values out of range, a run
folder named like a built-in baseline, --out over an input or a user's file, wrong types.
Nothing lost, nothing silent. Each test failed on the code before its fix."""
from __future__ import annotations

import json

import numpy as np
import pytest

from jetfm.cli import main

from .conftest import one_error_line

DATA = ["/data/hbb_0.parquet", "/data/qcd_0.parquet"]
METRICS = ("accuracy", "auc", "rejection_at_30", "rejection_at_50")


def transfer_results(folder, strategy, mode, acc, backbone=None, test_seed=12345,
                     max_per_class=None, data=DATA, task="hbb-qcd"):
    """A `jetfm transfer` results.json as transfer/run.py writes it (the fields the report
    reads, 2 seeds at 10 labels/class and at all labels)."""
    runs, summary = [], []
    for lpc in (10, "all"):
        sel = []
        for seed in (0, 1):
            a = acc + (0.05 if lpc == "all" else 0.0) + 0.01 * seed
            m = {"accuracy": a, "recall": {"QCD": a, "Hbb": a}, "auc": (1 + a) / 2,
                 "rejection_at_30": 10 * a, "rejection_at_50": 4 * a}
            sel.append(m)
            runs.append({"labels_per_class": lpc, "seed": seed, "n_train": 20, "metrics": m,
                         "roc": {"fpr": [0.0, 0.1, 1.0], "tpr": [0.0, a, 1.0]}})
        row = {"labels_per_class": lpc, "n_seeds": 2}
        for k in METRICS:
            vals = [m[k] for m in sel]
            row.update({f"{k}_mean": float(np.mean(vals)), f"{k}_std": float(np.std(vals))})
        summary.append(row)
    out = {"kind": "jetfm.transfer", "format": 1, "task": task, "classes": ["QCD", "Hbb"],
           "classes_absent": [], "jets_per_class": {"QCD": 4000, "Hbb": 4000},
           "signal_class": 1, "backbone": backbone or f"/study/runs/{strategy}",
           "strategy": strategy, "mode": mode, "representation": "cls", "schedule": None,
           "test_seed": test_seed, "n_test": 2000 if max_per_class is None else 500,
           "n_val": 1200, "n_pool": 4800, "trainable_parameters": 129, "runs": runs,
           "summary": summary, "skipped": [], "seconds": 1.0,
           "config": {"backbone": backbone or f"/study/runs/{strategy}", "task": task,
                      "mode": mode, "data": list(data), "test_seed": test_seed,
                      "max_per_class": max_per_class, "out": str(folder)}}
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(out, indent=1))
    return folder / "results.json"


def evaluate_results(folder, **changes):
    """A `jetfm evaluate` results.json (metrics/evaluate.py layout, the fields the report
    reads)."""
    res = {"n_jets": 400, "n_classes": 2, "label_set": "custom", "accuracy": 0.81,
           "auc_per_class": {"QCD": 0.88, "Hbb": 0.88}, "auc_macro": 0.88,
           "discriminants": {"Hbb vs QCD": {"signal": ["Hbb"], "background": ["QCD"],
                                            "auc": 0.88, "rejection": {"30": 21.5, "50": "inf"}}},
           "discriminants_skipped": {}, "run_dir": "/study/runs/clip"}
    res.update(changes)
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(res))
    return folder / "results.json"


def report(capsys, *paths, out):
    capsys.readouterr()
    return main(["report", *map(str, paths), "--out", str(out)])


# --- 1. only results on the same test jets are ranked against each other --------------------

@pytest.mark.parametrize("setting, other, shown", [
    ("test_seed", 7, "--test-seed 7"),
    ("max_per_class", 500, "--max-per-class 500"),
    ("data", ["/data/hbb_1.parquet", "/data/qcd_1.parquet"], "--data hbb_1.parquet+qcd_1.parquet"),
])
def test_results_on_other_test_jets_are_a_separate_group_with_a_warning(
        tmp_path, capsys, setting, other, shown):
    a = transfer_results(tmp_path / "t" / "clip", "clip", "linear", 0.70)
    transfer_results(tmp_path / "t" / "scratch", "scratch", "scratch", 0.60, backbone="scratch")
    odd = transfer_results(tmp_path / "t" / "jepa", "jepa", "linear", 0.90, **{setting: other})
    out = tmp_path / "r.html"
    assert report(capsys, tmp_path / "t", out=out) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("jetfm report: warning: task 'hbb-qcd'"), err
    assert str(a) in err[0] and str(odd) in err[0] and shown in err[0]
    page, md = out.read_text(), out.with_suffix(".md").read_text()
    # the odd result is not ranked against the others: it has no baseline on its jets
    assert "best clip / linear accuracy" in page and "+10.0 points" in page
    assert f"hbb-qcd ({shown}), 10 labels/class: best jepa / linear accuracy 0.905 ± 0.005 " \
           "(no baseline)" in md
    assert md.count("## Transfer: hbb-qcd") == 2 and "## Warnings" in md
    assert page.count("<table>") == 2 and 'class="warning"' in page


# --- 2. values outside their range are refused ------------------------------------------------

@pytest.mark.parametrize("where, value, field", [
    ("run", ("accuracy", 7.5), "runs[0].metrics.accuracy"),
    ("run", ("auc", -1), "runs[0].metrics.auc"),
    ("run", ("accuracy", float("nan")), "runs[0].metrics.accuracy is NaN"),
    ("run", ("rejection_at_30", 0.5), "runs[0].metrics.rejection_at_30"),
    ("summary", ("accuracy_mean", 7.5), "summary[0].accuracy_mean"),
    ("summary", ("accuracy_mean", 0.95), "is not the mean of its runs"),
    ("evaluate", ("accuracy", 1.5), "'accuracy'"),
    ("evaluate", ("auc_macro", float("nan")), "'auc_macro' is NaN"),
])
def test_values_outside_their_range_are_one_line_and_nothing_written(
        tmp_path, capsys, where, value, field):
    key, v = value
    if where == "evaluate":
        bad = evaluate_results(tmp_path / "in" / "eval", **{key: v})
    else:
        bad = transfer_results(tmp_path / "in" / "clip", "clip", "linear", 0.70)
        data = json.loads(bad.read_text())
        target = data["runs"][0]["metrics"] if where == "run" else data["summary"][0]
        target[key] = v
        bad.write_text(json.dumps(data))
    out = tmp_path / "out" / "r.html"
    assert report(capsys, tmp_path / "in", out=out) == 2
    one_error_line(capsys, str(bad), field)
    assert not (tmp_path / "out").exists()


# --- 3. a run folder called random is not the built-in random-features baseline ----------------

def test_a_run_folder_named_random_is_not_the_builtin_baseline(tmp_path, capsys):
    # `--backbone random` records the word; a run folder is recorded by its path, whatever
    # its name and whatever its strategy is called
    transfer_results(tmp_path / "t" / "builtin", "random", "linear", 0.60, backbone="random")
    transfer_results(tmp_path / "t" / "run", "random", "linear", 0.70,
                     backbone="/study/runs/random")
    out = tmp_path / "r.html"
    assert report(capsys, tmp_path / "t", out=out) == 0
    md = out.with_suffix(".md").read_text()
    assert "best random (runs/random) / linear accuracy 0.705 ± 0.005 vs baseline " \
           "(random / linear) 0.605 ± 0.005: +10.0 points" in md
    # the Run column keys rows: the run folder for the run, "-" for the built-in baseline
    assert "| random | random | linear | 10 | 2 | 0.705 ± 0.005 |" in md
    assert "| - | random | linear | 10 | 2 | 0.605 ± 0.005 |" in md


# --- 4. --out never replaces an input or a file jetfm report did not write ---------------------

@pytest.mark.parametrize("target, needle", [
    ("input", "is one of the report's inputs"),
    ("user_html", "was not written by `jetfm report`"),
    ("user_md", "its Markdown summary"),
])
def test_out_never_replaces_an_input_or_a_users_file(tmp_path, capsys, target, needle):
    inp = transfer_results(tmp_path / "t" / "clip", "clip", "linear", 0.70)
    mine = {"input": inp, "user_html": tmp_path / "notes.html",
            "user_md": tmp_path / "notes.md"}[target]
    if target != "input":
        mine.write_text("my own notes\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    out = mine if target != "user_md" else mine.with_suffix(".html")
    assert report(capsys, tmp_path / "t", out=out) == 2
    one_error_line(capsys, str(mine), needle)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_report_replaces_its_own_files(tmp_path, capsys):
    transfer_results(tmp_path / "t" / "clip", "clip", "linear", 0.70)
    out = tmp_path / "r.html"
    assert report(capsys, tmp_path / "t", out=out) == 0
    out.with_suffix(".md").write_text(out.with_suffix(".md").read_text() + "\nstale\n")
    assert report(capsys, tmp_path / "t", out=out) == 0      # re-running updates the report
    assert "stale" not in out.with_suffix(".md").read_text()


# --- 5. wrong types: one line, non-zero exit ----------------------------------------------------

@pytest.mark.parametrize("kind, edit, needle", [
    ("evaluate", lambda d: d.update(accuracy="high"), "'accuracy' is not a number: 'high'"),
    ("evaluate", lambda d: d.update(discriminants=[1]), "'discriminants' is not an object"),
    ("transfer", lambda d: d["runs"][0]["metrics"].update(accuracy="high"),
     "runs[0].metrics.accuracy is not a number: 'high'"),
    ("transfer", lambda d: d["runs"][0].update(metrics=[0.7]), "runs[0].metrics is not an obj"),
    ("transfer", lambda d: d.update(skipped=5), "'skipped' is not a list"),
    ("transfer", lambda d: d.update(test_seed=[1]), "'test_seed'"),
    ("transfer", lambda d: [d], "not a JSON object"),
    ("transfer", None, "unreadable results file"),                    # truncated
])
def test_wrong_types_are_one_line(tmp_path, capsys, kind, edit, needle):
    if kind == "evaluate":
        bad = evaluate_results(tmp_path / "in" / "eval")
    else:
        bad = transfer_results(tmp_path / "in" / "clip", "clip", "linear", 0.70)
    text = bad.read_text()
    if edit is None:
        bad.write_text(text[: len(text) // 2])
    else:
        data = json.loads(text)
        new = edit(data)
        bad.write_text(json.dumps(data if new is None else new))
    out = tmp_path / "out" / "r.html"
    assert report(capsys, tmp_path / "in", out=out) == 2
    one_error_line(capsys, str(bad), needle)
    assert not (tmp_path / "out").exists()
