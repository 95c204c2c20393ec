"""Pileup overlay from a library of pre-generated minimum-bias events (Delphes' PileUpMerger).

JetClass-II overlays ⟨μ⟩ = 50 minimum-bias interactions per event from a pre-generated file
(`MinBias_100k.pileup`) with Delphes' PileUpMerger: Poisson(μ) interactions per event, each a
random library event rotated by a random φ and displaced to a vertex drawn from the luminous
region (Gaussian, σ_z = 53 mm, σ_t = 160 ps; `VertexDistributionFormula` of the JetClass-II
cards). jetfm does the same: the library is generated once with Pythia (a fixed seed, the
processes of Delphes' `generatePileUpCMS.cmnd`: non-, single- and double-diffractive soft QCD),
cached by a hash of its settings (`cache.py`), memory-mapped and shared by every worker.

Library layout: one structured .npy (float32 kinematics and vertices, int32 pid, int8 charge,
int32 event) of the visible final-state particles with |η| < 5 (the calorimeters' reach),
sorted by event.
"""
from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError
from ..io import quiet_stdout
from ..cache import cache_dir, cached_file
from .processes import COMMON_SETTINGS
from .pythia_run import (EventRecords, from_batch, final_state, is_invisible, make_pythia)

MINBIAS_SETTINGS = ("SoftQCD:nonDiffractive = on", "SoftQCD:singleDiffractive = on",
                    "SoftQCD:doubleDiffractive = on")
LIBRARY_EVENTS = 10_000          # Delphes' file has 100k; 10k with φ rotations is plenty at μ = 50
LIBRARY_SEED = 4242
LIBRARY_ETA_MAX = 5.0
SIGMA_Z_MM = 53.0                # VertexDistributionFormula: exp(-z^2 / 0.053^2 / 2), z in m
SIGMA_T_MM = 160e-12 * 299_792_458.0 * 1e3   # 160 ps, in mm/c like Pythia's vt
_FORMAT = 1                      # bump when the layout changes
_DTYPE = np.dtype([("px", "f4"), ("py", "f4"), ("pz", "f4"), ("e", "f4"), ("vx", "f4"),
                   ("vy", "f4"), ("vz", "f4"), ("vt", "f4"), ("pid", "i4"), ("charge", "i1"),
                   ("event", "i4")])
_BATCH = 1000


def library_key(n_events: int, extra_settings: tuple[str, ...] = ()) -> dict:
    return {"format": _FORMAT, "pythia": importlib.metadata.version("pythia8mc"),
            "common": list(COMMON_SETTINGS), "settings": list(MINBIAS_SETTINGS + extra_settings),
            "events": n_events, "seed": LIBRARY_SEED, "eta_max": LIBRARY_ETA_MAX}


def pileup_library_file(n_events: int = LIBRARY_EVENTS, extra_settings: tuple[str, ...] = (),
                        folder: Path | None = None, progress: bool = False) -> Path:
    """The cached library of `n_events` minimum-bias events, generated on first use.

    `extra_settings` are Pythia lines that must also hold for pileup (e.g. the `--long-lived
    detector` decay settings), so pileup and hard event see the same decays."""
    if n_events < 1:
        raise ConfigError(f"--pileup-library must be >= 1 event, got {n_events}")
    folder = cache_dir() / "pileup" if folder is None else Path(folder)
    key = library_key(n_events, tuple(extra_settings))
    return cached_file(folder, "minbias", ".npy", key,
                       lambda tmp: _build(tmp, n_events, tuple(extra_settings), progress))


