"""`jetfm quickstart`: the whole chain on a 2-core CPU — simulate, pre-train every strategy,
evaluate, transfer to tagging10 and bb-dR, and write the side-by-side report. It runs the
built-in plan quickstart (--fast: quickstart-fast, --full: quickstart-full) as
`jetfm study PLAN --out OUT` would."""
from __future__ import annotations

from .options import add_workers


def register(sub) -> None:
    p = sub.add_parser("quickstart", help="the whole chain on a CPU: simulate, pre-train every "
                                          "strategy, evaluate, transfer, report")
    p.add_argument("--out", default="quickstart_out", help="output folder (default quickstart_out)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--fast", action="store_const", dest="size", const="fast",
                      help="smallest setting (a few minutes): checks that the whole chain "
                           "works, not a physics result")
    size.add_argument("--full", action="store_const", dest="size", const="full",
                      help="the larger study (about 25 minutes on 2 CPU cores)")
    p.set_defaults(size="quick")
    add_workers(p, 2, "generator worker processes (default 2)")
    p.add_argument("--no-progress", action="store_true",
                   help="print only the step lines (== ...); each step's own output stays in "
                        "OUT/logs/")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..quickstart import run_quickstart
    from . import main
    # every step gets --threads of its own, so ours must be passed on, not only applied here
    report = run_quickstart(args.out, size=args.size, workers=args.workers,
                            echo=not args.no_progress, main=main, cpus=args.threads)
    print(f"\nquickstart done; open the report: {report}\n"
          f"next: its Markdown summary is {report.with_suffix('.md')}; re-running the same "
          "command resumes; the guides in docs/ show each command on your own samples "
          "(jetfm COMMAND --help lists the options)")
    return 0
