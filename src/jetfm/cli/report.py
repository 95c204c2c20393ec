"""`jetfm report`: one self-contained HTML page (+ Markdown summary) comparing pre-training
strategies from pretrain runs, `jetfm evaluate` and `jetfm transfer` results."""
from __future__ import annotations

import sys

from .options import add_out


def register(sub) -> None:
    p = sub.add_parser("report", help="HTML + Markdown report: which pre-training helps, "
                                      "where, and by how much")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="pretrain run directories, `jetfm evaluate` / `jetfm transfer` "
                        "results (folders or results.json), or folders holding them "
                        "(searched recursively)")
    add_out(p, "the HTML report to write (the Markdown summary goes next to it, same name "
               "with .md); an existing file is replaced only if `jetfm report` wrote it")
    p.add_argument("--title", default=None, help="report title (default: jetfm report)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..report import build_report
    rep = build_report(args.paths, args.out, title=args.title)
    for line in rep["warnings"]:   # the report is written; these say what it does not compare
        print(f"jetfm report: warning: {line}", file=sys.stderr)
    inputs = rep["inputs"]
    print(f"read {len(inputs.transfer)} transfer result(s), {len(inputs.pretrain)} "
          f"pre-training run(s), {len(inputs.evaluate)} evaluation(s), {len(inputs.anomaly)} "
          "anomaly search(es)")
    for line in rep["headlines"]:
        print(f"  {line}")
    print(f"report: {rep['html']}\nsummary: {rep['markdown']}")
    return 0
