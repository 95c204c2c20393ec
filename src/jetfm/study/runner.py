"""Run a plan's steps: phase after phase (generate, pre-train, evaluate/export, transfer,
anomaly, report), up to N steps at a time within a phase, each a `jetfm` command (a process
of its own; one at a time: in this process) with its output in logs/STEP.log. A step is
skipped when its output is there and its record (logs/STEP.done, written when it succeeded)
holds the same command: a killed or failed study resumes where it stopped, and a step whose
plan entry changed runs again, with every step that reads its output."""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, IO

from ..errors import ConfigError, JetfmError
from ..interrupt import EXIT_CODE, Interrupted
from ..io import make_folders, write_json
from ..outdir import OutputFolder
from ..threads import available_cpus
from .plan import Plan
from .steps import PHASES, Step, output_exists, plan_steps


class StepFailed(JetfmError):
    """A step's command exited with an error; its log says why."""


@dataclass(frozen=True)
class Resources:
    threads: int      # --threads of every step
    workers: int      # --workers of the generate steps

    @classmethod
    def share(cls, jobs: int, cpus: int | None = None, workers: int | None = None):
        """The CPUs split between the steps that run at once."""
        threads = max(1, (cpus or available_cpus()) // jobs)
        return cls(threads, workers or threads)


def command_line(step: Step, res: Resources) -> list[str]:
    return ["jetfm", *step.argv, *step.runtime_options(res.threads, res.workers)]


def is_finished(step: Step, logs: Path, pending: set[str] = frozenset()) -> bool:
    """Its output is there, its record holds the same command, and nothing it reads was
    made again after it (nor is about to be: `pending`)."""
    stamp = logs / f"{step.id}.done"
    try:
        recorded = json.loads(stamp.read_text())
        made = stamp.stat().st_mtime_ns
    except (OSError, ValueError):
        return False
    if not (isinstance(recorded, dict) and recorded.get("command") == list(step.argv)
            and output_exists(step)) or pending.intersection(step.needs):
        return False
    for need in step.needs:
        try:
            if (logs / f"{need}.done").stat().st_mtime_ns > made:
                return False
        except OSError:
            return False
    return True


def run_study(plan: Plan, out: str | os.PathLike, jobs: int = 1, dry: bool = False,
              echo: bool = False, cpus: int | None = None, workers: int | None = None,
              say: Callable[[str], None] = print,
              main: Callable[[list[str]], int] | None = None) -> Path | None:
    """Every step of `plan` into the study folder `out` (claimed for this plan: a folder of
    another plan or someone else's files is refused). `dry`: print the commands only.
    `echo`: show each step's output when it ends. `cpus`: to share between the steps that
    run at once (default: those this process may use). `main`: jetfm's command-line entry
    point, to run the steps in this process when `jobs` is 1 (else each is a `jetfm`
    process). Returns the report's path, if any."""
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    study = Path(out).absolute()
    steps = plan_steps(plan, study)
    folder = OutputFolder(study, "study", identity={"plan": plan.name})
    res = Resources.share(jobs, cpus, workers)
    if dry:
        folder.check()
        print_steps(steps, study / "logs", res, say)
        return None
    with folder:
        for phase in PHASES:
            group = [s for s in steps if s.phase == phase]
            if group:
                run_phase(phase, group, study / "logs", jobs, res, echo, say, main)
    return study / "report.html" if any(s.phase == "report" for s in steps) else None


def print_steps(steps: list[Step], logs: Path, res: Resources, say) -> None:
    """The commands, phase by phase, as a shell script would run them one after the other;
    the finished steps commented out."""
    pending: set[str] = set()
    for phase in PHASES:
        group = [s for s in steps if s.phase == phase]
        if not group:
            continue
        done = [is_finished(s, logs, pending) for s in group]
        pending.update(s.id for s, finished in zip(group, done) if not finished)
        say(f"# == {phase}: {done.count(False)} of {len(group)} steps to run")
        for step, finished in zip(group, done):
            line = shlex.join(command_line(step, res))
            say(f"# finished: {line}" if finished else line)


@dataclass
class _Running:
    step: Step
    proc: subprocess.Popen
    log: Path
    handle: IO
    started: float


def run_phase(phase: str, group: list[Step], logs: Path, jobs: int, res: Resources,
              echo: bool, say, main: Callable[[list[str]], int] | None = None) -> None:
    """The unfinished steps of one phase, `jobs` at a time. After a failure no new step
    starts; the running ones finish, then StepFailed names the first failed step and its log.
    `main` (the jetfm command line's entry point) runs one step at a time in this process."""
    todo = [s for s in group if not is_finished(s, logs)]
    at_once = f", {min(jobs, len(todo))} at a time" if min(jobs, len(todo)) > 1 else ""
    say(f"\n== {phase}: {len(todo)} of {len(group)} steps to run{at_once}")
    if not todo:
        return
    make_folders(logs)
    if main is not None and jobs == 1:
        for step in todo:
            failure = _run_here(step, logs, res, main, echo, say)
            if failure:
                raise StepFailed(failure)
        return
    running: list[_Running] = []
    failures: list[str] = []
    try:
        while todo or running:
            while todo and not failures and len(running) < jobs:
                running.append(_start(todo.pop(0), logs, res, say))
            if not running:
                break
            time.sleep(0.1)
            for item in [r for r in running if r.proc.poll() is not None]:
                running.remove(item)
                item.handle.close()
                failure = _finish(item.step, item.proc.returncode, item.log,
                                  time.time() - item.started, logs, echo, say)
                if failure:
                    failures.append(failure)
    finally:      # interrupted (Ctrl-C, SIGTERM): stop the steps this study started
        for item in running:
            item.proc.terminate()
        for item in running:
            try:
                item.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                item.proc.kill()
                item.proc.wait()
            item.handle.close()
    if failures:
        raise StepFailed(failures[0])


def _open_log(step: Step, logs: Path, res: Resources, say) -> tuple[list[str], Path, IO]:
    cmd = command_line(step, res)
    log = logs / f"{step.id}.log"
    handle = open(log, "w", buffering=1)     # line by line: in order with the C++ output
    handle.write(f"$ {shlex.join(cmd)}\n")
    handle.flush()
    say(f"== {step.id}: {step.summary}")
    return cmd, log, handle


def process_command(cmd: list[str]) -> list[str]:
    """`jetfm ARGS` as a process of this Python (the `jetfm` script may not be on PATH)."""
    return [sys.executable, "-m", "jetfm.cli", *cmd[1:]]


def _start(step: Step, logs: Path, res: Resources, say) -> _Running:
    cmd, log, handle = _open_log(step, logs, res, say)
    # from the study folder: a folder named random or scratch in the user's working
    # directory must not shadow the transfer baselines of those names
    proc = subprocess.Popen(process_command(cmd), stdout=handle,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=logs.parent, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    return _Running(step, proc, log, handle, time.time())


def _run_here(step: Step, logs: Path, res: Resources, main, echo: bool, say) -> str | None:
    """One step in this process (no start-up cost: torch is imported once), its output
    (Python's and the C++ libraries', file descriptors 1 and 2) into its log."""
    cmd, log, handle = _open_log(step, logs, res, say)
    started, cwd = time.time(), os.getcwd()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        os.chdir(logs.parent)       # as a subprocess would run (see _start)
        try:
            # sys.stdout may be another object than file descriptor 1 (a test's capture)
            with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
                rc = main(cmd[1:])
        except SystemExit as exc:   # argparse refused the command line (usage in the log)
            rc = exc.code if isinstance(exc.code, int) else 1
        except Exception:           # a bug, not bad input: its traceback goes to the log
            traceback.print_exc(file=handle)
            rc = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(cwd)
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        handle.close()
    if rc == EXIT_CODE:             # SIGTERM during the step: the study stops too
        raise Interrupted()
    if rc == 130:
        raise KeyboardInterrupt
    return _finish(step, rc, log, time.time() - started, logs, echo, say)


def _finish(step: Step, rc: int, log: Path, seconds: float, logs: Path, echo: bool,
            say) -> str | None:
    """Record a finished step; the failure line, if it failed."""
    output = log.read_text(errors="replace").splitlines()[1:]
    if rc == 0:
        write_json(logs / f"{step.id}.done", {"command": list(step.argv)})
        say(f"   {step.id}: done in {seconds:.0f} s")
        if echo:
            for line in output:
                say(f"   {line}" if line.strip() else "")
        return None
    say(f"   {step.id}: FAILED (exit {rc}) after {seconds:.0f} s")
    last = next((line.strip() for line in reversed(output) if line.strip()), "no output")
    return (f"step {step.id} ({step.where}) failed (exit {rc}): {last[:300]}; log: {log}")


__all__ = ["run_study", "run_phase", "print_steps", "is_finished", "command_line",
           "Resources", "StepFailed"]
