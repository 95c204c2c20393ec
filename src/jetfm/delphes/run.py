"""`jetfm ntuplize`: Delphes ROOT files → one JetClass-II Parquet file each, in `jetfm
generate`'s layout (same schema, row groups, checksums), so both concatenate.

The folder follows `outdir.OutputFolder`: claimed with the job's settings (another job, or
another command's folder, is refused; a live second run is refused by the lock). Each output
records its settings and its input's SHA-256 in the Parquet metadata: a re-run skips the
files that are finished and intact, redoes damaged ones, and refuses one made from another
input of the same name. Every input is checked (header, tree, branches) before anything is
written; outputs are written atomically, so a failure or a kill leaves finished files only.
"""
from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_EXCEPTION, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from .. import __version__
from ..cache import file_sha256
from ..data.paths import expand_paths
from ..errors import ConfigError, DataError
from ..io import atomic_path, load_yaml, remove_stale_temps, write_config
from ..labels import FAMILIES, LABEL_NAMES
from ..outdir import OutputFolder
from ..schema import flush_row_groups, parquet_writer
from ..sim.schedule import make_pool
from .ntuple import JET_ABS_ETA_MAX, SCHEMA, NtupleOptions, jet_radius, ntuple_chunk
from .reader import EVENTS_PER_STEP, TREE, DelphesInput, iter_events, open_input

META_KEY = b"jetfm.ntuplize"     # Parquet metadata: the file's settings and input
RECORD = "ntuplize_config.yaml"  # the folder's human-readable record
ROW_GROUP_JETS = 20_000          # jetfm generate's default row group
SAMPLES = tuple(FAMILIES)        # the JetClass-II families: res2p, res34p, qcd


@dataclass(frozen=True)
class NtuplizeConfig:
    inputs: tuple[str, ...]
    out: str
    sample: str
    jet_pt_min: float = 120.0
    jet_branch: str = "JetPUPPIAK8"
    genjet_branch: str = "GenJetAK8"
    tree: str = TREE
    workers: int = 1
    events_per_step: int = EVENTS_PER_STEP     # memory only, not in the settings

    def validate(self) -> None:
        if self.sample not in SAMPLES:
            raise ConfigError(f"--sample must be one of {', '.join(SAMPLES)}, got {self.sample!r}")
        if not (math.isfinite(self.jet_pt_min) and self.jet_pt_min >= 0):
            raise ConfigError("--jet-pt-min must be a finite number of GeV >= 0")
        if self.workers < 1:
            raise ConfigError("--workers must be >= 1")
        if self.events_per_step < 1:
            raise ConfigError("events per step must be >= 1")

    def settings(self) -> dict:
        """What decides the content of the files (the folder's identity)."""
        return {"sample": self.sample, "jet_pt_min": self.jet_pt_min,
                "jet_abs_eta_max": JET_ABS_ETA_MAX, "jet_r": jet_radius(self.jet_branch),
                "jet_branch": self.jet_branch, "genjet_branch": self.genjet_branch,
                "tree": self.tree, "jetfm_version": __version__}

    def options(self) -> NtupleOptions:
        return NtupleOptions(self.sample, self.jet_pt_min, jet_radius(self.jet_branch))


def _plan(cfg: NtuplizeConfig) -> list[tuple[DelphesInput, str]]:
    """Checked inputs and their output names (input stem + .parquet), before any write."""
    paths = expand_paths(cfg.inputs, (".root",))
    seen: dict[str, Path] = {}
    plan = []
    for path in paths:
        name = f"{path.stem}.parquet"
        if name in seen:
            raise ConfigError(f"inputs {seen[name]} and {path} would both write {name}; "
                              "rename one or run them into different --out folders")
        seen[name] = path
        plan.append((open_input(path, cfg.tree, cfg.jet_branch, cfg.genjet_branch), name))
    return plan


