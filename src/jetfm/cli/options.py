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
    positive(getattr(args, "threads", None), "--threads")
    for name, value in vars(args).items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str):
                utf8(item, "--" + name.replace("_", "-"))


def utf8(text: str, option: str) -> None:
    """A path or value with bytes that are not UTF-8 (Python keeps them as surrogates) cannot
    be stored in Parquet metadata or YAML: refuse it before anything is made."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise ConfigError(f"{option} {shown}: holds bytes that are not UTF-8; rename it "
                          "(file names and values must be UTF-8 text)") from None


def positive(value, option: str) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"{option} must be >= 1, got {value}")
