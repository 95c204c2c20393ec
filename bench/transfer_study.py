"""The transfer study of the README (issue "transfer, report, quickstart"), one command:
generate a pre-training set and a disjoint transfer set, pre-train the five strategies (same
preset and steps; `resim` on re-simulated QCD pairs, the others on Res2P + Res34P + QCD), run
linear probes, fine-tuning and two baselines (a network trained from scratch, and a linear probe
on frozen random features) on tagging10, bb-dR and xbs, and write the report.

    python bench/transfer_study.py --out study                 # the measured configuration
    python bench/transfer_study.py --out study --tagging10-10k # tagging10 with 10k jets/class
    python bench/transfer_study.py --out study --print         # the commands, nothing run

Every step is a `jetfm` command; `--jobs N` runs N at a time, one thread each (a phase waits
for the previous one). A step whose output exists is skipped, so a killed study resumes.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jetfm.pretrain.registry import REGISTRY

STRATEGIES = tuple(REGISTRY)     # strategy defaults (JEPA's predictor too) scale with the preset


TAGGING10_FOLDERS = ("res2p", "res2p_c", "res34p", "res34p_b", "res34p_c_low", "res34p_c_high",
                     "res34p_emu_high", "res34p_emu_low", "qcd")
# `--tagging10-10k`: >= 16.7k jets in every class (10k in the pool after 25 % test, 15 %
# validation), made efficiently with the enriched decay tables (only the class priors change);
# each folder is sized from the per-class yields measured on 800-jet runs, with a margin.
# (folder, sample, jets, seed, options), 5000 jets per file. The first folder's 1000 events per
# Pythia init (instead of 100) turned out no faster: a chunk's surplus jets are dropped.
TAGGING10_10K_PLAN = (
    ("res34p_emu_high", "res34p", 115000, 306,
     ["--mass-range", "150", "200", "--y-decays", "charged-emu", "--chunk-events", "1000"]),
    ("res2p_nh_high", "res2p", 105000, 310,
     ["--mass-range", "100", "145", "--x-decays", "neutral-hadronic"]),
    ("res2p_ch_w", "res2p", 31000, 311, ["--mass-range", "70", "85", "--x-decays", "charged"]),
    ("res2p_nh_z", "res2p", 20000, 312,
     ["--mass-range", "80", "95", "--x-decays", "neutral-hadronic"]),
    ("qcd", "qcd", 13000, 313, []),
    ("res34p_emu_low", "res34p", 32000, 309,
     ["--mass-range", "100", "149", "--y-decays", "charged-emu"]),
    ("res34p_cq_high", "res34p", 52000, 307,
     ["--mass-range", "150", "200", "--y-decays", "charged-quarks"]),
    ("res34p_cq_low", "res34p", 60000, 308,
     ["--mass-range", "100", "149", "--y-decays", "charged-quarks"]),
)
TAGGING10_10K_CAP = 17000


def generate_steps(out: Path, scale: float, tagging10_10k: bool) -> list[tuple[list[str], None]]:
    n = lambda jets: str(int(jets * scale))            # noqa: E731
    # (folder, sample, jets, jets per file, seed, options); the pre-training set (seed 101) and
    # the transfer set (seed 202) are disjoint
    plan = [("pt/res2p", "res2p", 12000, 2000, 101, ["--mass-range", "70", "150"]),
            ("pt/res34p", "res34p", 8000, 2000, 101, ["--mass-range", "100", "200"]),
            ("pt/qcd", "qcd", 8000, 2000, 101, []),
            ("pt/qcd_resim", "qcd", 6000, 2000, 101, ["--resim", "2"]),
            ("tr/res2p", "res2p", 30000, 5000, 202, ["--mass-range", "70", "150"]),
            ("tr/res34p", "res34p", 15000, 5000, 202, ["--mass-range", "100", "200"]),
            # more Res34P: tagging10's rarest class (t->blv) needs >= 100 jets in the pool
            ("tr/res34p_b", "res34p", 6000, 3000, 203, ["--mass-range", "100", "200"]),
            # ... and for 1000 per class, >= 1667 in each class (25 % test, 15 % validation):
            # Higgs-window Res2P, and Res34P in the H (100-149) and t (150-200) windows, the
            # lepton classes from the charged-emu decays (6x more t->blv, H->lvqq per event)
            ("tr/res2p_c", "res2p", 5000, 5000, 301, ["--mass-range", "100", "150"]),
            ("tr/res34p_c_low", "res34p", 8000, 4000, 302, ["--mass-range", "100", "149"]),
            ("tr/res34p_c_high", "res34p", 10000, 5000, 303, ["--mass-range", "150", "200"]),
            ("tr/res34p_emu_high", "res34p", 11000, 5500, 304,
             ["--mass-range", "150", "200", "--y-decays", "charged-emu"]),
            ("tr/res34p_emu_low", "res34p", 5000, 5000, 305,
             ["--mass-range", "100", "149", "--y-decays", "charged-emu"]),
            ("tr/qcd", "qcd", 5000, 2500, 202, []),
            ("tr/xbs", "xbs", 3000, 1500, 202, [])]
    if tagging10_10k:
        plan += [(f"tr10k/{folder}", sample, jets, 5000, seed, extra)
                 for folder, sample, jets, seed, extra in TAGGING10_10K_PLAN]
    steps = []
    for folder, sample, jets, per_file, seed, extra in plan:
        target = out / "data" / folder
        # always run: `jetfm generate` skips the finished files and completes a killed folder
        steps.append((["generate", "--sample", sample, "--jets", n(jets), "--seed", str(seed),
                       "--jets-per-file", n(per_file), "--out", str(target), *extra], None))
    return steps


def pretrain_steps(out: Path, steps: int, batch: int) -> list[tuple[list[str], Path]]:
    d = out / "data" / "pt"
    result = []
    for s in STRATEGIES:
        data = [d / "qcd_resim"] if REGISTRY[s].pair_by else [d / "res2p", d / "res34p", d / "qcd"]
        run = out / "runs" / s
        result.append((["pretrain", "--strategy", s, "--preset", "small", "--data", *map(str, data),
                        "--max-steps", str(steps), "--batch-size", str(batch), "--seed", "1",
                        "--val-every-steps", str(steps // 4),
                        "--checkpoint-every-steps", str(steps // 4), "--out", str(run),
                        ], run / "model.safetensors"))
    return result


def tagging10_name(tagging10_10k: bool) -> str:
    """The output folder of the tagging10 runs (one test set per folder)."""
    return "tagging10-10k" if tagging10_10k else "tagging10"


def transfer_steps(out: Path, net_steps: int, batch: int, tagging10_10k: bool
                   ) -> list[tuple[list[str], Path]]:
    tr = out / "data" / "tr"
    folders, cap = [tr / k for k in TAGGING10_FOLDERS], 3000
    if tagging10_10k:
        folders += [out / "data" / "tr10k" / plan[0] for plan in TAGGING10_10K_PLAN]
        cap = TAGGING10_10K_CAP
    tagging10 = ["--data", *map(str, folders), "--max-per-class", str(cap)]
    tasks = {
        tagging10_name(tagging10_10k): (tagging10, "10,100,1000,10000,all", "100,1000"),
        "bb-dR": (["--data", str(tr / "res2p")], "5,all", "all"),
        # xbs vs a fixed mixture of labelled jets: the first file of each transfer sample
        "xbs": (["--data", str(tr / "xbs"), *(str(tr / k / f"{k}_00000.parquet")
                                              for k in ("res2p", "res34p", "qcd"))],
                "10,100,1000,all", "100"),
    }
    net = ["--steps", str(net_steps), "--batch-size", str(batch), "--seeds", "3"]
    result = []
    for name, (data, linear_n, net_n) in tasks.items():
        task = name.removesuffix("-10k")
        jobs = [(str(out / "runs" / s), s, "linear",
                 ["--labels-per-class", linear_n, "--seeds", "3"]) for s in STRATEGIES]
        # the probes' baseline: frozen random features of the same architecture
        jobs.append(("random", "random", "linear",
                     ["--labels-per-class", linear_n, "--seeds", "3", "--preset", "small"]))
        if task != "xbs":
            jobs += [(str(out / "runs" / s), s, "finetune", ["--labels-per-class", net_n, *net])
                     for s in STRATEGIES]
        jobs.append(("scratch", "scratch", "scratch",
                     ["--labels-per-class", net_n, "--preset", "small", *net]))
        for backbone, strategy, mode, extra in jobs:
            target = out / "out" / name / f"{strategy}-{mode}"
            result.append((["transfer", "--backbone", backbone, "--task", task, "--mode", mode,
                            *data, *extra, "--out", str(target)], target / "results.json"))
    return result


def run_phase(name: str, steps, jobs: int, dry: bool, logs: Path) -> None:
    todo = [(args, done) for args, done in steps if done is None or not done.exists()]
    print(f"== {name}: {len(todo)} of {len(steps)} steps to run", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def one(item):
        args, done = item
        cmd = ["jetfm", *args, "--no-progress"]
        if dry:
            print(shlex.join(cmd))
            return
        target = Path(args[args.index("--out") + 1])
        log = logs / (target.name + "-" + target.parent.name + ".log")
        t0 = time.time()
        with open(log, "w") as fh:
            rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        print(f"{'ok' if rc == 0 else 'FAILED'} ({time.time() - t0:.0f} s): {shlex.join(cmd)}",
              flush=True)
        if rc:
            raise SystemExit(f"step failed, see {log}")

    with ThreadPoolExecutor(1 if dry else max(1, jobs)) as pool:   # --print: in order, whole lines
        list(pool.map(one, todo))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="study folder (data/, runs/, out/, report)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every sample's jets")
    ap.add_argument("--pretrain-steps", type=int, default=1000)
    ap.add_argument("--net-steps", type=int, default=150, help="finetune/scratch steps per run")
    ap.add_argument("--batch-size", type=int, default=64, help="pre-training and network modes")
    ap.add_argument("--jobs", type=int, default=2, help="commands at a time (one thread each)")
    ap.add_argument("--print", action="store_true", help="print the commands only")
    ap.add_argument("--tagging10-10k", action="store_true",
                    help="tagging10 on a 10x larger transfer set (up to 17k jets per class, "
                         "linear probe up to 10k per class) into out/tagging10-10k")
    a = ap.parse_args(argv)
    if a.scale <= 0 or a.pretrain_steps < 4 or min(a.net_steps, a.jobs, a.batch_size) < 1:
        ap.error("--scale must be > 0, --pretrain-steps >= 4, --net-steps, --jobs and "
                 "--batch-size >= 1")
    out = Path(a.out).resolve()
    logs = out / "logs"
    if not a.print:
        logs.mkdir(parents=True, exist_ok=True)
    gen = generate_steps(out, a.scale, a.tagging10_10k)
    for args, _ in gen:        # generation uses the workers itself
        args += ["--workers", str(a.jobs)]
    run_phase("generate", gen, 1, a.print, logs)
    run_phase("pre-train", pretrain_steps(out, a.pretrain_steps, a.batch_size), a.jobs, a.print,
              logs)
    run_phase("transfer", transfer_steps(out, a.net_steps, a.batch_size, a.tagging10_10k),
              a.jobs, a.print, logs)
    # one tagging10 test set per report: the folder of this configuration, not the other
    results = [str(out / "out" / t) for t in (tagging10_name(a.tagging10_10k), "bb-dR", "xbs")]
    report = ["jetfm", "report", str(out / "runs"), *results, "--out",
              str(out / ("report-10k.html" if a.tagging10_10k else "report.html")),
              "--title", "jetfm transfer study"]
    if a.print:
        print(shlex.join(report))
        return 0
    return subprocess.call(report)


if __name__ == "__main__":
    sys.exit(main())