def _finished(path: Path, key: dict) -> bool:
    """True if `path` is ours, intact, with this key; a damaged one is redone; one made from
    other settings or another input is never overwritten."""
    if not path.exists():
        return False
    try:
        pf = pq.ParquetFile(path, page_checksum_verification=True)
        meta = (pf.schema_arrow.metadata or {}).get(META_KEY, b"{}")
        old = json.loads(meta.decode())
        old = old if isinstance(old, dict) else {}
    except Exception as exc:   # not ours to overwrite silently
        raise DataError(f"{path}: exists but is not a readable Parquet file ({exc}); "
                        "remove it") from None
    with pf:
        if old != key:
            what = ("another input with the same name (different SHA-256)"
                    if {**old, "input_sha256": None} == {**key, "input_sha256": None}
                    else "other settings or not by jetfm ntuplize")
            raise ConfigError(f"{path}: exists but was made from {what}; remove it or use "
                              "another --out")
        try:   # every page read: checksums verified
            for i in range(pf.num_row_groups):
                pf.read_row_group(i)
        except (pa.ArrowException, OSError) as exc:
            print(f"jetfm ntuplize: {path} is damaged ({str(exc).splitlines()[0]}); "
                  "redoing it", file=sys.stderr)
            return False
    return True


class _NoJets(Exception):
    """No jet passed: the empty temporary file is dropped, no output is made."""


def convert_file(inp: DelphesInput, out: Path, settings: dict, opts: NtupleOptions,
                 step: int, sha256: str | None = None, on_events=None) -> dict:
    """One input → one Parquet file (atomic). Returns its counts; no file when no jet
    passes (`jets` = 0)."""
    key = {**settings, "input": inp.path.name,
           "input_sha256": sha256 or file_sha256(inp.path)}
    schema = SCHEMA.with_metadata({META_KEY: json.dumps(key, sort_keys=True).encode()})
    stats: Counter = Counter()
    labels = np.zeros(len(LABEL_NAMES), np.int64)
    pending: list[pa.Table] = []
    try:
        with atomic_path(out) as tmp:
            writer = None
            try:
                for start, events in iter_events(inp, step):
                    n_events = len(events["jet.PT"])
                    try:
                        table, counts = ntuple_chunk(events, start, opts, inp.has_vertex)
                    except (IndexError, KeyError, ValueError) as exc:   # inconsistent records
                        raise DataError(f"{inp.path}: entries {start}-{start + n_events - 1} "
                                        "do not hold consistent Delphes events "
                                        f"({type(exc).__name__}: {exc})") from None
                    stats.update(counts)
                    stats["events"] += n_events
                    if on_events is not None:
                        on_events(n_events)
                    if not table.num_rows:
                        continue
                    labels += np.bincount(table.column("jet_label").to_numpy(),
                                          minlength=len(LABEL_NAMES))
                    pending.append(table.replace_schema_metadata(schema.metadata))
                    if sum(t.num_rows for t in pending) >= ROW_GROUP_JETS:
                        writer = writer or parquet_writer(tmp, schema)
                        pending = flush_row_groups(writer, pending, ROW_GROUP_JETS, final=False)
                if pending:
                    writer = writer or parquet_writer(tmp, schema)
                    flush_row_groups(writer, pending, ROW_GROUP_JETS, final=True)
            finally:
                if writer is not None:
                    writer.close()
            if writer is None:
                raise _NoJets()
    except _NoJets:
        pass
    return {"input": str(inp.path), "output": str(out), "jets": int(stats["jets written"]),
            "counts": dict(stats), "labels": labels, "sha256": key["input_sha256"]}


