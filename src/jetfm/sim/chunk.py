"""One chunk, end to end: Pythia → (pileup) → detector → AK8 jets → truth labels → Arrow table.

A chunk is fully determined by (sample, seed, file index, chunk index), so any worker on any
machine produces the same jets for it; `generate.py` only decides which chunks to run.

With `--resim R` a chunk holds R replicas (events) of each parton-level event. Jets share a
`resim_group` only when they are the same jet in different replicas (`resim_pairs.py`: same
hard parton, ΔR < 0.4, pT within a factor 1.5, one jet per replica); every other jet has an
id of its own, so a reader pairs exactly the jets sharing an id. Matching runs on all jets
before the label/truth selection, so whether two jets are the same jet never depends on a
sample's labelling rules; a jet whose partner the selection drops is left unpaired.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow as pa

from ..schema import sample_schema
from .detector import DetectorConfig, simulate_detector
from .detector_card import default_detector
from .dijets import select_dijets
from .jets import build_jets
from .pileup import apply_chs_puppi
from .processes import LONG_LIVED_TO_DETECTOR, UNLABELLED_FAMILY, ChunkSpec
from .samples import EventJets, SampleOptions, draw_chunk, get_sample
from .pileup_library import LIBRARY_EVENTS, load_library, overlay, pileup_library_file
from .pythia_run import (EventRecords, final_state, generate_events, is_invisible,
                         merge_particles, seed_for_pythia)
from .resim_pairs import resim_groups
from .truth import AUX_COLUMNS, event_truth, label_jets

# event_id = file * FILE_STRIDE + chunk * CHUNK_STRIDE + event-in-chunk (replicas included);
# resim_group derives from it (resim_pairs.py)
FILE_STRIDE, CHUNK_STRIDE = 10**9, 10**4


@dataclass(frozen=True)
class ChunkTask:
    sample: str
    seed: int
    file_index: int
    chunk_index: int
    n_events: int
    resim: int = 0
    pileup: float = 0.0
    mpi_file: str | None = None
    detector: DetectorConfig | None = None     # None: the built-in CMS card
    options: SampleOptions | None = None       # the sample's own (None: its defaults)
    jet_pt_min: float = 200.0                  # GeV
    jet_r: float = 0.8                         # anti-kT radius, also the truth-matching cone
    long_lived: str = "pythia"                 # who decays K0S, Lambda...: pythia | detector
    pileup_library: str | None = None          # the library file (None: found/built here)
    pileup_library_events: int = LIBRARY_EVENTS


@dataclass
class ChunkResult:
    table: pa.Table          # jets in the sample's schema order (`schema.sample_schema`)
    n_events: int            # generated events (replicas included)
    params: dict             # the drawn grid point, for the record
    dropped: dict            # reason -> jets dropped by the sample's truth rules


def chunk_seeds(task: ChunkTask) -> list[np.random.SeedSequence]:
    """Independent streams (grid draw, Pythia, pileup, detector) for one chunk."""
    key = [task.seed, zlib.crc32(task.sample.encode()), task.file_index, task.chunk_index]
    return np.random.SeedSequence(key).spawn(4)


def _hard_partons(record: dict[str, np.ndarray]) -> np.ndarray:
    """(eta, phi) of the outgoing particles of the hard process (status ±23)."""
    sel = np.abs(record["status"]) == 23
    px, py, pz = record["px"][sel], record["py"][sel], record["pz"][sel]
    pt = np.hypot(px, py)
    return np.stack([np.arcsinh(pz / np.maximum(pt, 1e-9)), np.arctan2(py, px)], axis=1)


def _nearest(axes: np.ndarray, eta: float, phi: float) -> int:
    if len(axes) == 0:
        return 0
    dphi = np.angle(np.exp(1j * (axes[:, 1] - phi)))
    return int(np.argmin((axes[:, 0] - eta) ** 2 + dphi ** 2))


def run_chunk(task: ChunkTask, spec: ChunkSpec | None = None) -> ChunkResult:
    """Simulate one chunk; `spec` replaces the sample's drawn card (validation studies)."""
    s_grid, s_pythia, s_pileup, s_detector = chunk_seeds(task)
    if spec is None:
        spec = draw_chunk(task.sample, np.random.default_rng(s_grid), task.options)
    if task.long_lived == "detector":
        spec = replace(spec, settings=spec.settings + LONG_LIVED_TO_DETECTOR)
    mpi = Path(task.mpi_file) if task.mpi_file else None
    records = generate_events(spec, seed_for_pythia(s_pythia), task.n_events,
                              resim=task.resim, mpi_file=mpi)
    hard = final_state(records)
    visible = {k: v[~is_invisible(hard["pid"])] for k, v in hard.items()}
    particles = hard
    if task.pileup > 0:
        pu, n_pu = overlay(load_library(library_path(task)), records.n_events, task.pileup,
                           np.random.default_rng(s_pileup))
        particles = merge_particles(hard, pu)
    detector = task.detector or default_detector()
    pf = simulate_detector(particles, np.random.default_rng(s_detector), detector)
    if task.pileup > 0:
        pf = apply_chs_puppi(pf, r0=detector.puppi_cone, ref_eta_max=detector.tracker_eta_max,
                             min_weight=detector.puppi_min_weight,
                             neutral_min_pt=detector.puppi_neutral_min_pt,
                             neutral_pt_slope=detector.puppi_neutral_pt_slope,
                             npv=np.floor(0.7 * (1 + n_pu)))     # Delphes: 70 % vertex efficiency
    # GEN-jets need the reco threshold too (JetClass-II: GenJetFinderAK8 JetPTMin 200, like
    # the PUPPI jets), so a reco jet whose GEN-jet fell below it stays unmatched
    jets = build_jets(pf, visible, records.n_events, pt_min=task.jet_pt_min, r=task.jet_r,
                      genjet_pt_min=task.jet_pt_min)
    table, dropped = _label_and_assemble(task, spec, records, jets)
    return ChunkResult(table, records.n_events, dict(spec.params), dropped)


