"""Run Pythia 8 for one chunk and return its event records as flat numpy arrays.

Two modes share one output layout (`EventRecords`):
- plain: `Pythia.nextBatch(n)` converts the whole chunk to awkward in C++ (no Python loop);
- re-simulation (RS3L): the parton-level event is kept and hadronised R times with
  `forceHadronLevel()`; each replica is its own event with a common `parton_event` index.
Pileup is overlaid from a cached minimum-bias library (`pileup_library.py`).
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import pythia8mc

from ..errors import ConfigError
from ..io import quiet_stdout
from ..cache import cache_dir, cached_file
from .processes import COMMON_SETTINGS, ChunkSpec

RECORD_INT = ("id", "status", "mother1", "mother2", "daughter1", "daughter2")
RECORD_FLOAT = ("px", "py", "pz", "e", "m", "vx", "vy", "vz", "vt")
# Invisible final-state particles: neutrinos, the neutralino and Hidden-Valley dark states.
_NEUTRINOS = (12, 14, 16)


@dataclass
class EventRecords:
    """All particles of all events of a chunk, flat, with `offsets[i]:offsets[i+1]` = event i.

    Pythia's mother/daughter indices are local to each event (row 0 = the system)."""
    fields: dict[str, np.ndarray]
    offsets: np.ndarray
    parton_event: np.ndarray     # per event: index of the parton-level event it came from
    weight: np.ndarray | None = None   # per event: Pythia's nominal weight (None: all 1)

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    def event(self, i: int) -> dict[str, np.ndarray]:
        a, b = self.offsets[i], self.offsets[i + 1]
        return {k: v[a:b] for k, v in self.fields.items()}

    def event_index(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_events, dtype=np.int64), np.diff(self.offsets))


def seed_for_pythia(seed_seq: np.random.SeedSequence) -> int:
    # Pythia accepts seeds in [1, 900000000].
    return int(seed_seq.generate_state(1, np.uint32)[0] % 899_999_999) + 1


def make_pythia(settings, seed: int, mpi_file: Path | None = None) -> pythia8mc.Pythia:
    """A fresh, initialised Pythia (fresh so decay tables of earlier chunks never leak in)."""
    lines = list(COMMON_SETTINGS) + list(settings) + ["Random:setSeed = on", f"Random:seed = {seed}"]
    if mpi_file is not None:
        # MPI initialisation is process independent; computing it once (fixed seed) and
        # reusing it halves the per-chunk init time and keeps results worker-count independent.
        lines += ["MultipartonInteractions:reuseInit = 3",
                  f"MultipartonInteractions:initFile = {mpi_file}"]
    with quiet_stdout():
        pythia = pythia8mc.Pythia("", False)
        for line in lines:
            if not pythia.readString(line):
                raise ConfigError(f"Pythia rejected the setting {line!r}")
        ok = pythia.init()
    if not ok:
        raise ConfigError(f"Pythia init() failed for settings {list(settings)}")
    return pythia


_MPI_INIT_SETTINGS = ("HardQCD:all = on", "PhaseSpace:pTHatMin = 200")
_MPI_INIT_SEED = 1


def mpi_init_file(folder: Path | None = None) -> Path:
    """Pythia's multiparton-interaction initialisation, computed once (fixed seed) and shared.

    MPI initialisation is process independent; computing it once and reusing it halves the
    per-chunk init time and keeps results worker-count independent. It lives in jetfm's cache
    (`cache_dir()/mpi`, not in the user's data folder), verified before each use (`cache.py`).
    """
    folder = cache_dir() / "mpi" if folder is None else Path(folder)
    key = {"pythia": importlib.metadata.version("pythia8mc"), "common": list(COMMON_SETTINGS),
           "settings": list(_MPI_INIT_SETTINGS), "seed": _MPI_INIT_SEED}
    return cached_file(folder, "mpi_init", ".dat", key,
                       lambda tmp: make_pythia(list(_MPI_INIT_SETTINGS), seed=_MPI_INIT_SEED,
                                               mpi_file=tmp))


