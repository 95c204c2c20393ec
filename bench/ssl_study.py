"""The self-supervised study (issue "self-supervised pre-training that learns"), one command:
every strategy pre-trained on the same jets with the same budget, then probed against frozen
random features, fine-tuned (LP-FT) against scratch, and run through the re-simulation
paper's qgtau protocol.

    python bench/ssl_study.py --out ssl                  # the measured configuration
    python bench/ssl_study.py --out ssl --print          # the commands, nothing run

- Pre-training set: Res2P (m_X 70-150) + Res34P (100-200) + QCD, every shower hadronised
  twice (`--resim 2`): `resim` reads the clean pairs, every other strategy the same jets.
- tagging10 transfer set: disjoint seeds, with charged-emu Res34P so that the lepton classes
  reach 100 jets per class in the pool.
- qgtau (Rieck et al.): quark : gluon : tau_h = 3 : 3 : 1, anti-kT R = 0.4, pT > 100 GeV.
Steps run through `bench/transfer_study.run_phase` (skip finished steps, N at a time).
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from transfer_study import run_phase  # noqa: E402

from jetfm.pretrain.registry import REGISTRY  # noqa: E402

STRATEGIES = tuple(REGISTRY)
SSL = tuple(s for s, st in REGISTRY.items() if not st.head)          # jepa, resim, ae, mpm
AK4 = ["--jet-r", "0.4", "--jet-pt-min", "100"]
# (folder, sample, jets, jets per file, seed, options)
DATA = [("pt/res2p", "res2p", 16000, 1600, 401, ["--mass-range", "70", "150", "--resim", "2"]),
        ("pt/res34p", "res34p", 12000, 1200, 401, ["--mass-range", "100", "200", "--resim", "2"]),
        ("pt/qcd", "qcd", 12000, 1200, 401, ["--resim", "2"]),
        ("tr/res2p", "res2p", 12000, 2000, 402, ["--mass-range", "70", "150"]),
        ("tr/res34p", "res34p", 6000, 1500, 402, ["--mass-range", "100", "200"]),
        ("tr/res34p_emu", "res34p", 3000, 1000, 403,
         ["--mass-range", "100", "200", "--y-decays", "charged-emu"]),
        ("tr/qcd", "qcd", 3000, 1000, 402, []),
        ("qgtau/quark", "quark", 3000, 1000, 404, AK4),
        ("qgtau/gluon", "gluon", 3000, 1000, 404, AK4),
        ("qgtau/tau", "tau", 1000, 500, 404, AK4),
        ("qgtau/qcd", "qcd", 2000, 500, 405, AK4)]     # tau vs QCD at the same R and pT
TAGGING10 = ("tr/res2p", "tr/res34p", "tr/res34p_emu", "tr/qcd")
QGTAU = ("qgtau/quark", "qgtau/gluon", "qgtau/tau")
# what each strategy's backbone is probed with: the class token, mean-pooled particles, and
# the strategy's own representation where it has one
REPRESENTATIONS = {s: tuple(dict.fromkeys(("cls", "mean", st.representation)))
                   for s, st in REGISTRY.items()}


def generate_steps(out: Path, scale: float, workers: int):
    steps = []
    for folder, sample, jets, per_file, seed, extra in DATA:
        n = lambda k: str(max(2, int(k * scale)))             # noqa: E731
        steps.append((["generate", "--sample", sample, "--jets", n(jets), "--seed", str(seed),
                       "--jets-per-file", n(per_file), "--out", str(out / "data" / folder),
                       "--workers", str(workers), *extra], None))
    return steps


def pretrain_steps(out: Path, steps: int, batch: int):
    data = [str(out / "data" / "pt" / k) for k in ("res2p", "res34p", "qcd")]
    return [(["pretrain", "--strategy", s, "--preset", "small", "--data", *data,
              "--max-steps", str(steps), "--batch-size", str(batch), "--seed", "1",
              "--val-every-steps", str(max(1, steps // 5)),
              "--checkpoint-every-steps", str(max(1, steps // 5)),
              "--out", str(out / "runs" / s)], out / "runs" / s / "model.safetensors")
            for s in STRATEGIES]


def _job(out, task, name, backbone, mode, data, extra):
    target = out / "out" / task / name
    return (["transfer", "--backbone", backbone, "--task", task, "--mode", mode, "--data",
             *data, *extra, "--out", str(target)], target / "results.json")


def transfer_steps(out: Path, net_steps: int, batch: int, seeds: int):
    runs = {s: str(out / "runs" / s) for s in STRATEGIES}
    t10 = [str(out / "data" / k) for k in TAGGING10]
    qgt = [str(out / "data" / k) for k in QGTAU]
    probe = ["--labels-per-class", "10,100,1000", "--seeds", "3"]
    net = ["--steps", str(net_steps), "--batch-size", str(batch), "--seeds", str(seeds)]
    jobs = []
    for task, data in (("tagging10", t10), ("qgtau", qgt)):
        for s, reps in REPRESENTATIONS.items():
            jobs += [_job(out, task, f"{s}-linear-{r}", runs[s], "linear", data,
                          [*probe, "--representation", r]) for r in reps]
        jobs += [_job(out, task, f"random-linear-{r}", "random", "linear", data,
                      [*probe, "--preset", "small", "--representation", r])
                 for r in ("cls", "mean")]
        jobs += [_job(out, task, f"{s}-knn", runs[s], "knn", data,
                      ["--labels-per-class", "100,1000", "--seeds", "3"]) for s in SSL]
        jobs.append(_job(out, task, "random-knn", "random", "knn", data,
                         ["--labels-per-class", "100,1000", "--seeds", "3", "--preset",
                          "small"]))
    # fine-tune (LP-FT) against scratch under the same schedule, tagging10
    for s in STRATEGIES:
        jobs.append(_job(out, "tagging10", f"{s}-finetune", runs[s], "finetune", t10,
                         ["--labels-per-class", "100,1000", *net]))
    jobs.append(_job(out, "tagging10", "scratch", "scratch", "scratch", t10,
                     ["--labels-per-class", "100,1000", "--preset", "small", *net]))
    # ... and on qgtau for the self-supervised backbones
    jobs += [_job(out, "qgtau", f"{s}-finetune", runs[s], "finetune", qgt,
                  ["--labels-per-class", "100", *net]) for s in SSL]
    jobs.append(_job(out, "qgtau", "scratch", "scratch", "scratch", qgt,
                     ["--labels-per-class", "100", "--preset", "small", *net]))
    # the re-simulation paper: LoRA rank 1 on the contrastive backbone vs fully supervised
    # training (scratch), over a label sweep, on qg and tau
    for task, data in (("qg", qgt[:2]), ("tau", [qgt[2], str(out / "data" / "qgtau/qcd")])):
        sweep = ["--labels-per-class", "100,1000", *net]
        jobs.append(_job(out, task, "resim-lora1", runs["resim"], "lora", data,
                         [*sweep, "--lora-rank", "1"]))
        jobs.append(_job(out, task, "scratch", "scratch", "scratch", data,
                         [*sweep, "--preset", "small"]))
    return jobs


def _summary(out: Path, task: str, name: str) -> dict:
    """{labels_per_class: summary row} of one transfer job ({} if it has not run)."""
    path = out / "out" / task / name / "results.json"
    if not path.exists():
        return {}
    return {str(r["labels_per_class"]): r for r in json.loads(path.read_text())["summary"]}


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
                  "Δ vs best random at 100 |", "|---|---|---|---|---|---|"]
        best = max((rnd[r].get("100", {}).get("accuracy_mean") or 0) for r in rnd)
        for r in ("cls", "mean"):
            row = rnd[r]
            lines.append(f"| random | {r} | " + " | ".join(_acc(row.get(n)) for n in
                                                          ("10", "100", "1000")) + " | |")
        for s, reps in REPRESENTATIONS.items():
            for r in reps:
                row = _summary(out, task, f"{s}-linear-{r}")
                a = (row.get("100") or {}).get("accuracy_mean")
                gain = f"{a - best:+.3f}" if a is not None and best else "–"
                lines.append(f"| {s} | {r} | " + " | ".join(_acc(row.get(n)) for n in
                                                            ("10", "100", "1000")) + f" | {gain} |")
    lines += ["", "### tagging10: fine-tune (LP-FT) vs scratch, same schedule", "",
              "| backbone | 100/class | 1000/class |", "|---|---|---|"]
    for name in [*(f"{s}-finetune" for s in STRATEGIES), "scratch"]:
        row = _summary(out, "tagging10", name)
        lines.append(f"| {name} | {_acc(row.get('100'))} | {_acc(row.get('1000'))} |")
    lines += ["", "### qgtau: fine-tune (LP-FT) vs scratch at 100/class", "",
              "| backbone | 100/class |", "|---|---|"]
    for name in [*(f"{s}-finetune" for s in SSL), "scratch"]:
        lines.append(f"| {name} | {_acc(_summary(out, 'qgtau', name).get('100'))} |")
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
    lines += ["", "### LoRA rank 1 on the resim backbone vs fully supervised (scratch)", "",
              "| task | arm | 100/class acc | 100/class AUC | 1000/class acc | 1000/class AUC |",
              "|---|---|---|---|---|---|"]
    for task in ("qg", "tau"):
        for name in ("resim-lora1", "scratch"):
            row = _summary(out, task, name)
            auc = lambda n: (f"{row[n]['auc_mean']:.3f}" if row.get(n) and   # noqa: E731
                             row[n].get("auc_mean") is not None else "–")
            lines.append(f"| {task} | {name} | {_acc(row.get('100'))} | {auc('100')} | "
                         f"{_acc(row.get('1000'))} | {auc('1000')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="study folder (data/, runs/, out/, report)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every sample's jets")
    ap.add_argument("--pretrain-steps", type=int, default=800)
    ap.add_argument("--batch-size", type=int, default=64, help="pre-training batch")
    ap.add_argument("--net-steps", type=int, default=150,
                    help="finetune/lora/scratch steps (LP-FT: a third head only)")
    ap.add_argument("--net-seeds", type=int, default=2, help="seeds of the network modes")
    ap.add_argument("--jobs", type=int, default=2, help="commands at a time (one thread each)")
    ap.add_argument("--phase", choices=("generate", "pretrain", "transfer", "all"),
                    default="all", help="run only this phase (default all)")
    ap.add_argument("--print", action="store_true", help="print the commands only")
    ap.add_argument("--exclude", nargs="*", default=[], metavar="STRATEGY",
                    help="transfer: leave out the jobs of these strategies (e.g. one still "
                         "pre-training)")
    ap.add_argument("--tables", action="store_true",
                    help="print the study's Markdown tables from its results and exit")
    a = ap.parse_args(argv)
    if a.tables:
        print(tables(Path(a.out).resolve()))
        return 0
    if a.scale <= 0 or a.pretrain_steps < 5 or min(a.net_steps, a.jobs, a.batch_size) < 1:
        ap.error("--scale must be > 0, --pretrain-steps >= 5, the others >= 1")
    out = Path(a.out).resolve()
    logs = out / "logs"
    if not a.print:
        logs.mkdir(parents=True, exist_ok=True)
    if a.phase in ("generate", "all"):
        run_phase("generate", generate_steps(out, a.scale, a.jobs), 1, a.print, logs)
    if a.phase in ("pretrain", "all"):
        run_phase("pre-train", pretrain_steps(out, a.pretrain_steps, a.batch_size), a.jobs,
                  a.print, logs)
    if a.phase in ("transfer", "all"):
        steps = [(args, done) for args, done in transfer_steps(out, a.net_steps, 64, a.net_seeds)
                 if not any(done.parent.name.startswith(f"{x}-") for x in a.exclude)]
        run_phase("transfer", steps, a.jobs, a.print, logs)
    report = ["jetfm", "report", str(out / "runs"), str(out / "out"), "--out",
              str(out / "report.html"), "--title", "jetfm self-supervised study"]
    if a.print:
        print(" ".join(report))
        return 0
    return subprocess.call(report) if a.phase == "all" else 0


if __name__ == "__main__":
    sys.exit(main())