def library_path(task: ChunkTask) -> str:
    """The pileup library this task overlays (generate() builds it before starting workers)."""
    if task.pileup_library:
        return task.pileup_library
    extra = LONG_LIVED_TO_DETECTOR if task.long_lived == "detector" else ()
    return str(pileup_library_file(task.pileup_library_events, extra))


def _label_and_assemble(task: ChunkTask, spec: ChunkSpec, records: EventRecords,
                        jets: dict) -> tuple[pa.Table, dict]:
    family = spec.family
    sample = get_sample(task.sample)
    truth_names = sample.truth_columns
    # jet_label = −1 is expected: no family at all, or no JetClass-II label for the sample
    unlabelled = family == UNLABELLED_FAMILY or not sample.labelled
    jet_event = np.asarray(jets["event"], dtype=np.int64)
    n_jets = len(jet_event)
    labels = np.full(n_jets, -1, dtype=np.int32)
    truth_ok = np.ones(n_jets, dtype=bool)
    truth_cols = {c: np.zeros(n_jets, dtype=np.float64) for c in truth_names}
    drop_reason = np.full(n_jets, -1)
    aux: list[list[np.ndarray]] = [[] for _ in AUX_COLUMNS]   # per column: one array per jet
    aux_order = np.empty(n_jets, dtype=np.int64)               # jets are visited event by event
    group = np.full(n_jets, -1, dtype=np.int64)
    parton = np.zeros(n_jets, dtype=np.int64)      # nearest hard parton (resim matching)
    base = task.file_index * FILE_STRIDE + task.chunk_index * CHUNK_STRIDE
    jet_eta = np.asarray(jets["jet_eta"], dtype=np.float64)
    jet_phi = np.asarray(jets["jet_phi"], dtype=np.float64)
    jet_pt = np.asarray(jets["jet_pt"], dtype=np.float64)
    pos = 0
    for ev in np.unique(jet_event):
        idx = np.flatnonzero(jet_event == ev)
        record = records.event(int(ev))
        lab, aux_ev, truth = _jetclass2_truth(spec, record, jet_eta[idx], jet_phi[idx], task.jet_r)
        labels[idx] = lab
        if sample.truth is not None:
            cols, ok, why = sample.truth(EventJets(record, truth, spec.params, jet_eta[idx],
                                                   jet_phi[idx], jet_pt[idx], task.jet_r))
            for c, values in cols.items():
                truth_cols[c][idx] = values
            # jets the labelling rules already drop are not counted against the sample's rules
            counted = (lab >= 0) | unlabelled
            truth_ok[idx], drop_reason[idx] = ok, np.where(counted, why, -1)
        for col, name in zip(aux, AUX_COLUMNS):
            col.extend(aux_ev[name])
        aux_order[pos:pos + len(idx)] = idx
        pos += len(idx)
        if task.resim > 0:
            axes = _hard_partons(record)
            parton[idx] = [_nearest(axes, jet_eta[j], jet_phi[j]) for j in idx]
    if task.resim > 0:
        # all jets, before the selection below (module doc); replica identity = event
        group = resim_groups(base + jet_event, np.asarray(records.parton_event)[jet_event],
                             parton, jet_eta, jet_phi, jet_pt)
    keep = ((labels >= 0) | unlabelled) & truth_ok
    if sample.dijet:
        keep = _dijet_selection(jets, jet_event, records, keep, truth_cols)
    dropped = {why: int((drop_reason == i).sum())
               for i, why in enumerate(sample.drop_reasons) if (drop_reason == i).any()}
    # aux rows were appended in visiting order; map them back to jet order, keep labelled jets
    rank = np.empty(n_jets, dtype=np.int64)
    rank[aux_order] = np.arange(n_jets)
    aux_rows = rank[np.flatnonzero(keep)]
    schema = sample_schema(truth_names)
    columns = []
    for field in schema:
        name = field.name
        if name in AUX_COLUMNS:
            columns.append(_list_array([aux[AUX_COLUMNS.index(name)][r] for r in aux_rows], field.type))
            continue
        if name == "jet_label":
            col = labels
        elif name == "event_id":
            col = base + jet_event
        elif name == "resim_group":
            col = group
        elif name == "sample":
            col = np.array([task.sample] * n_jets, dtype=object)
        elif name in truth_cols:
            col = truth_cols[name].astype(field.type.to_pandas_dtype())
        else:
            col = jets[name]
        columns.append(_to_arrow(col, field.type, keep))
    return pa.Table.from_arrays(columns, schema=schema), dropped