def _build(path: Path, n_events: int, extra: tuple[str, ...], progress: bool) -> None:
    pythia = make_pythia(list(MINBIAS_SETTINGS + extra), LIBRARY_SEED)
    parts = []
    with tqdm(total=n_events, unit="event", desc="pileup library (once)", disable=not progress,
              dynamic_ncols=True) as bar:
        done = 0
        while done < n_events:
            n = min(_BATCH, n_events - done)
            with quiet_stdout():
                batch = pythia.nextBatch(n)
            fields, offsets = from_batch(batch)
            fs = final_state(EventRecords(fields, offsets, np.arange(n)), from_pv=False)
            pt = np.hypot(fs["px"], fs["py"])
            with np.errstate(divide="ignore", invalid="ignore"):
                eta = np.arcsinh(fs["pz"] / pt)
            keep = ~is_invisible(fs["pid"]) & (pt > 0) & (np.abs(eta) < LIBRARY_ETA_MAX)
            rows = np.zeros(int(keep.sum()), _DTYPE)
            for k in ("px", "py", "pz", "e", "vx", "vy", "vz", "vt"):
                rows[k] = fs[k][keep]
            rows["pid"], rows["charge"] = fs["pid"][keep], fs["charge"][keep]
            rows["event"] = fs["event"][keep] + done
            parts.append(rows)
            done += n
            bar.update(n)
    with open(path, "wb") as f:      # np.save to a handle keeps the temporary name
        np.save(f, np.concatenate(parts))


@dataclass(frozen=True)
class PileupLibrary:
    rows: np.ndarray          # structured, sorted by event (memory-mapped)
    offsets: np.ndarray       # event i = rows[offsets[i]:offsets[i+1]]

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1


@functools.lru_cache(maxsize=4)
def load_library(path: str) -> PileupLibrary:
    """Memory-map a library once per process (workers share the pages through the OS)."""
    try:
        rows = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"pileup library {path} is unreadable ({exc}); remove it") from None
    if rows.dtype != _DTYPE:
        raise ConfigError(f"pileup library {path} has an unknown layout; remove it")
    n = int(rows["event"][-1]) + 1 if len(rows) else 0
    offsets = np.searchsorted(rows["event"], np.arange(n + 1)).astype(np.int64)
    return PileupLibrary(rows, offsets)


def overlay(library: PileupLibrary, n_hard: int, mu: float,
            rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Poisson(μ) library events per hard event, each rotated in φ and moved to its own vertex.

    Returns flat particles in `final_state`'s layout (`event` = the hard event, from_pv False;
    {} if none) and the number of pileup interactions per hard event."""
    n_pu = rng.poisson(mu, size=n_hard)
    total = int(n_pu.sum())
    if total == 0:
        return {}, n_pu
    pick = rng.integers(0, library.n_events, size=total)
    dphi = rng.uniform(-np.pi, np.pi, size=total)
    z0 = rng.normal(0.0, SIGMA_Z_MM, size=total)
    t0 = rng.normal(0.0, SIGMA_T_MM, size=total)
    start, count = library.offsets[pick], np.diff(library.offsets)[pick]
    interaction = np.repeat(np.arange(total), count)
    first = np.repeat(np.cumsum(count) - count, count)
    rows = library.rows[start[interaction] + np.arange(int(count.sum())) - first]
    c, s = np.cos(dphi)[interaction], np.sin(dphi)[interaction]
    out = {}
    for a, b in (("px", "py"), ("vx", "vy")):
        x, y = rows[a].astype(np.float64), rows[b].astype(np.float64)
        out[a], out[b] = c * x - s * y, s * x + c * y
    out["pz"] = rows["pz"].astype(np.float64)
    out["e"] = rows["e"].astype(np.float64)
    out["vz"] = rows["vz"].astype(np.float64) + z0[interaction]
    out["vt"] = rows["vt"].astype(np.float64) + t0[interaction]
    out["pid"] = rows["pid"].astype(np.int32)
    out["charge"] = rows["charge"].astype(np.float64)
    out["event"] = np.repeat(np.arange(n_hard, dtype=np.int64), n_pu)[interaction]
    out["from_pv"] = np.zeros(len(rows), bool)
    return out, n_pu
