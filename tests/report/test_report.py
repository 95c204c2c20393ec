"""`jetfm report`: inputs found and checked, numbers and headline right, HTML self-contained
and well formed, Markdown summary, nothing written on a broken input."""
from __future__ import annotations

import argparse
import base64
import json
import math
from html.parser import HTMLParser

import numpy as np
import pytest
import yaml

from jetfm.cli import report as cli_report
from jetfm.errors import ConfigError, DataError
from jetfm.metrics import evaluate_scores
from jetfm.report import build_report, headline, task_series
from jetfm.report.collect import collect, short_names
from jetfm.report.plots import _positions

BASE = {("clip", "linear"): 0.60, ("clip", "finetune"): 0.70, ("jepa", "linear"): 0.55,
        ("jepa", "finetune"): 0.65, ("scratch", "scratch"): 0.50}
LPCS = [10, 100, "all"]
SEEDS = [0, 1]


def _acc(strategy, mode, lpc, seed):
    n = 10_000 if lpc == "all" else lpc
    return BASE[strategy, mode] + 0.05 * math.log10(n) + 0.02 * seed


def write_transfer(folder, strategy, mode, task="tagging", summary=True, backbone=None):
    runs, summ = [], []
    fpr = np.linspace(0, 1, 50)
    for lpc in LPCS:
        accs = []
        for seed in SEEDS:
            a = _acc(strategy, mode, lpc, seed)
            accs.append(a)
            runs.append({"labels_per_class": lpc, "seed": seed, "n_train": 2 * (lpc if lpc !=
                         "all" else 5000),
                         "metrics": {"accuracy": a, "auc": 0.5 + a / 2, "rejection_at_30": 10 * a,
                                     "rejection_at_50": None},
                         "roc": {"fpr": fpr.tolist(), "tpr": (fpr ** (1 - a)).tolist()}})
        accs = np.array(accs)
        summ.append({"labels_per_class": lpc, "n_seeds": len(SEEDS),
                     "accuracy_mean": accs.mean(), "accuracy_std": accs.std(),
                     "auc_mean": (0.5 + accs / 2).mean(), "auc_std": accs.std() / 2,
                     "rejection_at_30_mean": 10 * accs.mean(), "rejection_at_30_std":
                     10 * accs.std(), "rejection_at_50_mean": None, "rejection_at_50_std": None})
    data = {"kind": "jetfm.transfer", "format": 1, "task": task, "classes": ["QCD", "Hbb"],
            "signal_class": 1, "backbone": backbone or f"/runs/{strategy}",
            "strategy": strategy, "mode": mode, "test_seed": 12345, "n_test": 2000,
            "trainable_parameters": 1290, "runs": runs,
            "rejection_note": "signal = class 1 vs background = class 0", "config": {},
            "skipped": [{"labels_per_class": 1000, "reason": "a class has fewer jets"}]
            if (strategy, mode) == ("clip", "linear") else []}
    if summary:
        data["summary"] = summ
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(data, indent=1))
    return folder / "results.json"


def write_run(run, strategy, resumed=False):
    (run / "logs" / "csv-0").mkdir(parents=True)
    cfg = {"train": {"strategy": strategy, "preset": "tiny", "max_steps": 40},
           "data": {"name": "jetclass2"}, "model": {"embed_dim": 16},
           "label_names": ["QCD", "Hbb"], "splits": {"train": [], "val": [], "test": []}}
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    # Lightning CSVLogger layout: all keys in the header, one row per log call, blanks elsewhere
    header = ("embed/eff_rank,epoch,lr-AdamW/pg1,probe/acc,step,train/loss,val/loss")
    lines = [header]
    for step in range(40):
        lines.append(f",,0.002,,{step},,")
        lines.append(f",0,,,{step},{3.0 * math.exp(-step / 15):.6f},")
        if step % 10 == 9:
            lines.append(f"5.0,0,,{0.5 + 0.01 * step:.3f},{step},,{2.5 * math.exp(-step / 20):.6f}")
    (run / "logs" / "csv-0" / "metrics.csv").write_text("\n".join(lines) + "\n")
    (run / "model.safetensors").write_bytes(b"")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_inputs")
    for strategy, mode in BASE:
        write_transfer(root / "transfer" / f"{strategy}_{mode}", strategy, mode)
    run = root / "runs" / "clip_run"
    write_run(run, "clip")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.5 + 0.3 * (2 * y - 1) + rng.normal(0, 0.2, 400), 0.01, 0.99)
    evaluate_scores(y, np.stack([1 - p, p], axis=1), ["QCD", "Hbb"], run / "eval", plots=False,
                    provenance={"run_dir": str(run)})
    return root


def _cli(argv):
    parser = argparse.ArgumentParser(prog="jetfm")
    cli_report.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *argv])
    return args.func(args)


