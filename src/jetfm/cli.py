"""`jetfm` command line: generate | inspect | quickstart.

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
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_generate)


def _run_generate(args) -> int:
    from .sim.generate import GenerateConfig, format_summary, generate
    cfg = GenerateConfig(sample=args.sample, jets=args.jets, out=args.out, seed=args.seed,
                         workers=args.workers, shard=args.shard, num_shards=args.num_shards,
                         resim=args.resim, pileup=args.pileup, jets_per_file=args.jets_per_file,
                         chunk_events=args.chunk_events)
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


def _add_quickstart(sub) -> None:
    p = sub.add_parser("quickstart", help="small CPU-friendly end-to-end run")
    p.add_argument("--out", default="quickstart_out", help="output folder")
    p.add_argument("--jets", type=int, default=200, help="jets per sample")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=_run_quickstart)


def _run_quickstart(args) -> int:
    from .data.inspect import inspect_files
    from .sim.generate import GenerateConfig, format_summary, generate
    out = Path(args.out)
    files = []
    for sample in ("res2p", "res34p", "qcd"):
        cfg = GenerateConfig(sample=sample, jets=args.jets, out=str(out / "data" / sample),
                             seed=1, workers=args.workers, jets_per_file=args.jets)
        summary = generate(cfg)
        print(format_summary(summary), flush=True)
        files.append(str(out / "data" / sample))
    inspect_files(files, out / "inspect")
    print(f"\nquickstart done: data in {out / 'data'}, plots in {out / 'inspect'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetfm", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"jetfm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    _add_inspect(sub)
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
