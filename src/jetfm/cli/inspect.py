"""`jetfm inspect`: summary table and control plots of jet files."""
from __future__ import annotations

from .options import add_max_jets


def register(sub) -> None:
    p = sub.add_parser("inspect", help="summary table and control plots of jet files")
    p.add_argument("files", nargs="+", help="Parquet/ROOT files, folders or globs")
    p.add_argument("--out", default="inspect", help="folder for the PNGs and summary.json")
    add_max_jets(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.inspect import inspect_files
    inspect_files(args.files, args.out, max_jets=args.max_jets)
    return 0