def ntuplize(cfg: NtuplizeConfig, progress: bool = True) -> dict:
    cfg.validate()
    plan = _plan(cfg)                       # every input checked before anything is written
    settings, opts = cfg.settings(), cfg.options()
    t0 = time.time()
    results, skipped, empty = [], [], []
    with OutputFolder(cfg.out, "ntuplize", identity=settings) as folder:
        out = folder.path
        remove_stale_temps(out, [name for _, name in plan])
        todo = []
        for inp, name in plan:
            if not inp.events:
                empty.append(f"{inp.path}: tree '{inp.tree}' has no events")
                continue
            sha = file_sha256(inp.path)
            key = {**settings, "input": inp.path.name, "input_sha256": sha}
            if _finished(out / name, key):
                skipped.append(str(out / name))
            else:
                todo.append((inp, out / name, sha))
        results = _run(cfg, todo, settings, opts, progress)
        empty += [f"{r['input']}: no jet passed the selection" for r in results if not r["jets"]]
        written = [r for r in results if r["jets"]]
        if not written and not skipped:
            raise ConfigError(f"no jet to write: {'; '.join(empty)} (--jet-pt-min "
                              f"{cfg.jet_pt_min:g}, |eta| <= {JET_ABS_ETA_MAX}, labelled "
                              f"{cfg.sample} jets only)")
        _write_record(out, cfg, settings, written)
    return _summary(cfg, results, skipped, empty, time.time() - t0)


def _run(cfg, todo, settings, opts, progress) -> list[dict]:
    bar = tqdm(total=sum(inp.events for inp, _, _ in todo), unit="event", disable=not progress,
               desc=f"ntuplize {cfg.sample}", dynamic_ncols=True)
    pool = make_pool(min(cfg.workers, len(todo)))
    try:
        if pool is None:
            return [convert_file(inp, path, settings, opts, cfg.events_per_step, sha,
                                 on_events=bar.update) for inp, path, sha in todo]
        futures = {pool.submit(convert_file, inp, path, settings, opts, cfg.events_per_step,
                               sha): inp for inp, path, sha in todo}
        pending, results = set(futures), []
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in done:
                results.append(fut.result())      # the first failure stops the job
                bar.update(futures[fut].events)
        order = {str(path): i for i, (_, path, _) in enumerate(todo)}
        return sorted(results, key=lambda r: order[r["output"]])
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def _write_record(out: Path, cfg: NtuplizeConfig, settings: dict, written: list[dict]) -> None:
    """Settings and, per output, its input (path, SHA-256) and jets; earlier runs' entries
    are kept (a folder can be filled by several runs with the same settings)."""
    path = out / RECORD
    old = load_yaml(path, "folder record") if path.exists() else {}
    files = dict(old.get("files") or {}) if isinstance(old, dict) else {}
    for r in written:
        files[Path(r["output"]).name] = {"input": r["input"], "input_sha256": r["sha256"],
                                         "jets": r["jets"]}
    write_config(path, {"command": "jetfm ntuplize", "settings": settings,
                        "out": str(out), "files": files})


def _summary(cfg, results, skipped, empty, seconds) -> dict:
    labels = sum((r["labels"] for r in results), np.zeros(len(LABEL_NAMES), np.int64))
    counts = sum((Counter(r["counts"]) for r in results), Counter())
    return {"sample": cfg.sample, "files_written": [r["output"] for r in results if r["jets"]],
            "files_skipped": skipped, "inputs_without_jets": empty,
            "events": int(counts["events"]), "jets": int(counts["jets written"]),
            "counts": {k: int(v) for k, v in counts.items()},
            "labels": {LABEL_NAMES[i]: int(n) for i, n in enumerate(labels) if n},
            "seconds": seconds}


def format_summary(s: dict) -> str:
    rows = [("sample", s["sample"]), ("events read", s["events"]), ("jets written", s["jets"]),
            ("files written", len(s["files_written"])),
            ("files skipped (done)", len(s["files_skipped"])), ("time", f"{s['seconds']:.1f} s")]
    rows += [(k, v) for k, v in sorted(s["counts"].items())
             if k.startswith(("jets dropped", "constituent")) and v]
    rows += [(f"label {name}", n) for name, n in s["labels"].items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [f"  {p}" for p in s["files_written"]]
    lines += [f"no file for {why}" for why in s["inputs_without_jets"]]
    return "\n".join(lines)


__all__ = ["NtuplizeConfig", "ntuplize", "convert_file", "format_summary", "META_KEY",
           "SAMPLES"]
