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
        ("qgtau/tau", "tau", 1000, 500, 404, AK4)]
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
    # the re-simulation paper: LoRA rank 1 on the contrastive backbone vs fully supervised
    # training (scratch), over a label sweep, on qg and tau
    for task, data in (("qg", qgt[:2]), ("tau", qgt[2:] + [str(out / "data" / "tr/qcd")])):
        sweep = ["--labels-per-class", "10,100,1000", *net]
        jobs.append(_job(out, task, "resim-lora1", runs["resim"], "lora", data,
                         [*sweep, "--lora-rank", "1"]))
        jobs.append(_job(out, task, "scratch", "scratch", "scratch", data,
                         [*sweep, "--preset", "small"]))
    return jobs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="study folder (data/, runs/, out/, report)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every sample's jets")
    ap.add_argument("--pretrain-steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=128, help="pre-training batch")
    ap.add_argument("--net-steps", type=int, default=200, help="finetune/lora/scratch steps")
    ap.add_argument("--net-seeds", type=int, default=2, help="seeds of the network modes")
    ap.add_argument("--jobs", type=int, default=2, help="commands at a time (one thread each)")
    ap.add_argument("--phase", choices=("generate", "pretrain", "transfer", "all"),
                    default="all", help="run only this phase (default all)")
    ap.add_argument("--print", action="store_true", help="print the commands only")
    a = ap.parse_args(argv)
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
        run_phase("transfer", transfer_steps(out, a.net_steps, 64, a.net_seeds), a.jobs,
                  a.print, logs)
    report = ["jetfm", "report", str(out / "runs"), str(out / "out"), "--out",
              str(out / "report.html"), "--title", "jetfm self-supervised study"]
    if a.print:
        print(" ".join(report))
        return 0
    return subprocess.call(report) if a.phase == "all" else 0


if __name__ == "__main__":
    sys.exit(main())