def from_batch(batch: ak.Array) -> tuple[dict[str, np.ndarray], np.ndarray]:
    prt = batch.prt
    counts = ak.to_numpy(ak.num(prt, axis=1))
    flat = ak.flatten(prt, axis=1)
    out = {k: ak.to_numpy(flat[k]).astype(np.int32) for k in RECORD_INT}
    out["m"] = ak.to_numpy(flat.m)
    for k in ("px", "py", "pz", "e"):
        out[k] = ak.to_numpy(flat.p[k])
    # vProd is missing (None) for particles produced at the origin.
    for src, dst in (("px", "vx"), ("py", "vy"), ("pz", "vz"), ("e", "vt")):
        out[dst] = ak.to_numpy(ak.fill_none(flat.vProd[src], 0.0))
    return out, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _from_event(event) -> dict[str, list]:
    """Python copy of one Pythia Event (used for re-simulation replicas only)."""
    cols = {k: [] for k in RECORD_INT + RECORD_FLOAT}
    for p in event:
        cols["id"].append(p.id()); cols["status"].append(p.status())
        cols["mother1"].append(p.mother1()); cols["mother2"].append(p.mother2())
        cols["daughter1"].append(p.daughter1()); cols["daughter2"].append(p.daughter2())
        cols["px"].append(p.px()); cols["py"].append(p.py()); cols["pz"].append(p.pz())
        cols["e"].append(p.e()); cols["m"].append(p.m())
        cols["vx"].append(p.xProd()); cols["vy"].append(p.yProd()); cols["vz"].append(p.zProd())
        cols["vt"].append(p.tProd())
    return cols


def _concat(chunks: list[dict[str, list]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    counts = [len(c["id"]) for c in chunks]
    fields = {}
    for k in RECORD_INT:
        fields[k] = np.concatenate([np.asarray(c[k], dtype=np.int32) for c in chunks])
    for k in RECORD_FLOAT:
        fields[k] = np.concatenate([np.asarray(c[k], dtype=np.float64) for c in chunks])
    return fields, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def generate_events(spec: ChunkSpec, seed: int, n_events: int, *, resim: int = 0,
                    mpi_file: Path | None = None) -> EventRecords:
    """Generate `n_events` parton-level events of one chunk (× `resim` replicas if > 0)."""
    if resim < 0:
        raise ConfigError("--resim must be >= 0")
    if resim == 0:
        pythia = make_pythia(spec.settings, seed, mpi_file)
        with quiet_stdout():
            batch = pythia.nextBatch(n_events)
        fields, offsets = from_batch(batch)
        weight = ak.to_numpy(batch.info.weights[:, 0]).astype(np.float64)   # ≠ 1 when biased
        return EventRecords(fields, offsets, np.arange(len(offsets) - 1, dtype=np.int64), weight)

    pythia = make_pythia(list(spec.settings) + ["HadronLevel:all = off"], seed, mpi_file)
    events, parton_event, weight = [], [], []
    with quiet_stdout():
        for i in range(n_events):
            while not pythia.next():
                pass
            w = pythia.infoPython().weight()
            saved = pythia8mc.Event(pythia.event)       # the parton-level shower
            for _ in range(resim):
                pythia.event.clear()
                for j in range(saved.size()):       # restore it, then hadronise anew
                    pythia.event.append(saved[j])
                if not pythia.forceHadronLevel():
                    continue
                events.append(_from_event(pythia.event))
                parton_event.append(i)
                weight.append(w)
    fields, offsets = _concat(events)
    return EventRecords(fields, offsets, np.asarray(parton_event, dtype=np.int64),
                        np.asarray(weight, dtype=np.float64))


def charges(pid: np.ndarray, pythia_data=None) -> np.ndarray:
    """Electric charge per PDG id, looked up once per distinct id in Pythia's particle table."""
    table = pythia_data or _particle_data()
    uniq, inverse = np.unique(pid, return_inverse=True)
    q = np.array([table.charge(int(i)) for i in uniq], dtype=np.float64)
    return q[inverse]


_PDATA = None


def _particle_data():
    global _PDATA
    if _PDATA is None:
        with quiet_stdout():
            _PDATA = pythia8mc.Pythia("", False).particleData
    return _PDATA


def is_invisible(pid: np.ndarray) -> np.ndarray:
    apid = np.abs(pid)
    return np.isin(apid, _NEUTRINOS) | (apid == 1000022) | ((apid >= 4900000) & (apid < 5000000))


def final_state(records: EventRecords, *, from_pv: bool = True) -> dict[str, np.ndarray]:
    """Flat final-state particles (status > 0) with event index and charge."""
    f = records.fields
    sel = f["status"] > 0
    out = {k: f[k][sel] for k in ("px", "py", "pz", "e", "vx", "vy", "vz", "vt")}
    out["pid"] = f["id"][sel]
    out["event"] = records.event_index()[sel]
    out["charge"] = charges(out["pid"])
    out["from_pv"] = np.full(sel.sum(), from_pv)
    return out


def merge_particles(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Concatenate two flat particle dicts and keep them sorted by event (stable)."""
    if not b:
        return a
    merged = {k: np.concatenate([a[k], b[k]]) for k in a}
    order = np.argsort(merged["event"], kind="stable")
    return {k: v[order] for k, v in merged.items()}
