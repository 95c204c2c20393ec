"""A generation folder's record of its settings, and the check of the files it holds: a
folder or file made with other settings is never completed or overwritten, a damaged file
of ours is regenerated (same seed: same bytes)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ..errors import ConfigError, DataError

META_KEY = b"jetfm.generate"   # Parquet metadata key holding a file's generation settings


def _differences(old: dict, new: dict) -> str:
    """'sample: qcd (folder) vs res2p (this run), ...' for the settings that differ."""
    diff = []
    for k in new:
        if old.get(k) != new[k]:
            shown = ("other values", "these values") if k == "detector" else (old.get(k), new[k])
            diff.append(f"{k}: {shown[0]} (folder) vs {shown[1]} (this run)")
    return "; ".join(diff) or "unknown settings"


def check_folder_record(out: Path, key: dict) -> None:
    """The folder's settings (from a previous run's config) must equal this run's."""
    for record in sorted(out.glob("generate_config*.yaml")):
        try:
            old = yaml.safe_load(record.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise DataError(f"{record}: unreadable ({exc}); remove it or use another --out") from None
        old_key = old.get("settings")
        if isinstance(old_key, dict) and old_key != key:
            raise ConfigError(f"--out {out} holds jets made with other settings ("
                              f"{_differences(old_key, key)}); use another --out")


def check_existing(path: Path, key: str, target: int) -> bool:
    """True if `path` is a finished, intact file made with the same settings. A damaged file
    of ours is reported and regenerated (same seed: same bytes); one made with other settings
    or not ours is never touched."""
    if not path.exists():
        return False
    try:
        pf = pq.ParquetFile(path, page_checksum_verification=True)
        meta = pf.schema_arrow.metadata or {}
    except Exception as exc:  # a corrupt footer is not ours to overwrite silently
        raise DataError(f"{path}: exists but is not a readable Parquet file ({exc}); remove it") from exc
    with pf:
        file_key = meta.get(META_KEY, b"").decode()
        if file_key != key:
            try:
                detail = _differences(json.loads(file_key), json.loads(key))
            except ValueError:
                detail = "not written by jetfm generate"
            raise ConfigError(f"{path}: exists but was generated with different settings "
                              f"({detail}); use another --out or remove the file")
        try:   # read every page (one row group at a time): checksums verified, rows complete
            ok = sum(pf.read_row_group(i).num_rows
                     for i in range(pf.num_row_groups)) == target
        except (pa.ArrowException, OSError) as exc:
            ok = False
            print(f"jetfm generate: {path} is damaged ({str(exc).splitlines()[0]}); "
                  "regenerating it", file=sys.stderr)
    return ok
