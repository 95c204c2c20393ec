"""The quickstart pipeline: simulate, pre-train every strategy, evaluate, transfer, report.

Sized for a 2-core CPU: the default (`QUICK`) answers in about 10 minutes with a learned
result (every strategy, small), `full` is the 25-minute study, `fast` a few minutes (a check
that the chain works, not a physics result). Res2P and Res34P are generated in the mass
ranges of tagging10's classes (`--mass-range`) so that its Higgs-, W/Z- and top-like classes are
populated in a small sample; the transfer tasks read the pre-training jets (the test split of
each transfer run is fixed by its test seed).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

from .pretrain.registry import REGISTRY

STRATEGIES = tuple(REGISTRY)     # every strategy; their defaults scale with the preset
TASKS = ("tagging10", "bb-dR")
MAX_PER_CLASS = 400      # transfer: at most this many jets per class (QCD would dominate)


@dataclass(frozen=True)
class QuickstartSize:
    jets: int               # jets per JetClass-II sample
    steps: int              # pre-training steps per strategy
    labels: tuple           # transfer label sweep (jets per class; None = all)
    seeds: int
    scratch_steps: int
    batch_size: int
    resim_jets: int         # QCD jets with each shower hadronised twice (resim pairs)


QUICK = QuickstartSize(jets=900, steps=120, labels=(10, None), seeds=1, scratch_steps=60,
                       batch_size=64, resim_jets=900)
FULL = QuickstartSize(jets=2400, steps=700, labels=(5, 10, None), seeds=2, scratch_steps=150,
                      batch_size=64, resim_jets=1200)
# resim: about half the re-simulated jets form clean pairs (the same jet in both replicas),
# so the smallest setting needs 300 of them for full batches of pairs in every split
FAST = QuickstartSize(jets=150, steps=20, labels=(None,), seeds=1, scratch_steps=10,
                      batch_size=16, resim_jets=300)


def _say(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def _generate(out: Path, size: QuickstartSize, workers: int, progress: bool) -> dict[str, str]:
    from .sim.generate import GenerateConfig, format_summary, generate
    plan = {"res2p": dict(jets=size.jets, mass_range=(70.0, 150.0)),
            "res34p": dict(jets=size.jets, mass_range=(120.0, 200.0)),
            "qcd": dict(jets=size.jets),
            "qcd_resim": dict(jets=size.resim_jets, resim=2)}
    folders = {}
    for name, kw in plan.items():
        folder = out / "data" / name
        jets = kw.pop("jets")
        # six files per sample, so train/val/test can be split by file and train keeps four
        cfg = GenerateConfig(sample=name.split("_")[0], jets=jets, out=str(folder), seed=1,
                             workers=workers, jets_per_file=max(2, jets // 6 // 2 * 2), **kw)
        _say(f"generate {name}: {jets} jets")
        print(format_summary(generate(cfg, progress=progress)), flush=True)
        folders[name] = str(folder)
    return folders


def _pretrain(out: Path, folders: dict, size: QuickstartSize, progress: bool) -> dict[str, Path]:
    from .pretrain.config import load_train_config
    from .pretrain.run import run_pretrain
    labelled = [folders[k] for k in ("res2p", "res34p", "qcd")]
    runs = {}
    for strategy in STRATEGIES:
        data = [folders["qcd_resim"]] if REGISTRY[strategy].pair_by else labelled
        cfg = load_train_config(data=data, strategy=strategy, preset="tiny",
                                max_steps=size.steps, batch_size=size.batch_size,
                                val_every_steps=max(1, size.steps // 4),
                                checkpoint_every_steps=max(1, size.steps // 4),
                                val_fraction=0.15, test_fraction=0.15)
        _say(f"pre-train {strategy} ({size.steps} steps, tiny ParT)")
        t0 = time.time()
        run_pretrain(cfg, out / "runs" / strategy, progress=progress)
        print(f"{strategy}: {time.time() - t0:.0f} s", flush=True)
        runs[strategy] = out / "runs" / strategy
    return runs


def _transfer(out: Path, runs: dict, folders: dict, size: QuickstartSize,
              progress: bool) -> list[Path]:
    from .transfer.run import TransferConfig, transfer
    data = tuple(folders[k] for k in ("res2p", "res34p", "qcd"))
    results = []
    for task in TASKS:
        jobs = [(str(run), "linear", name) for name, run in runs.items()]
        # the two baselines: a network trained from scratch, a probe on frozen random features
        jobs += [("scratch", "scratch", "scratch"), ("random", "linear", "random")]
        for backbone, mode, name in jobs:
            target = out / "transfer" / task / f"{name}-{mode}"
            _say(f"transfer {task}: {name} / {mode}")
            cfg = TransferConfig(backbone=backbone, task=task, mode=mode, data=data,
                                 out=str(target), labels_per_class=size.labels,
                                 seeds=size.seeds, steps=size.scratch_steps, preset="tiny",
                                 max_per_class=MAX_PER_CLASS)
            res = transfer(cfg, progress=progress)
            best = res["summary"][-1]
            print(f"{task} {name}/{mode}: {len(res['classes'])} classes, "
                  f"{best['labels_per_class']}/class accuracy {best['accuracy_mean']:.3f}",
                  flush=True)
            results.append(target)
    return results


SIZES = {"fast": FAST, "quick": QUICK, "full": FULL}


def run_quickstart(out: str | Path, size: str = "quick", workers: int = 2,
                   progress: bool = True) -> Path:
    """Everything, into `out`; returns the report's path."""
    from .io import check_writable_folder
    from .metrics.run_eval import evaluate_run, format_results, load_run
    from .models.export import export_onnx
    from .report import build_report
    from .report.output import check_outputs
    from .runs import RunDir
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    out = Path(out)
    check_writable_folder(out)
    if size not in SIZES:
        raise ConfigError(f"quickstart size {size!r}: choose from {', '.join(SIZES)}")
    fast, size = size == "fast", SIZES[size]
    # the report is written last: refuse a user's report.html/.md now, not after the training
    check_outputs(out / "report.html", out / "report.md", [])
    t0 = time.time()
    folders = _generate(out, size, workers, progress)
    runs = _pretrain(out, folders, size, progress)
    _say("evaluate the supervised (Sophon) backbone on its test split")
    res = evaluate_run(runs["supervised"], RunDir(runs["supervised"]).split("test"),
                       out / "eval", progress=progress)
    print(format_results(res), flush=True)
    model, _, data_cfg = load_run(runs["supervised"])
    export_onnx(model, runs["supervised"] / "model.onnx", n_features=data_cfg.num_features)
    transfers = _transfer(out, runs, folders, size, progress)
    _say("report")
    rep = build_report([*runs.values(), out / "eval", *transfers], out / "report.html",
                       title="jetfm quickstart" + (" (--fast: a smoke test, not a result)"
                                                   if fast else ""))
    for line in rep["headlines"]:
        print(f"  {line}")
    print(f"quickstart: {time.time() - t0:.0f} s", flush=True)
    return Path(rep["html"])
