"""`jetfm generate`: plan files and chunks, run them on a process pool, write Parquet shards.

Work is split into files of `jets_per_file` jets; file f belongs to shard f % num_shards, so
several machines can fill one folder. Each file is a deterministic sequence of chunks; chunks
run in parallel but are consumed in order, so the bytes of a file depend only on the seed and
the options, never on the number of workers. Finished files are skipped on re-runs.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from .. import __version__
from ..errors import ConfigError, DataError
from ..io import atomic_path, remove_stale_temps, write_config
from ..labels import FAMILIES
from ..schema import OUTPUT_SCHEMA
from .chunk import ChunkTask, run_chunk
from .detector_card import BUILTIN_CARDS, DetectorConfig, load_card
from .processes import SAMPLES
from .pythia_run import prepare_mpi_file

META_KEY = b"jetfm.generate"


@dataclass(frozen=True)
class GenerateConfig:
    sample: str
    jets: int
    out: str
    seed: int = 1
    workers: int = 1
    shard: int = 0
    num_shards: int = 1
    resim: int = 0
    pileup: float = 0.0
    jets_per_file: int = 100_000
    chunk_events: int = 100
    detector_card: str = "cms"      # built-in card name or a YAML file

    def validate(self) -> None:
        if self.sample not in SAMPLES:
            raise ConfigError(f"--sample {self.sample!r} is not known; choose one of {sorted(SAMPLES)}")
        checks = [
            (self.jets > 0, "--jets must be > 0"),
            (self.workers >= 1, "--workers must be >= 1"),
            (self.num_shards >= 1, "--num-shards must be >= 1"),
            (0 <= self.shard < self.num_shards, "--shard must be in [0, --num-shards)"),
            (self.resim >= 0, "--resim must be >= 0"),
            (self.pileup >= 0 and math.isfinite(self.pileup), "--pileup must be a finite number >= 0"),
            (self.jets_per_file > 0, "--jets-per-file must be > 0"),
            (self.chunk_events > 0, "--chunk-events must be > 0"),
            (0 <= self.seed < 2**63, "--seed must be a non-negative integer"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)

    def resolved_card(self) -> str:
        """The card as given: a built-in name, or the file's absolute path."""
        if self.detector_card in BUILTIN_CARDS:
            return self.detector_card
        return str(Path(self.detector_card).resolve())

    def physics_key(self, detector: DetectorConfig) -> dict:
        """Everything that changes the content of the files (not workers/sharding): the
        detector by its values, so the same card under another name or path gives the same
        files."""
        d = asdict(self)
        for k in ("out", "workers", "shard", "num_shards", "detector_card"):
            d.pop(k)
        d["detector"] = detector.to_card()
        d["jetfm_version"] = __version__
        return d


def plan_files(cfg: GenerateConfig) -> list[tuple[int, int, Path]]:
    """(file index, target jets, path) for the files this shard owns."""
    n_files = math.ceil(cfg.jets / cfg.jets_per_file)
    out = Path(cfg.out)
    plan = []
    for f in range(cfg.shard, n_files, cfg.num_shards):
        target = min(cfg.jets_per_file, cfg.jets - f * cfg.jets_per_file)
        plan.append((f, target, out / f"{cfg.sample}_{f:05d}.parquet"))
    return plan


def _check_existing(path: Path, key: str) -> bool:
    """True if `path` is a finished file made with the same settings."""
    if not path.exists():
        return False
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:  # a corrupt file is not ours to overwrite silently
        raise DataError(f"{path}: exists but is not a readable Parquet file ({exc}); remove it") from exc
    if meta.get(META_KEY, b"").decode() != key:
        raise ConfigError(f"{path}: exists but was generated with different settings; "
                          "use another --out or remove the file")
    return True


def _chunks(cfg: GenerateConfig, file_index: int, mpi_file: str, detector: DetectorConfig):
    c = 0
    while True:
        if c >= 10**5:
            raise RuntimeError("chunk index overflow")
        yield ChunkTask(cfg.sample, cfg.seed, file_index, c, cfg.chunk_events,
                        cfg.resim, cfg.pileup, mpi_file, detector)
        c += 1


