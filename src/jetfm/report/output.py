"""What `jetfm report --out` may replace: a file it wrote itself (re-running a report updates
it), never one of the report's inputs nor a file someone else wrote. Both files the report
writes (the HTML and its .md sibling) start with MARKER, which is how a later run knows them;
reports from before the marker are known by their fixed opening text."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError

__all__ = ["MARKER", "check_outputs"]

MARKER = "<!-- jetfm report: written by `jetfm report`; running it again replaces this file -->"
_PREFIX = MARKER.split(";")[0]   # "<!-- jetfm report: written by `jetfm report`"
_HEAD = 4096   # the marker (or an older report's opening) is in the first lines
# openings of reports written before the marker (HTML note, Markdown second paragraph)
_LEGACY = {".html": ("<!DOCTYPE html>", "by <code>jetfm report</code> from"),
           ".md": ("# ", "Values: mean ± std over seeds; rejection = 1/eps_B")}


def _is_ours(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD).decode("utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot read it to check that `jetfm report` wrote "
                          f"it ({exc.strerror or exc})") from None
    if any(line.startswith(_PREFIX) for line in head.splitlines()[:2]):
        return True
    start, needle = _LEGACY.get(path.suffix.lower(), _LEGACY[".html"])
    return head.startswith(start) and needle in head


def check_outputs(out: Path, md: Path, inputs: list[Path]) -> None:
    """ConfigError, before anything is written, if `out` or `md` is an input of this report
    or exists and was not written by `jetfm report`."""
    resolved = {Path(p).resolve(): Path(p) for p in inputs}
    for path in (out, md):
        what = "--out" if path == out else f"--out {out}: its Markdown summary"
        hit = resolved.get(path.resolve())
        if hit is not None:
            raise ConfigError(f"{what} {path} is one of the report's inputs ({hit}); choose "
                              "another --out")
        if not (path.exists() or path.is_symlink()):
            continue
        if not path.is_file():
            raise ConfigError(f"{what} {path} exists and is not a file; choose another --out")
        if not _is_ours(path):
            raise ConfigError(f"{what} {path} exists and was not written by `jetfm report`; "
                              "it is left as it is: move it away or choose another --out")
