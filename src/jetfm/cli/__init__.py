"""`jetfm` command line: a thin root that registers one module per command.

Every command turns a `JetfmError` (bad input, impossible option, corrupt file) into one line
on stderr and exit code 2; nothing half-written is left behind (outputs are atomic).
"""
from __future__ import annotations

import argparse
import errno
import sys

from .. import __version__
from ..errors import JetfmError
from ..interrupt import EXIT_CODE, Interrupted, sigterm_raises
from ..threads import set_threads
from .options import check_shared
from . import (anomaly, compare, evaluate, export, generate, inspect, ntuplize, pretrain,
               quickstart, report, resample, study, transfer)

COMMANDS = (generate, ntuplize, inspect, compare, resample, pretrain, evaluate, export, transfer,
            anomaly, report, study, quickstart)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jetfm", description="jetfm: jet foundation models — simulate, pre-train, evaluate")
    parser.add_argument("--version", action="version", version=f"jetfm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    for _, p in walk_parsers(parser):
        p.formatter_class = HelpFormatter
    for leaf in (p for _, p in walk_parsers(parser) if _is_leaf(p)):
        leaf.add_argument("--threads", type=int, default=None, metavar="N",
                          help="torch threads (default: the CPUs this process may use, by "
                               "affinity and cgroup quota, or $OMP_NUM_THREADS)")
    return parser


class HelpFormatter(argparse.HelpFormatter):
    """Every option says whether it is required, its default and its choices (unless its own
    help already does), so `--help` and docs/cli.md answer "what happens if I leave it out"."""

    def _get_help_string(self, action):
        text = action.help or ""
        if not action.option_strings or action.help == argparse.SUPPRESS:
            return text
        notes = []
        if action.required:
            notes.append("required")
        elif ("default" not in text and action.default not in (None, False, argparse.SUPPRESS)
              # a flag's default is its destination's value without it (quickstart's --fast
              # would read "default: quick"), not something the flag sets
              and not isinstance(action, (argparse._HelpAction, argparse._StoreConstAction))):
            notes.append("default: %(default)s")
        if action.choices and "choices" not in text and action.metavar is not None:
            notes.append("choices: " + ", ".join(map(str, action.choices)))
        return f"{text} ({'; '.join(notes)})" if notes else text


def walk_parsers(parser: argparse.ArgumentParser, name: str = "jetfm"):
    """(command name, parser) for the root and every sub-command, depth first, each once."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for sub_name, child in action.choices.items():
                if id(child) not in seen:      # an alias names the same parser again
                    seen.add(id(child))
                    yield from walk_parsers(child, f"{name} {sub_name}")


def _is_leaf(parser: argparse.ArgumentParser) -> bool:
    return not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with sigterm_raises():
            check_shared(args)
            set_threads(args.threads)
            return args.func(args)
    except Interrupted as exc:    # SIGTERM: a batch system's time limit, never a success
        where = f" at step {exc.step}" if exc.step is not None else ""
        kept = "; its checkpoint was saved" if exc.saved else ""
        print(f"jetfm {args.command}: interrupted (SIGTERM){where}{kept}; nothing half-written "
              "is left; re-run the same command to continue", file=sys.stderr)
        return EXIT_CODE
    except JetfmError as exc:
        print(f"jetfm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # a full disk, a folder made read-only mid-run: one line too
        if exc.errno == errno.ENOSPC:
            what = "No space left on device" + (f" writing {exc.filename}" if exc.filename
                                                else "")
        else:
            what = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        print(f"jetfm {args.command}: error: {what}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"jetfm {args.command}: interrupted; finished files are kept, re-run to resume",
              file=sys.stderr)
        return 130


__all__ = ["main", "build_parser"]
