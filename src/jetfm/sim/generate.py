"""`jetfm generate`: plan files and chunks, run them on a process pool, write Parquet shards.

Work is split into files of `jets_per_file` jets; file f belongs to shard f % num_shards, so
several machines can fill one folder. Each file is a deterministic sequence of chunks; chunks
run in parallel (`schedule.py`) but are consumed in order, so the bytes of a file depend only
on the seed and the options, never on the number of workers.

The output folder is owned by one run at a time (a lock); its settings (sample, seed, jet
counts, detector card values, ...) are recorded in `generate_config.yaml` and a run with other
settings is refused with the settings that differ. Re-runs skip finished files after reading
every page of them (checksums verified) and regenerate a damaged one.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from .. import __version__
from ..errors import ConfigError
from ..io import (FolderLock, atomic_path, make_output_folder, remove_empty_folders,
                  remove_stale_temps, write_config)
from ..labels import FAMILIES
from ..schema import flush_row_groups, parquet_writer, sample_schema
from .chunk import ChunkTask
from .folder_record import META_KEY, check_existing, check_folder_record
from .detector_card import BUILTIN_CARDS, DetectorConfig, load_card
from .pileup_library import LIBRARY_EVENTS, pileup_library_file
from .processes import LONG_LIVED_MODES, LONG_LIVED_TO_DETECTOR
from .samples import SampleOptions, get_sample, option_names, sample_options
from .pythia_run import mpi_init_file
from .schedule import ChunkScheduler, make_pool

DEFAULT_PILEUP = 50.0


# pretrain splits by whole file (showers and events never straddle splits), so a sample needs
# at least 3 files to reach train, val and test: 10k jets per file gives 10 files for 100k jets
DEFAULT_JETS_PER_FILE = 10_000
# the first sample options are in every folder's settings (None when unset); the later ones
# only when set, so folders made before them keep their settings
ALWAYS_RECORDED_OPTIONS = ("mass_ratios", "hv_model")


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
    pileup: float = DEFAULT_PILEUP  # ⟨μ⟩ as in JetClass-II; 0: clean jets
    pileup_library: int = LIBRARY_EVENTS   # minimum-bias events in the overlay library
    jets_per_file: int = DEFAULT_JETS_PER_FILE
    chunk_events: int = 100
    detector_card: str = "cms"      # built-in card name or a YAML file
    jet_pt_min: float = 200.0       # GeV
    jet_r: float = 0.8              # anti-kT radius (and truth-matching cone)
    # the samples' own options (None: unset), one field per option of any sample's Options
    # (samples/*.py: meaning and validation); a sample refuses the others'
    mass_ratios: tuple[float, ...] | None = None   # xww
    hv_model: str | None = None                    # darkjet
    mass_range: tuple[float, float] | None = None  # res2p, res34p
    pthat_min: float | None = None                 # dijet-qcd
    y_decays: str | None = None                    # res34p
    x_decays: str | None = None                    # res2p
    row_group_jets: int = 20_000    # Parquet row-group size (layout only, not in the settings)
    long_lived: str = "pythia"      # K0S, Lambda...: decayed by Pythia (JetClass-II) | detector

    def validate(self) -> None:
        if get_sample(self.sample).dijet and (self.jets % 2 or self.jets_per_file % 2):
            raise ConfigError(f"--sample {self.sample} writes both jets of an event to one "
                              "file: --jets and --jets-per-file must be even")
        self.sample_options()       # validated by the sample's own rules
        checks = [
            (self.jets > 0, "--jets must be > 0"),
            (self.workers >= 1, "--workers must be >= 1"),
            (self.num_shards >= 1, "--num-shards must be >= 1"),
            (0 <= self.shard < self.num_shards, "--shard must be in [0, --num-shards)"),
            (self.resim >= 0, "--resim must be >= 0"),
            (self.pileup >= 0 and math.isfinite(self.pileup), "--pileup must be a finite number >= 0"),
            (self.pileup_library >= 1, "--pileup-library must be >= 1 event"),
            (self.jets_per_file > 0, "--jets-per-file must be > 0"),
            (self.chunk_events > 0, "--chunk-events must be > 0"),
            (self.row_group_jets > 0, "--row-group-jets must be > 0"),
            (self.long_lived in LONG_LIVED_MODES,
             f"--long-lived must be one of {', '.join(LONG_LIVED_MODES)}"),
            (0 <= self.seed < 2**63, "--seed must be a non-negative integer"),
            (math.isfinite(self.jet_pt_min) and self.jet_pt_min > 0,
             "--jet-pt-min must be a finite number of GeV > 0"),
            (math.isfinite(self.jet_r) and 0.1 <= self.jet_r <= 1.5, "--jet-r must be in [0.1, 1.5]"),
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
        for k in ("out", "workers", "shard", "num_shards", "detector_card", "row_group_jets"):
            d.pop(k)
        d["detector"] = detector.to_card()
        d["jetfm_version"] = __version__
        if self.resim:
            # 2: resim_group = the same jet in two replicas (sim/resim_pairs.py); folders of
            # the old nearest-parton grouping (no key) are not resumed with the new one
            d["resim_pairing"] = 2
        if not self.pileup:
            d.pop("pileup_library")      # no overlay: the library does not matter
        # each option as its sample records it (e.g. a default given explicitly = unset)
        recorded = asdict(self.sample_options().canonical())
        for k in option_names():
            value = recorded.get(k)
            d[k] = list(value) if isinstance(value, tuple) else value   # as YAML reads back
            if value is None and k not in ALWAYS_RECORDED_OPTIONS:
                d.pop(k)
        return d

    def sample_options(self) -> SampleOptions:
        """The sample's own options, validated (ConfigError for another sample's option)."""
        # an option without a field here (a sample registered at run time) stays unset
        return sample_options(self.sample, {k: getattr(self, k, None) for k in option_names()})


def plan_files(cfg: GenerateConfig) -> list[tuple[int, int, Path]]:
    """(file index, target jets, path) for the files this shard owns."""
    n_files = math.ceil(cfg.jets / cfg.jets_per_file)
    out = Path(cfg.out)
    plan = []
    for f in range(cfg.shard, n_files, cfg.num_shards):
        target = min(cfg.jets_per_file, cfg.jets - f * cfg.jets_per_file)
        plan.append((f, target, out / f"{cfg.sample}_{f:05d}.parquet"))
    return plan


def generate(cfg: GenerateConfig, progress: bool = True) -> dict:
    cfg.validate()
    detector = load_card(cfg.detector_card)     # a bad card fails before anything is written
    out = Path(cfg.out)
    settings = cfg.physics_key(detector)
    key = json.dumps(settings, sort_keys=True)
    plan = plan_files(cfg)
    cfg_name = "generate_config.yaml" if cfg.num_shards == 1 else \
        f"generate_config.shard{cfg.shard}-of-{cfg.num_shards}.yaml"
    record = {**asdict(cfg), "mass_ratios": settings["mass_ratios"],
              "out": str(out.absolute()), "detector_card": cfg.resolved_card(),
              "jetfm_version": __version__, "files": [p.name for _, _, p in plan],
              "mpi_init_file": None, "pileup_library_file": None, "settings": settings}
    if out.is_dir() and not os.access(out, os.W_OK):
        return _read_only_folder(cfg, out, plan, key, settings)
    made = make_output_folder(out)
    try:
        lock = FolderLock(out, "jetfm generate").acquire()   # refused: the holder's, untouched
    except BaseException:
        if made:     # a folder we made a moment ago: take it back, lock file and all
            shutil.rmtree(out, ignore_errors=True)
            remove_empty_folders(made[1:])
        raise
    try:
        check_folder_record(out, settings)
        remove_stale_temps(out, [p.name for _, _, p in plan])
        todo = [(f, n, p) for f, n, p in plan if not check_existing(p, key, n)]
        mpi_file = str(mpi_init_file())
        record["mpi_init_file"] = mpi_file
        library = None
        if cfg.pileup > 0 and todo:     # built once, here, before any worker starts
            extra = LONG_LIVED_TO_DETECTOR if cfg.long_lived == "detector" else ()
            library = str(pileup_library_file(cfg.pileup_library, extra, progress=progress))
        record["pileup_library_file"] = library
        write_config(out / cfg_name, record)
        return _run(cfg, plan, todo, key, (mpi_file, library), detector, progress)
    except BaseException:
        if made and not any(p.exists() for _, _, p in plan):   # a folder we made, still empty
            shutil.rmtree(out, ignore_errors=True)
            remove_empty_folders(made[1:])
        raise
    finally:
        lock.release()


def _read_only_folder(cfg, out: Path, plan, key: str, settings: dict) -> dict:
    """A finished folder may be read-only: check it, change nothing, report."""
    check_folder_record(out, settings)
    missing = [p for f, n, p in plan if not check_existing(p, key, n)]
    if missing:
        raise ConfigError(f"--out {out}: folder is not writable and {len(missing)} of its "
                          f"{len(plan)} files are missing or damaged (first {missing[0].name})")
    stats = {"files_written": [], "files_skipped": len(plan), "jets": 0, "events": 0,
             "label_counts": np.zeros(188, dtype=np.int64), "nparticles_sum": 0, "seconds": 0.0,
             "dropped": {}, "unlabelled": 0}
    return _summary(cfg, stats, len(plan))


def _run(cfg, plan, todo, key, cache_files, detector, progress) -> dict:
    mpi_file, library = cache_files
    stats = {"files_written": [], "files_skipped": len(plan) - len(todo), "jets": 0,
             "events": 0, "label_counts": np.zeros(188, dtype=np.int64), "nparticles_sum": 0,
             "dropped": {}, "unlabelled": 0}
    t0 = time.time()
    bar = tqdm(total=sum(n for _, n, _ in todo), unit="jet", disable=not progress,
               desc=f"generate {cfg.sample}", dynamic_ncols=True)
    pool = make_pool(cfg.workers)

    def task(pos: int, chunk: int) -> ChunkTask:
        if chunk >= 10**5:
            raise RuntimeError("chunk index overflow")
        return ChunkTask(cfg.sample, cfg.seed, todo[pos][0], chunk, cfg.chunk_events,
                         cfg.resim, cfg.pileup, mpi_file, detector, cfg.sample_options(),
                         cfg.jet_pt_min, cfg.jet_r, cfg.long_lived, library, cfg.pileup_library)
    scheduler = ChunkScheduler(pool, [n for _, n, _ in todo], task, window=2 * cfg.workers)
    try:
        for pos, (f, target, path) in enumerate(todo):
            _write_file(scheduler, pos, target, path, key, stats, bar,
                        sample_schema(get_sample(cfg.sample).truth_columns), cfg.row_group_jets,
                        f"--sample {cfg.sample} --jet-pt-min {cfg.jet_pt_min:g} --jet-r "
                        f"{cfg.jet_r:g}")
            scheduler.file_done(pos)
    finally:
        if pool:
            pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
    stats["seconds"] = time.time() - t0
    return _summary(cfg, stats, len(plan))


# a file with no selected jet after this many events stops: the selection cannot be met
MAX_EVENTS_WITHOUT_JETS = 3000   # (a typical chunk of 100 events gives ~100 jets)


def _write_file(scheduler: ChunkScheduler, pos: int, target: int, path: Path, key: str,
                stats: dict, bar, schema: pa.Schema, row_group_jets: int,
                selection: str = "") -> None:
    """Chunks in order into one file, in row groups of `row_group_jets` jets (the last one
    smaller): large row groups keep the training loader fast."""
    written, pending = 0, []
    schema = schema.with_metadata({META_KEY: key.encode()})
    with atomic_path(path) as tmp:
        with parquet_writer(tmp, schema) as writer:
            chunk = events = 0
            while written < target:
                result = scheduler.result(pos, chunk, written)
                chunk += 1
                table = result.table.slice(0, target - written)
                stats["events"] += result.n_events
                events += result.n_events
                for reason, n in result.dropped.items():
                    stats["dropped"][reason] = stats["dropped"].get(reason, 0) + n
                if not table.num_rows:
                    if not written and events >= MAX_EVENTS_WITHOUT_JETS:
                        raise ConfigError(f"no jet passed the selection in {events} events "
                                          f"for {path.name}: {selection}; loosen it")
                    continue
                pending.append(table.replace_schema_metadata(schema.metadata))
                written += table.num_rows
                _count(stats, table)
                bar.update(table.num_rows)
                pending = flush_row_groups(writer, pending, row_group_jets,
                                           final=written >= target)
    stats["jets"] += written
    stats["files_written"].append(str(path))


def _count(stats: dict, table: pa.Table) -> None:
    labels = table.column("jet_label").to_numpy()
    stats["label_counts"] += np.bincount(labels[labels >= 0], minlength=188)
    stats["unlabelled"] += int((labels < 0).sum())
    stats["nparticles_sum"] += int(pc.sum(table.column("jet_nparticles")).as_py())


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
    if not s["jets"]:       # a resumed run with every file done: nothing was counted
        rows = [r for r in rows if r[0] not in ("distinct labels", "mean constituents")]
    # label families, not samples (W+ jets carry Res2P labels), and only those present
    rows += [(f"jets with {fam} labels", n) for fam, n in s["jets_per_family"].items() if n]
    if s["unlabelled"]:
        rows.append(("jets unlabelled (-1)", s["unlabelled"]))
    rows += [(f"jets dropped: {why}", n) for why, n in s["dropped"].items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [f"  {p}" for p in s["files_written"]]
    return "\n".join(lines)

