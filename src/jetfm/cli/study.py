"""`jetfm study PLAN --out DIR`: a whole study from one YAML plan (docs/studies.md) — generate,
pre-train, evaluate, export, transfer, anomaly searches and the report, each step a `jetfm`
command; a finished step is skipped, so re-running resumes."""
from __future__ import annotations

import contextlib
import io

from ..errors import ConfigError
from .options import add_out, positive


def register(sub) -> None:
    from ..study import builtin_plans
    p = sub.add_parser("study", help="run a study plan (YAML): generate, pre-train, "
                                     "evaluate, transfer, report; resumable, N steps at a time")
    p.add_argument("plan", metavar="PLAN",
                   help="a plan file (a path ending in .yaml; docs/studies.md says how to "
                        f"write one) or a built-in plan: {', '.join(builtin_plans())}")
    add_out(p, "study folder: data/, runs/, eval/, transfer/, anomaly/, logs/ (each step's "
               "output), report.html; re-running the same plan resumes it")
    p.add_argument("--print", action="store_true", dest="dry",
                   help="print the commands (finished steps commented out) and run nothing")
    p.add_argument("--jobs", type=int, default=1,
                   help="steps run at once within a phase, each with --threads CPUs/N "
                        "(--threads: the CPUs to share, default those this process may "
                        "use); 1 runs them one after the other in this process (default 1)")
    p.set_defaults(func=run)


def check_commands(plan, steps) -> None:
    """Every step's command line as `jetfm` would parse it, before anything runs: a misspelt
    option or a bad value is one line naming the plan key, not a failure hours later."""
    from . import build_parser, walk_parsers
    parser = build_parser()
    for _, p in walk_parsers(parser):     # a plan spells options out: no --jets-per-fil
        p.allow_abbrev = False
    for step in steps:
        captured = io.StringIO()
        try:
            with contextlib.redirect_stderr(captured):
                parser.parse_args([*step.argv, *step.runtime_options(1, 1)])
        except SystemExit:
            lines = [line for line in captured.getvalue().splitlines() if line.strip()]
            why = lines[-1] if lines else "not a valid command line"
            raise ConfigError(f"plan {plan.name}: {step.where}: {why}") from None


def run(args) -> int:
    from pathlib import Path

    from ..study import load_plan, plan_steps, run_study
    from . import main
    positive(args.jobs, "--jobs")
    plan = load_plan(args.plan)
    check_commands(plan, plan_steps(plan, Path(args.out)))
    report = run_study(plan, args.out, jobs=args.jobs, dry=args.dry, cpus=args.threads,
                       main=main)
    if report is not None:
        print(f"\nstudy {plan.name} done; report: {report}")
    return 0
