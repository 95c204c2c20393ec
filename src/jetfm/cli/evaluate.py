"""`jetfm evaluate`: metrics and plots of a run's model on test files."""
from __future__ import annotations

from pathlib import Path

from .options import add_batch_size, add_data, add_max_jets, add_out, add_progress


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics and plots of a run's model on test files")
    p.add_argument("run_dir", help="a `jetfm pretrain` run directory")
    add_data(p, help="Parquet/ROOT files, folders or globs (default: the run's test split, "
                     "as recorded in its config.yaml)")
    add_out(p, "folder for results.json and the plots")
    add_batch_size(p, 512)
    add_max_jets(p)
    add_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..evaluate_run import evaluate_run, format_results
    res = evaluate_run(args.run_dir, args.data, args.out, batch_size=args.batch_size,
                       max_jets=args.max_jets, progress=not args.no_progress)
    print(format_results(res))
    print(f"results: {Path(args.out) / 'results.json'}")
    return 0
