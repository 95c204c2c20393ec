"""Locate the project's reference data (shared/reference beside the repository).

The reference files are read, never copied into the package. Search order: the
`JETFM_REFERENCE_DIR` environment variable, then `shared/reference` next to any parent of the
current directory or of this file (the repository layout `<root>/main` + `<root>/shared`).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


class ReferenceNotFound(FileNotFoundError):
    pass


@lru_cache(maxsize=None)
def reference_dir() -> Path:
    env = os.environ.get("JETFM_REFERENCE_DIR")
    if env:
        p = Path(env)
        if not p.is_dir():
            raise ReferenceNotFound(f"JETFM_REFERENCE_DIR={env} is not a directory")
        return p
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    for start in starts:
        for parent in [start, *start.parents]:
            for cand in (parent / "shared" / "reference", parent / "reference"):
                if (cand / "delphes_cms_ip_resolution.csv").is_file():
                    return cand
    raise ReferenceNotFound(
        "cannot find the jetfm reference data (delphes_cms_ip_resolution.csv, "
        "jetclass2_labels.txt); set JETFM_REFERENCE_DIR to the folder that holds them")


def reference_file(name: str) -> Path:
    p = reference_dir() / name
    if not p.is_file():
        raise ReferenceNotFound(f"reference file {p} is missing")
    return p
