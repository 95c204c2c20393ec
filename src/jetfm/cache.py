"""jetfm's cache of derived files (Pythia's MPI initialisation, the pileup library).

A cached file is named by a hash of everything that determines it and sits next to a `.sha256`
of its content. Before each use the content is checked against that record; a missing, empty or
altered file is rebuilt. Builders use a fixed seed, so a rebuild gives the same content and a
damaged cache can never change generated jets. Files are written under temporary names and
renamed, so concurrent builders (several `jetfm generate` runs) never expose half a file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from .errors import ConfigError
from .io import atomic_path

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """jetfm's cache: $JETFM_CACHE_DIR, else $XDG_CACHE_HOME/jetfm, else ~/.cache/jetfm."""
    if os.environ.get("JETFM_CACHE_DIR"):
        return Path(os.environ["JETFM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jetfm"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_file(folder: Path, prefix: str, suffix: str, key: dict,
                build: Callable[[Path], None]) -> Path:
    """The verified cached file for `key`, built by `build(tmp_path)` if missing or damaged."""
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = folder / f"{prefix}_{name}{suffix}"
    digest = path.with_name(path.name + ".sha256")
    try:
        if path.stat().st_size > 0 and digest.read_text().strip() == file_sha256(path):
            return path
        log.warning("%s: damaged (its content does not match %s); rebuilding it", path,
                    digest.name)
    except OSError:
        pass   # missing: build it
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create jetfm's cache folder {folder} ({exc.strerror}); "
                          "set JETFM_CACHE_DIR to a writable folder") from None
    with atomic_path(path) as tmp, atomic_path(digest) as tmp_digest:
        build(tmp)
        tmp_digest.write_text(file_sha256(tmp) + "\n")
    return path
