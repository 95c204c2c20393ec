"""`docs/cli.md`, generated from the parsers so it cannot drift from the code.

    python -m jetfm.cli.reference > docs/cli.md

A test compares the committed page with this output.
"""
from __future__ import annotations

import os

from . import build_parser, walk_parsers

WIDTH = "100"   # argparse wraps help at $COLUMNS: fixed, so the page is the same everywhere


def cli_markdown() -> str:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        parts = ["# Command-line reference\n",
                 "Generated from the parsers by `python -m jetfm.cli.reference > docs/cli.md`;"
                 " `jetfm COMMAND --help` prints the same.\n"]
        for name, sub in list(walk_parsers(parser))[1:]:     # every command, not the root
            sub.prog = name
            parts += [f"## `{name}`\n", "```text", sub.format_help().rstrip(), "```\n"]
        return "\n".join(parts)
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


if __name__ == "__main__":
    print(cli_markdown(), end="")
