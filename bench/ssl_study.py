"""The self-supervised study (issue "self-supervised pre-training that learns"): every
strategy pre-trained on the same jets with the same budget, then probed against frozen random
features, fine-tuned (LP-FT) against scratch, and run through the re-simulation paper's qgtau
protocol. The study is the built-in plan src/jetfm/plans/ssl-study.yaml; this script runs it
and prints its tables.

    python bench/ssl_study.py --out ssl                  # = jetfm study ssl-study --out ssl --jobs 2
    python bench/ssl_study.py --out ssl --print          # the commands, nothing run
    python bench/ssl_study.py --out ssl --tables         # the Markdown tables from its results
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from jetfm.pretrain.registry import REGISTRY

STRATEGIES = tuple(REGISTRY)
SSL = tuple(s for s, st in REGISTRY.items() if not st.head)          # jepa, resim, ae, mpm
# what each strategy's backbone is probed with (the plan's representation: [cls, mean, own])
REPRESENTATIONS = {s: tuple(dict.fromkeys(("cls", "mean", st.representation)))
                   for s, st in REGISTRY.items()}


# jobs the plan runs again on a larger pool (tagging10 at 1000/class) or at more label counts
# (the LoRA sweep): their rows join the job's own
MORE = ("1k", "sweep")


def _summary(out: Path, task: str, name: str) -> dict:
    """{labels_per_class: summary row} of one transfer job and its MORE companions ({} if
    none has run)."""
    rows = {}
    for job in (name, *(f"{name}-{m}" for m in MORE)):
        path = out / "transfer" / task / job / "results.json"
        if path.exists():
            rows.update({str(r["labels_per_class"]): r
                         for r in json.loads(path.read_text())["summary"]})
    return rows


def _arm(name: str) -> str:
    """A transfer folder's name as the tables show it."""
    return {"scratch-scratch": "scratch", "resim-lora-rank1": "resim-lora1"}.get(name, name)


def _acc(row: dict | None) -> str:
    if not row or row.get("accuracy_mean") is None:
        return "–"
    return f"{row['accuracy_mean']:.3f} ± {row['accuracy_std']:.3f}"


def _final_probe(run: Path) -> dict:
    """The last logged online-probe values of a pre-training run."""
    from jetfm.run_logs import csv_logs
    last = {}
    for log in csv_logs(run):
        for row in csv.DictReader(log.open()):
            last.update({k: float(v) for k, v in row.items()
                         if v and k.startswith(("probe/", "embed/eff_rank"))})
    return last