def _ordered_results(tasks, pool, window: int):
    """Submit tasks ahead (window) but yield their results in task order."""
    pending = []
    for task in tasks:
        pending.append(pool.submit(run_chunk, task) if pool else task)
        if len(pending) > window:
            head = pending.pop(0)
            yield head.result() if pool else run_chunk(head)
    # never reached for infinite generators; consumers stop early


def generate(cfg: GenerateConfig, progress: bool = True) -> dict:
    cfg.validate()
    detector = load_card(cfg.detector_card)     # a bad card fails before anything is written
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    key = json.dumps(cfg.physics_key(detector), sort_keys=True)
    plan = plan_files(cfg)
    remove_stale_temps(out, [p.name for _, _, p in plan])
    todo = [(f, n, p) for f, n, p in plan if not _check_existing(p, key)]
    cfg_name = "generate_config.yaml" if cfg.num_shards == 1 else \
        f"generate_config.shard{cfg.shard}-of-{cfg.num_shards}.yaml"
    write_config(out / cfg_name, {**asdict(cfg), "detector_card": cfg.resolved_card(),
                                  "jetfm_version": __version__,
                                  "files": [p.name for _, _, p in plan],
                                  "detector": detector.to_card()})
    mpi_file = str(prepare_mpi_file(out / ".mpi_init.dat"))

    stats = {"files_written": [], "files_skipped": len(plan) - len(todo), "jets": 0,
             "events": 0, "label_counts": np.zeros(188, dtype=np.int64), "nparticles_sum": 0}
    t0 = time.time()
    bar = tqdm(total=sum(n for _, n, _ in todo), unit="jet", disable=not progress,
               desc=f"generate {cfg.sample}", dynamic_ncols=True)
    # spawn, not fork: the parent holds a Pythia instance and tqdm's monitor thread.
    pool = (ProcessPoolExecutor(cfg.workers, mp_context=multiprocessing.get_context("spawn"))
            if cfg.workers > 1 else None)
    try:
        for f, target, path in todo:
            _write_file(cfg, f, target, path, key, mpi_file, detector, pool, stats, bar)
    finally:
        if pool:
            pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
    stats["seconds"] = time.time() - t0
    return _summary(cfg, stats, len(plan))


def _write_file(cfg, f, target, path, key, mpi_file, detector, pool, stats, bar):
    window = 2 * cfg.workers if pool else 0
    written = 0
    schema = OUTPUT_SCHEMA.with_metadata({META_KEY: key.encode()})
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd", write_page_checksum=True) as writer:
            for result in _ordered_results(_chunks(cfg, f, mpi_file, detector), pool, window):
                table = result.table.slice(0, target - written)
                stats["events"] += result.n_events
                if table.num_rows:
                    writer.write_table(table.replace_schema_metadata(schema.metadata))
                    written += table.num_rows
                    labels = table.column("jet_label").to_numpy()
                    stats["label_counts"] += np.bincount(labels, minlength=188)
                    stats["nparticles_sum"] += int(pc.sum(table.column("jet_nparticles")).as_py())
                    bar.update(table.num_rows)
                if written >= target:
                    break
    stats["jets"] += written
    stats["files_written"].append(str(path))


def _summary(cfg: GenerateConfig, stats: dict, n_planned: int) -> dict:
    counts = stats.pop("label_counts")
    fams = {fam: int(counts[list(rng)].sum()) for fam, rng in FAMILIES.items()}
    n = max(stats["jets"], 1)
    return {
        "sample": cfg.sample, "files_planned": n_planned, **stats,
        "jets_per_family": fams,
        "labels_present": int((counts > 0).sum()),
        "mean_constituents": stats["nparticles_sum"] / n if stats["jets"] else 0.0,
        "jets_per_second": stats["jets"] / max(stats["seconds"], 1e-9),
    }


def format_summary(s: dict) -> str:
    rows = [("sample", s["sample"]), ("jets written", s["jets"]), ("events generated", s["events"]),
            ("files written", len(s["files_written"])), ("files skipped (done)", s["files_skipped"]),
            ("distinct labels", s["labels_present"]),
            ("mean constituents", f"{s['mean_constituents']:.1f}"),
            ("time", f"{s['seconds']:.1f} s ({s['jets_per_second']:.1f} jets/s)")]
    rows += [(f"jets in {fam}", n) for fam, n in s["jets_per_family"].items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [f"  {p}" for p in s["files_written"]]
    return "\n".join(lines)

