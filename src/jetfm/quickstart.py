"""The quickstart: a built-in study plan (src/jetfm/plans/quickstart*.yaml) run by the study
runner — simulate, pre-train every strategy, evaluate the supervised (Sophon-style) run and
export it to ONNX, transfer every backbone to tagging10 and bb-dR against the two baselines,
report.

Sized for a 2-core CPU: the default (`quick`) answers in about 10 minutes with a learned
result (every strategy, small), `full` is the 25-minute study, `fast` a few minutes (a check
that the chain works, not a physics result). What each size generates and trains is in its
plan; the steps run one after the other in this process, each `jetfm` command's output
shown when it ends and kept in OUT/logs/.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from .errors import ConfigError

PLANS = {"fast": "quickstart-fast", "quick": "quickstart", "full": "quickstart-full"}


def run_quickstart(out: str | Path, size: str = "quick", workers: int = 2, echo: bool = True,
                   main: Callable[[list[str]], int] | None = None,
                   say: Callable[[str], None] = print, cpus: int | None = None) -> Path:
    """Everything, into `out`; returns the report's path. `workers`: generator processes;
    `echo`: show each step's output; `main`: jetfm's command-line entry point (the steps run
    in this process; without it each is a `jetfm` process); `cpus`: each step's --threads
    (default: the CPUs this process may use)."""
    from .study import load_plan, run_study
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if size not in PLANS:
        raise ConfigError(f"quickstart size {size!r}: choose from {', '.join(PLANS)}")
    t0 = time.time()
    report = run_study(load_plan(PLANS[size]), out, jobs=1, echo=echo, workers=workers,
                       main=main, say=say, cpus=cpus)
    say(f"\nquickstart: {time.time() - t0:.0f} s")
    return report