class Page(HTMLParser):
    """Collects tables, images, ids and every attribute; checks that tags nest properly."""
    VOID = {"meta", "img", "br", "hr", "link", "input", "source"}

    def __init__(self):
        super().__init__()
        self.stack, self.tables, self.imgs, self.ids, self.attrs = [], [], [], set(), []
        self.text, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.imgs.append(a)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def report(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("report_out") / "sub" / "report.html"
    assert _cli([str(tree / "transfer"), str(tree / "runs"), "--out", str(out),
                 "--title", "SSL study"]) == 0
    page = Page()
    page.feed(out.read_text())
    page.close()
    return out, page


def test_finds_every_input(tree):
    inputs = collect([tree])
    assert len(inputs.transfer) == 5 and len(inputs.evaluate) == 1
    assert [r.strategy for r in inputs.pretrain] == ["clip"]
    assert inputs.evaluate[0].strategy == "clip"          # through the run's config.yaml
    assert [s for s, _ in inputs.pretrain[0].curves["probe/acc"]] == [9, 19, 29, 39]
    # given twice, or a file inside a given folder: read once
    again = collect([tree, tree / "transfer" / "clip_linear" / "results.json"])
    assert len(again.transfer) == 5


def test_html_is_self_contained_and_well_formed(report):
    out, page = report
    text = out.read_text()
    assert page.stack == ["html"] or page.stack == []   # </html> closes the document
    assert len(page.imgs) == 4    # accuracy vs labels, ROC, losses, probe
    for img in page.imgs:
        assert img["src"].startswith("data:image/png;base64,") and img["alt"]
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower()
    for tag, attrs in page.attrs:   # every reference is in the page itself
        for key in ("src", "href"):
            if key in attrs:
                assert attrs[key].startswith(("data:image/png;base64,", "#")), (tag, attrs)
    assert {"headlines", "task-tagging", "pretrain", "evaluate", "inputs"} <= page.ids
    assert "<title>SSL study</title>" in text
    assert "Not run: clip / linear at 1000/class (a class has fewer jets)." in text


def _row(table, *first):
    rows = [r for r in table if r[:len(first)] == list(first)]
    assert len(rows) == 1, (first, table)
    return rows[0]


def test_transfer_table_values(report):
    _, page = report
    table = page.tables[0]
    assert table[0][:6] == ["Run", "Strategy", "Mode", "Labels/class", "Seeds", "Accuracy"]
    # clip finetune at 10/class: 0.70 + 0.05 + {0, 0.02} -> 0.760 ± 0.010
    assert _row(table, "clip", "clip", "finetune", "10") == [
        "clip", "clip", "finetune", "10", "2", "0.760 ± 0.010", "0.880 ± 0.005", "7.6 ± 0.1",
        "+20.0 pts"]
    assert _row(table, "-", "scratch", "scratch", "all")[-1] == "baseline"
    assert _row(table, "jepa", "jepa", "linear", "all")[5] == "0.760 ± 0.010"
    assert len(table) == 1 + 5 * 3


def test_headline(report, tree):
    out, page = report
    expected = ("tagging, 10 labels/class: best clip / finetune accuracy 0.760 ± 0.010 vs "
                "baseline (scratch / scratch) 0.560 ± 0.010: +20.0 points")
    text = "".join(page.text)
    assert expected in text
    series = task_series(collect([tree / "transfer"]))["tagging"]
    h = headline("tagging", series)
    assert h["lpc"] == 10 and h["best"].label == "clip / finetune"
    assert h["diff"] == pytest.approx(0.20)
    assert "AUC +0.100" in h["text"] and "rejection@30% x1.36" in h["text"]


def test_pretrain_and_evaluate_tables(report, tree):
    _, page = report
    pre = _row(page.tables[1], "clip_run")
    assert pre[1:4] == ["clip", "tiny", "39"] and pre[-1] == "0.8900"
    ev = json.loads((tree / "runs" / "clip_run" / "eval" / "results.json").read_text())
    row = _row(page.tables[2], "eval")
    assert row[1] == "clip" and row[3] == f"{ev['accuracy']:.4f}"


def test_markdown_summary(report):
    out, _ = report
    md = out.with_suffix(".md").read_text()
    assert "| clip | clip | finetune | 10 | 2 | 0.760 ± 0.010 | 0.880 ± 0.005 | 7.6 ± 0.1 | " \
           "+20.0 pts |" in md
    assert "- tagging, 10 labels/class: best clip / finetune" in md
    assert "## Pre-training" in md and "## Evaluation" in md and "data:image" not in md


def test_only_transfer_results_without_summary(tmp_path):
    for strategy, mode in [("clip", "linear"), ("scratch", "scratch")]:
        write_transfer(tmp_path / "in" / strategy, strategy, mode, summary=False)
    out = tmp_path / "r.html"
    rep = build_report([tmp_path / "in"], out)
    page = Page()
    page.feed(out.read_text())
    assert "pretrain" not in page.ids and "evaluate" not in page.ids
    assert len(page.imgs) == 2
    # computed from the runs (no summary): the same numbers
    assert _row(page.tables[0], "clip", "clip", "linear", "10")[5] == "0.660 ± 0.010"
    assert rep["headlines"][0].endswith("+10.0 points (AUC +0.050, rejection@30% x1.18)")


def test_two_runs_of_one_strategy_are_told_apart(tmp_path):
    assert short_names(["/a/x/run", "/a/y/run", "/b/eval"]) == ["x/run", "y/run", "eval"]
    write_transfer(tmp_path / "1", "clip", "linear", backbone="/runs/a/clip")
    write_transfer(tmp_path / "2", "clip", "linear", backbone="/runs/b/clip")
    series = task_series(collect([tmp_path]))["tagging"]
    assert sorted(s.label for s in series) == ["clip (a/clip) / linear", "clip (b/clip) / linear"]
    assert headline("tagging", series)["text"].endswith("(no baseline)")


def test_random_features_count_as_a_baseline(tmp_path):
    BASE["random", "linear"] = 0.58        # above scratch: the headline compares against it
    try:
        for strategy, mode in [("clip", "linear"), ("scratch", "scratch"), ("random", "linear")]:
            write_transfer(tmp_path / strategy, strategy, mode,
                           backbone="random" if strategy == "random" else None)
        series = task_series(collect([tmp_path]))["tagging"]
    finally:
        del BASE["random", "linear"]
    h = headline("tagging", series)
    assert h["best"].label == "clip / linear" and h["scratch"].label == "random / linear"
    assert h["diff"] == pytest.approx(0.02)


def test_an_explicit_baseline_field_decides_and_older_files_fall_back(tmp_path):
    from jetfm.report.collect import TransferResult

    def result(**data):
        return TransferResult(tmp_path, "t", "clip", data.pop("mode", "centroid"),
                              data.get("backbone", "/runs/clip"), data, [])
    # a baseline mode with any name, on a pre-trained run's architecture: as recorded
    assert result(baseline="scratch", backbone="/runs/clip").is_scratch
    assert not result(baseline=None, backbone="/runs/clip").is_scratch
    # older files (no "baseline"): the mode's and the backbone's names, as before
    assert result(mode="scratch", backbone="/runs/clip").is_scratch
    assert result(backbone="random").is_scratch
    assert not result(backbone="/runs/clip").is_scratch


def test_all_is_placed_right_of_the_counts():
    pos, ticks, labels = _positions({"all", 1000, 10, 100})
    assert labels == ["10", "100", "1000", "all"] and pos["all"] > pos[1000]
    assert ticks == sorted(ticks)


@pytest.mark.parametrize("content, error", [
    ("{not json", DataError),                                   # truncated / corrupt
    ('{"kind": "jetfm.transfer", "format": 1, "task": "t", "strategy": "clip", '
     '"mode": "linear", "runs": [{"seed": 0, "metrics": {}}]}', DataError),  # no lpc
    ('{"kind": "something.else"}', ConfigError),                # unknown kind
    ('{"hello": 1}', ConfigError),                              # not ours
])
def test_broken_input_names_the_file_and_writes_nothing(tree, tmp_path, content, error):
    bad = tmp_path / "bad" / "results.json"
    bad.parent.mkdir()
    bad.write_text(content)
    out = tmp_path / "out" / "report.html"
    with pytest.raises(error, match=str(bad)):
        _cli([str(tree / "transfer"), str(tmp_path / "bad"), "--out", str(out)])
    assert not (tmp_path / "out").exists()


def test_bad_paths_and_out(tree, tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        build_report([tmp_path / "missing"], tmp_path / "r.html")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="empty: no `jetfm pretrain` run"):
        build_report([tmp_path / "empty"], tmp_path / "r.html")
    with pytest.raises(ConfigError, match="--out"):
        build_report([tree], tmp_path / "r.md")
    broken = tmp_path / "brokenrun"
    write_run(broken, "jepa")
    (broken / "config.yaml").write_text("train: [unclosed")
    with pytest.raises(ConfigError, match=str(broken)):
        build_report([tmp_path / "brokenrun"], tmp_path / "r.html")
    write_transfer(tmp_path / "dup", "clip", "linear")
    with pytest.raises(ConfigError, match="both hold task"):
        build_report([tree / "transfer", tmp_path / "dup"], tmp_path / "r.html")
    assert not list(tmp_path.glob("r.*"))