def tables(out: Path) -> str:
    """The study's Markdown tables from its results files."""
    lines = ["### Pre-training (online probe on the validation jets, 188 JetClass-II labels, "
             "last validation)", "", "| strategy | probe/acc | probe/random_acc | probe/gain | "
             "embed/eff_rank |", "|---|---|---|---|---|"]
    for s in STRATEGIES:
        p = _final_probe(out / "runs" / s)
        cells = [f"{p[k]:.3f}" if k in p else "–" for k in
                 ("probe/acc", "probe/random_acc", "probe/gain", "embed/eff_rank")]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    for task in ("tagging10", "qgtau"):
        rnd = {r: _summary(out, task, f"random-linear-{r}") for r in ("cls", "mean")}
        lines += ["", f"### {task}: linear probe (accuracy, mean ± std over 3 seeds)", "",
                  "| strategy | representation | 10/class | 100/class | 1000/class | "
                  "Δ vs best random at 100 | at 1000 |", "|---|---|---|---|---|---|---|"]
        best = {n: max((rnd[r].get(n, {}).get("accuracy_mean") or 0) for r in rnd)
                for n in ("100", "1000")}
        for r in ("cls", "mean"):
            row = rnd[r]
            lines.append(f"| random | {r} | " + " | ".join(_acc(row.get(n)) for n in
                                                          ("10", "100", "1000")) + " | | |")
        for s, reps in REPRESENTATIONS.items():
            for r in reps:
                row = _summary(out, task, f"{s}-linear-{r}")
                gains = []
                for n in ("100", "1000"):
                    a = (row.get(n) or {}).get("accuracy_mean")
                    gains.append(f"{a - best[n]:+.3f}" if a is not None and best[n] else "–")
                lines.append(f"| {s} | {r} | " + " | ".join(_acc(row.get(n)) for n in
                                                            ("10", "100", "1000"))
                             + " | " + " | ".join(gains) + " |")
    lines += ["", "### tagging10: fine-tune (LP-FT) vs scratch, same schedule", "",
              "| backbone | 100/class | 1000/class |", "|---|---|---|"]
    for name in [*(f"{s}-finetune" for s in STRATEGIES), "scratch-scratch"]:
        row = _summary(out, "tagging10", name)
        lines.append(f"| {_arm(name)} | {_acc(row.get('100'))} | {_acc(row.get('1000'))} |")
    lines += ["", "### qgtau: fine-tune (LP-FT) vs scratch at 100/class", "",
              "| backbone | 100/class |", "|---|---|"]
    for name in [*(f"{s}-finetune" for s in SSL), "scratch-scratch"]:
        lines.append(f"| {_arm(name)} | {_acc(_summary(out, 'qgtau', name).get('100'))} |")
    lines += ["", "### tagging10: kNN accuracy (mean ± std over 3 seeds)", "",
              "| backbone | 100/class | 1000/class |", "|---|---|---|"]
    for s in [*SSL, "random"]:
        row = _summary(out, "tagging10", f"{s}-knn")
        lines.append(f"| {s} | {_acc(row.get('100'))} | {_acc(row.get('1000'))} |")
    lines += ["", "### qgtau: kNN per-class recall (mean over 3 seeds; the paper: gluon 0.71, "
              "tau_h 0.97)", "", "| backbone | labels/class | accuracy | quark | gluon | tau_h |",
              "|---|---|---|---|---|---|"]
    for s in [*SSL, "random"]:
        row = _summary(out, "qgtau", f"{s}-knn")
        for n in ("100", "1000"):
            r = row.get(n)
            if not r:
                continue
            rec = r.get("recall", {})
            cells = [f"{rec[c]['mean']:.3f}" if rec.get(c, {}).get("mean") is not None
                     else "–" for c in ("quark", "gluon", "tau_h")]
            lines.append(f"| {s} | {n} | {_acc(r)} | " + " | ".join(cells) + " |")
    sweep = ("10", "30", "100", "300", "1000")
    lines += ["", "### LoRA rank 1 on the resim backbone vs fully supervised (scratch): "
              "accuracy (AUC) per labels/class", "",
              "| task | arm | " + " | ".join(sweep) + " |", "|---|---|" + "---|" * len(sweep)]
    for task in ("qg", "tau"):
        for name in ("resim-lora-rank1", "scratch-scratch"):
            row = _summary(out, task, name)
            cells = [_acc(row.get(n)) + (f" ({row[n]['auc_mean']:.3f})" if row.get(n) and
                                         row[n].get("auc_mean") is not None else "")
                     for n in sweep]
            lines.append(f"| {task} | {_arm(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="study folder (data/, runs/, transfer/, report)")
    ap.add_argument("--jobs", type=int, default=2, help="steps at a time (default 2)")
    ap.add_argument("--print", action="store_true", help="print the commands only")
    ap.add_argument("--tables", action="store_true",
                    help="print the study's Markdown tables from its results and exit")
    a = ap.parse_args(argv)
    if a.tables:
        print(tables(Path(a.out).resolve()))
        return 0
    from jetfm.cli import main as jetfm
    return jetfm(["study", "ssl-study", "--out", a.out, "--jobs", str(a.jobs),
                  *(["--print"] if a.print else [])])


if __name__ == "__main__":
    sys.exit(main())
