"""`jetfm` command line: generate | inspect | pretrain | evaluate | export | quickstart.

Every sub-command turns a `JetfmError` (bad input, impossible option, corrupt file) into one
line on stderr and exit code 2; nothing half-written is left behind (outputs are atomic).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import JetfmError


def _add_generate(sub) -> None:
    from .sim.processes import SAMPLES
    p = sub.add_parser("generate", help="simulate JetClass-II-compatible jets (Pythia 8 + FastJet + CMS-like detector)")
    p.add_argument("--sample", required=True, choices=sorted(SAMPLES), help="process family to simulate")
    p.add_argument("--jets", type=int, required=True, help="total number of jets (all shards)")
    p.add_argument("--out", required=True, help="output folder for the Parquet shards")
    p.add_argument("--seed", type=int, default=1, help="master seed; same seed, same bytes (default 1)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--shard", type=int, default=0, help="this machine's shard index (default 0)")
    p.add_argument("--num-shards", type=int, default=1, help="number of machines sharing the work")
    p.add_argument("--resim", type=int, default=0,
                   help="re-simulation: hadronise each parton-level event R times (RS3L pairs)")
    p.add_argument("--pileup", type=float, default=0.0,
                   help="mean number of overlaid minimum-bias interactions, e.g. 50 (slow)")
    p.add_argument("--jets-per-file", type=int, default=100_000, help="jets per Parquet file")
    p.add_argument("--chunk-events", type=int, default=100,
                   help="events per Pythia re-initialisation (one grid point per chunk)")
    p.add_argument("--detector-card", default="cms", metavar="NAME|FILE",
                   help="detector card: built-in name (cms, the default: JetClass-II's Delphes "
                        "CMS card) or a YAML file, e.g. an edited copy of the built-in card")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_generate)


def _run_generate(args) -> int:
    from .sim.generate import GenerateConfig, format_summary, generate
    cfg = GenerateConfig(sample=args.sample, jets=args.jets, out=args.out, seed=args.seed,
                         workers=args.workers, shard=args.shard, num_shards=args.num_shards,
                         resim=args.resim, pileup=args.pileup, jets_per_file=args.jets_per_file,
                         chunk_events=args.chunk_events, detector_card=args.detector_card)
    summary = generate(cfg, progress=not args.no_progress)
    print(format_summary(summary))
    return 0


def _add_inspect(sub) -> None:
    p = sub.add_parser("inspect", help="summary table and control plots of jet files")
    p.add_argument("files", nargs="+", help="Parquet/ROOT files, folders or globs")
    p.add_argument("--out", default="inspect", help="folder for the PNGs and summary.json")
    p.add_argument("--max-jets", type=int, default=None, help="read at most this many jets")
    p.set_defaults(func=_run_inspect)


def _run_inspect(args) -> int:
    from .data.inspect import inspect_files
    inspect_files(args.files, args.out, max_jets=args.max_jets)
    return 0


def _add_pretrain(sub) -> None:
    p = sub.add_parser("pretrain", help="pre-train a ParT backbone (Lightning; CPU, GPU, DDP)")
    p.add_argument("--strategy", default=None, help="pre-training strategy (supervised = Sophon)")
    p.add_argument("--data", nargs="+", default=None, help="Parquet/ROOT files or folders")
    p.add_argument("--out", required=True, help="run directory (re-running resumes it)")
    p.add_argument("--config", default=None, help="YAML run config; CLI options override it")
    p.add_argument("--preset", default=None, help="ParT size: tiny | small | default | sophon")
    p.add_argument("--data-config", default=None, help="data config: builtin name or YAML path")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--optimizer", default=None, help="adamw | ranger")
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--reweight", action="store_true", default=None,
                   help="flat (pT, m_SD) reweighting per label group, as Sophon")
    p.add_argument("--num-workers", type=int, default=None, help="DataLoader workers")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--accelerator", default=None, help="cpu | gpu | auto")
    p.add_argument("--devices", default=None, help="number of devices or 'auto'")
    p.add_argument("--num-nodes", type=int, default=None)
    p.add_argument("--precision", default=None, help="auto | 32-true | bf16-mixed | 16-mixed")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the backbone")
    p.add_argument("--val-every-steps", type=int, default=None)
    p.add_argument("--checkpoint-every-steps", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run_pretrain)


def _run_pretrain(args) -> int:
    from .pretrain.config import load_train_config
    from .pretrain.run import run_pretrain
    devices = args.devices
    if devices is not None and devices != "auto":
        try:
            devices = int(devices)
        except ValueError:
            raise JetfmError(f"--devices must be an integer or 'auto', got {devices!r}") from None
    cfg = load_train_config(
        args.config, strategy=args.strategy, data=args.data, preset=args.preset,
        data_config=args.data_config, max_steps=args.max_steps, batch_size=args.batch_size,
        reweight=args.reweight, num_workers=args.num_workers, seed=args.seed,
        accelerator=args.accelerator, devices=devices, num_nodes=args.num_nodes,
        precision=args.precision, compile=args.compile, val_every_steps=args.val_every_steps,
        checkpoint_every_steps=args.checkpoint_every_steps,
        **{"optimizer.lr": args.lr, "optimizer.name": args.optimizer,
           "optimizer.warmup_steps": args.warmup_steps})
    summary = run_pretrain(cfg, args.out, progress=not args.no_progress)
    if not summary["is_global_zero"]:   # one summary per job, not per DDP rank
        return 0
    print(f"run {summary['run_dir']}: {summary['global_step']} steps"
          + (f" (resumed from {summary['resumed_from']})" if summary["resumed_from"] else ""))
    for k, v in sorted(summary["metrics"].items()):
        print(f"  {k:<16} {v:.4g}")  # 4 significant digits: a learning rate of 2e-5 too
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics and plots of a run's model on test files")
    p.add_argument("run_dir", help="a `jetfm pretrain` run directory")
    p.add_argument("--data", nargs="+", default=None,
                   help="Parquet/ROOT files or folders (default: the run's test split)")
    p.add_argument("--out", required=True, help="folder for results.json and the plots")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--max-jets", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args) -> int:
    import yaml

    from .metrics.run_eval import evaluate_run, format_results
    data = args.data
    if data is None:
        cfg_path = Path(args.run_dir) / "config.yaml"
        if not cfg_path.is_file():
            raise JetfmError(f"{cfg_path} not found: is {args.run_dir} a `jetfm pretrain` run?")
        data = (yaml.safe_load(cfg_path.read_text()) or {}).get("splits", {}).get("test") or []
        if not data:
            raise JetfmError(f"{args.run_dir} has no test split; pass --data FILES")
    res = evaluate_run(args.run_dir, data, args.out, batch_size=args.batch_size,
                       max_jets=args.max_jets, progress=not args.no_progress)
    print(format_results(res))
    print(f"results: {Path(args.out) / 'results.json'}")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="ONNX export [class probabilities, embedding], checked with onnxruntime")
    p.add_argument("run_dir", help="a `jetfm pretrain` run directory")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument("--opset", type=int, default=17)
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from .metrics.run_eval import load_run
    from .models.export import export_onnx
    model, _, data_cfg = load_run(args.run_dir)
    info = export_onnx(model, args.out, n_features=data_cfg.num_features, opset=args.opset)
    print(f"wrote {args.out}; onnxruntime vs PyTorch max |diff|: "
          f"probs {info['max_abs_diff_probs']:.2e}, embedding {info['max_abs_diff_embedding']:.2e}")
    return 0


def _add_quickstart(sub) -> None:
    p = sub.add_parser("quickstart", help="small CPU-friendly end-to-end run: simulate, inspect, "
                                          "pre-train (Sophon-style), evaluate, export")
    p.add_argument("--out", default="quickstart_out", help="output folder")
    p.add_argument("--jets", type=int, default=None, help="jets per sample (default 300; --fast 60)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps of the tiny ParT (default 60; --fast 20)")
    p.add_argument("--fast", action="store_true",
                   help="smallest setting (60 jets per sample, 20 steps; under a minute): checks "
                        "that the whole chain works, not a physics result")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=_run_quickstart)


def _run_quickstart(args) -> int:
    import yaml

    from .data.inspect import inspect_files
    from .metrics.run_eval import evaluate_run, format_results, load_run
    from .models.export import export_onnx
    from .pretrain.config import load_train_config
    from .pretrain.run import run_pretrain
    from .sim.generate import GenerateConfig, format_summary, generate
    out = Path(args.out)
    if args.jets is None:
        args.jets = 60 if args.fast else 300
    if args.steps is None:
        args.steps = 20 if args.fast else 60
    folders = []
    for sample in ("res2p", "res34p", "qcd"):
        folder = out / "data" / sample
        # three files per sample, so train/val/test can be split by file
        cfg = GenerateConfig(sample=sample, jets=args.jets, out=str(folder), seed=1,
                             workers=args.workers, jets_per_file=max(1, args.jets // 3))
        print(format_summary(generate(cfg)), flush=True)
        folders.append(str(folder))
    inspect_files(folders, out / "inspect")
    train_cfg = load_train_config(data=folders, preset="tiny", max_steps=args.steps,
                                  batch_size=32, val_every_steps=max(1, args.steps // 3),
                                  checkpoint_every_steps=max(1, args.steps // 3),
                                  val_fraction=0.15, test_fraction=0.15)
    run_pretrain(train_cfg, out / "run")
    test_files = yaml.safe_load((out / "run" / "config.yaml").read_text())["splits"]["test"]
    res = evaluate_run(out / "run", test_files, out / "eval")
    print(format_results(res))
    model, _, data_cfg = load_run(out / "run")
    export_onnx(model, out / "run" / "model.onnx", n_features=data_cfg.num_features)
    print(f"\nquickstart done: data {out / 'data'}, plots {out / 'inspect'}, run {out / 'run'}, "
          f"metrics {out / 'eval' / 'results.json'}, ONNX {out / 'run' / 'model.onnx'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetfm", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"jetfm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    _add_inspect(sub)
    _add_pretrain(sub)
    _add_evaluate(sub)
    _add_export(sub)
    _add_quickstart(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except JetfmError as exc:
        print(f"jetfm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jetfm {args.command}: interrupted; finished files are kept, re-run to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