def _dijet_selection(jets: dict, jet_event: np.ndarray, records: EventRecords,
                     keep: np.ndarray, truth_cols: dict) -> np.ndarray:
    """Keep the two leading jets of events passing the dijet selection, both or neither;
    fill jet_index, event_mjj and event_weight."""
    kin = [np.asarray(jets[k], np.float64) for k in ("jet_pt", "jet_eta", "jet_phi", "jet_energy")]
    selected, index, mjj = select_dijets(jet_event, *kin)
    lead = np.flatnonzero(index == 0)
    pair = keep[lead] & keep[lead + 1]
    both = np.zeros_like(keep)
    both[lead], both[lead + 1] = pair, pair
    weight = records.weight if records.weight is not None else np.ones(records.n_events)
    truth_cols.update(jet_index=index, event_mjj=mjj, event_weight=weight[jet_event])
    return both


def _jetclass2_truth(spec: ChunkSpec, record: dict, eta: np.ndarray, phi: np.ndarray, r: float):
    """(labels, aux_genpart rows, EventTruth or None) of one event's jets; a sample without
    JetClass-II labels gets −1 and empty aux_genpart lists."""
    if spec.family == UNLABELLED_FAMILY:
        empty = {c: [np.zeros(0)] * len(eta) for c in AUX_COLUMNS}
        return np.full(len(eta), -1, np.int32), empty, None
    kw = {k: v for k, v in (("x_ids", spec.x_ids), ("y_ids", spec.y_ids)) if v is not None}
    truth = event_truth(record, spec.family, **kw)
    lab, aux = label_jets(truth, spec.family, eta, phi, r=r)
    if spec.params.get("x_charge") == "charged":
        # the W-like stand-in for Res2P's charged X is written as JetClass-II's H± (pid ±37)
        aux["aux_genpart_pid"] = [np.where(np.abs(p) == 24, np.sign(p) * 37, p).astype(p.dtype)
                                  for p in aux["aux_genpart_pid"]]
    return lab, aux, truth


def _list_array(rows: list[np.ndarray], typ: pa.DataType) -> pa.Array:
    """Arrow list column from per-row numpy arrays (one concatenate, no Python per element)."""
    counts = np.fromiter((len(r) for r in rows), dtype=np.int32, count=len(rows))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = np.concatenate(rows) if rows else np.zeros(0)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values).cast(typ.value_type))


def _to_arrow(col, typ: pa.DataType, keep: np.ndarray) -> pa.Array:
    if isinstance(col, ak.Array):
        col = col[keep]
        if len(col) == 0:
            return pa.array([], type=typ)
        return ak.to_arrow(col, extensionarray=False, list_to32=True).cast(typ)
    return pa.array(np.asarray(col)[keep], type=typ)
