"""Options shared by several commands, defined once so they have one name and one meaning."""
from __future__ import annotations

from ..errors import ConfigError


def add_out(p, help: str, required: bool = True, default=None) -> None:
    p.add_argument("--out", required=required, default=default, help=help)


def add_data(p, required: bool = False, help: str | None = None) -> None:
    p.add_argument("--data", nargs="+", default=None, required=required, metavar="PATH",
                   help=help or "Parquet/ROOT files, folders (searched recursively) or glob "
                                "patterns (quote them; ** matches any depth)")


def add_batch_size(p, default=None) -> None:
    p.add_argument("--batch-size", type=int, default=default,
                   help="jets per batch" + (f" (default {default})" if default else ""))


def add_workers(p, default=None, help: str = "worker processes") -> None:
    p.add_argument("--workers", type=int, default=default, help=help)


def add_progress(p) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_max_jets(p) -> None:
    p.add_argument("--max-jets", type=int, default=None,
                   help="read at most this many jets (>= 1; default all)")


def check_shared(args) -> None:
    """The shared options' ranges, for every command at once (one line each, exit 2)."""
    positive(getattr(args, "max_jets", None), "--max-jets")


def positive(value, option: str) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"{option} must be >= 1, got {value}")
