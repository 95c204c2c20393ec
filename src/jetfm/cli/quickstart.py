"""`jetfm quickstart`: a small CPU-friendly end-to-end run — simulate, inspect, pre-train
(Sophon-style), evaluate, export."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .options import add_progress, add_workers


def register(sub) -> None:
    p = sub.add_parser("quickstart", help="small CPU-friendly end-to-end run: simulate, "
                                          "inspect, pre-train (Sophon-style), evaluate, export")
    p.add_argument("--out", default="quickstart_out", help="output folder")
    p.add_argument("--jets", type=int, default=None, help="jets per sample (default 300; --fast 60)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps of the tiny ParT (default 60; --fast 20)")
    p.add_argument("--fast", action="store_true",
                   help="smallest setting (60 jets per sample, 20 steps; under a minute): checks "
                        "that the whole chain works, not a physics result")
    add_workers(p, 2, "generator worker processes (default 2)")
    add_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.inspect import inspect_files
    from ..io import check_writable_folder
    from ..metrics.run_eval import evaluate_run, format_results, load_run
    from ..models.export import export_onnx
    from ..pretrain.config import load_train_config
    from ..pretrain.run import run_pretrain
    from ..runs import RunDir
    from ..sim.generate import GenerateConfig, format_summary, generate
    out = Path(args.out)
    jets = args.jets if args.jets is not None else (60 if args.fast else 300)
    steps = args.steps if args.steps is not None else (20 if args.fast else 60)
    # every setting checked before minutes of simulation
    if jets < 3:
        raise ConfigError(f"--jets must be >= 3 (three files per sample), got {jets}")
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    check_writable_folder(out)
    progress = not args.no_progress
    folders = []
    for sample in ("res2p", "res34p", "qcd"):
        folder = out / "data" / sample
        # three files per sample, so train/val/test can be split by file
        cfg = GenerateConfig(sample=sample, jets=jets, out=str(folder), seed=1,
                             workers=args.workers, jets_per_file=max(1, jets // 3))
        print(format_summary(generate(cfg, progress=progress)), flush=True)
        folders.append(str(folder))
    inspect_files(folders, out / "inspect")
    train_cfg = load_train_config(data=folders, preset="tiny", max_steps=steps,
                                  batch_size=32, val_every_steps=max(1, steps // 3),
                                  checkpoint_every_steps=max(1, steps // 3),
                                  val_fraction=0.15, test_fraction=0.15)
    run_pretrain(train_cfg, out / "run", progress=progress)
    res = evaluate_run(out / "run", RunDir(out / "run").split("test"), out / "eval",
                       progress=progress)
    print(format_results(res))
    model, _, data_cfg = load_run(out / "run")
    export_onnx(model, out / "run" / "model.onnx", n_features=data_cfg.num_features)
    print(f"\nquickstart done: data {out / 'data'}, plots {out / 'inspect'}, run {out / 'run'}, "
          f"metrics {out / 'eval' / 'results.json'}, ONNX {out / 'run' / 'model.onnx'}")
    return 0
