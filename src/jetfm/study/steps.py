"""A plan expanded into steps: one `jetfm` command line each, in phases (generate, then
pre-train, then the jobs that read the runs, then the report), with the output that says a
step has finished.

Study folder layout: data/NAME (generate), runs/NAME (pretrain), eval/RUN (evaluate),
runs/RUN/model.onnx (export), transfer/TASK/BACKBONE-MODE[-REPRESENTATION][-SUFFIX],
anomaly/NAME, report.html + report.md, logs/STEP.log.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError
from .plan import Job, Plan

PHASES = ("generate", "pretrain", "evaluate", "transfer", "anomaly", "report")
_NO_PROGRESS = ("generate", "pretrain", "evaluate", "transfer", "anomaly")   # accept it


@dataclass(frozen=True)
class Step:
    id: str                    # unique, no '/'; also the name of its log (logs/ID.log)
    phase: str
    command: str               # the jetfm command (generate, pretrain, ... anomaly)
    argv: tuple[str, ...]      # the command line after `jetfm`, without the runner's options
    marker: Path | None        # the output that says it finished; None: always run
    where: str                 # the plan key it comes from
    summary: str               # what it does, in a few words
    needs: tuple[str, ...] = ()   # the steps whose outputs it reads: it reruns after them

    def runtime_options(self, threads: int, workers: int) -> list[str]:
        """What the runner adds: CPUs per step, no progress bars (the output goes to a log).
        They never change a result, so a step is the same step whatever they are."""
        extra = ["--threads", str(threads)]
        if self.command == "generate":
            extra += ["--workers", str(workers)]
        if self.command in _NO_PROGRESS:
            extra.append("--no-progress")
        return extra


def _flags(options) -> list[str]:
    """--key value for each option: a list gives several values, true a bare flag, false or
    null leaves the option out."""
    out = []
    for key, value in dict(options).items():
        if value is None or value is False:
            continue
        out.append(f"--{key}")
        if value is True:
            continue
        out += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return out


def plan_steps(plan: Plan, study: Path) -> list[Step]:
    """Every step of `plan` for the study folder `study` (absolute paths in the commands, so
    each runs from any working directory)."""
    study = Path(study).absolute()
    data = {name: study / "data" / name for name in plan.data}
    runs = {name: study / "runs" / name for name in plan.runs}

    def ref(r: str) -> str:
        return str(study / "data" / r)

    steps = []
    for name, options in plan.data.items():
        out = data[name]
        steps.append(Step(_id("generate", name), "generate", "generate",
                          ("generate", *_flags(options), "--out", str(out)),
                          out / "generate_config.yaml", f"data.{name}",
                          f"{options['jets']} {options['sample']} jets"
                          + (f", each shower hadronised {options['resim']} times"
                             if plan.paired(name) else "")))
    for name, run in plan.runs.items():
        opts = run.options
        steps.append(Step(f"pretrain-{name}", "pretrain", "pretrain",
                          ("pretrain", "--strategy", run.strategy, "--data",
                           *(str(data[d]) for d in run.data), *_flags(opts), "--out",
                           str(runs[name])),
                          runs[name] / "model.safetensors", f"pretrain (run {name})",
                          ", ".join([f"strategy {run.strategy}", *(f"{k} {opts[k]}" for k in
                                     ("preset", "max-steps") if k in opts)]),
                          tuple(_id("generate", d) for d in run.data)))
    for job in plan.jobs:
        step = _job_step(job, study, runs, ref)
        steps.append(dataclasses.replace(step, needs=_needs(job, plan)))
    report_inputs = ([str(study / "runs")] if plan.runs else []) + \
        [str(study / j.out) for j in plan.jobs if j.kind == "evaluate"] + \
        [str(study / k) for k in ("transfer", "anomaly") if any(j.kind == k for j in plan.jobs)]
    if report_inputs:
        steps.append(Step("report", "report", "report",
                          ("report", *report_inputs, "--out", str(study / "report.html"),
                           "--title", plan.title), None, "report",
                          f"{len(report_inputs)} folders into report.html"))
    _check_unique(plan, steps)
    return steps


def _job_step(job: Job, study: Path, runs: dict, ref) -> Step:
    out = study / job.out
    tail = [*_flags(job.options), "--out", str(out)]
    if job.kind == "evaluate":
        data = ["--data", *map(ref, job.data)] if job.data else []
        argv = ("evaluate", str(runs[job.run]), *data, *tail)
        return Step(_id("evaluate", job.out), "evaluate", "evaluate", argv, out / "results.json",
                    job.where, f"run {job.run} on " + ("its test split" if not job.data else
                                                       ", ".join(job.data)))
    if job.kind == "export":
        argv = ("export", str(runs[job.run]), *tail)
        return Step(f"export-{job.run}", "evaluate", "export", argv, out, job.where,
                    f"run {job.run} to {out.name}")
    if job.kind == "transfer":
        backbone = str(runs[job.run]) if job.run in runs else job.run
        argv = ["transfer", "--backbone", backbone, "--task", job.task, "--mode", job.mode,
                "--data", *map(ref, job.data)]
        if job.labels is not None:
            argv += ["--labels-per-class", job.labels]
        if job.seeds is not None:
            argv += ["--seeds", str(job.seeds)]
        if job.representation is not None:
            argv += ["--representation", job.representation]
        return Step(_id("transfer", job.task, out.name), "transfer", "transfer",
                    (*argv, *tail), out / "results.json", job.where,
                    f"{job.task}, backbone {job.run}, mode {job.mode}"
                    + (f", representation {job.representation}" if job.representation else ""))
    argv = ["anomaly", job.mode]
    for key, values in job.extra:
        argv.append(f"--{key}")
        for v in values:
            if key == "inputs":
                kind, sep, run = v.partition(":")
                argv.append(f"{kind}:{runs[run]}" if sep else v)
            elif key == "signal" and "=" in v:
                label, _, r = v.partition("=")
                argv.append(f"{label}={ref(r)}")
            else:
                argv.append(ref(v))
    return Step(f"anomaly-{out.name}", "anomaly", "anomaly", (*argv, *tail),
                out / "results.json", job.where, f"{job.mode} search")


def _needs(job: Job, plan: Plan) -> tuple[str, ...]:
    """The generate and pretrain steps whose outputs a job reads."""
    refs, runs = list(job.data), [job.run] if job.run in plan.runs else []
    for key, values in job.extra:
        for v in values:
            if key == "inputs":
                runs += [v.partition(":")[2]] if ":" in v else []
            else:
                refs.append(v.partition("=")[2] if key == "signal" and "=" in v else v)
    data = [max((n for n in plan.data if r == n or r.startswith(n + "/")), key=len)
            for r in refs]
    return tuple(dict.fromkeys([*(_id("generate", d) for d in data),
                                *(_id("pretrain", r) for r in runs)]))


def _id(*parts: str) -> str:
    return "-".join(parts).replace("/", "-")


def _check_unique(plan: Plan, steps: list[Step]) -> None:
    seen = {}
    for s in steps:
        if s.id in seen:
            raise ConfigError(f"plan {plan.name}: {s.where} and {seen[s.id]}: both make a "
                              f"step named {s.id} (its log name); rename one")
        seen[s.id] = s.where


def output_exists(step: Step) -> bool:
    """The step's output is there and complete: generate's record of its files and every
    file it names; the results file (or model) any other command writes last."""
    if step.marker is None:
        return False
    if step.command != "generate":
        return step.marker.is_file()
    try:
        record = yaml.safe_load(step.marker.read_text())
        files = record["files"]
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return False
    return isinstance(files, list) and all(
        isinstance(f, str) and (step.marker.parent / f).is_file() for f in files)


__all__ = ["Step", "PHASES", "plan_steps", "output_exists"]
