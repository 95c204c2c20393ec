"""Delphes events → JetClass-II rows, after JetClass-II's `makeNtuples.C`
(jet-universe/jetclass2_generation, delphes_analyzers/) — docs/delphes.md lists every choice.

Per event, jets of the jet branch in branch order:
- selection: pT ≥ `jet_pt_min` and |η| ≤ 2.5 (the macro skips pT < 120 or |η| > 2.5);
- label and aux_genpart_*: jetfm's JetClass-II rules (`sim/truth.py`) on the `Particle`
  record (`pythia_record`); jets without a label are dropped (the macro's "Invalid");
- jet_*: the branch's PT, Eta, Phi, energy of P4() = (PT, Eta, Phi, Mass), soft-drop mass
  SoftDroppedP4[0].M() and Tau[0..3] (the macro's; not recomputed);
- constituents: the jet's references resolved to ParticleFlowCandidate rows (by unique id),
  without |pz| > 1e4, |η| > 5 or pT ≤ 0, sorted by pT; part_dzval relative to the first
  Vertex when DZ ≠ 0;
- GEN-jet: the ΔR-nearest GEN-jet not taken by an earlier jet of the event, if ΔR < R; its
  constituents (Particle rows) as genpart_*, z and t relative to the first Vertex, x and y
  zeroed when |z| < 1e-10.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import awkward as ak
import numpy as np
import pyarrow as pa

from ..schema import sample_schema
from ..sim.truth import AUX_COLUMNS, event_truth, label_jets

JET_ABS_ETA_MAX = 2.5
# pz / |η| / pT cuts of the macro on every constituent (reco and GEN)
PZ_MAX, ETA_MAX = 1e4, 5.0
# TRef ids: ROOT keeps the object number in the low 24 bits of fUniqueID
UID_MASK = 0xFFFFFF
# FatJetMatching's X: h0, H0, H± (25, 35, 37); its Res34P Y: H0, H± (truth.py's default)
RES2P_X_IDS = (25, 35, 37)
SCHEMA = sample_schema()


def jet_radius(jet_branch: str) -> float:
    """The macro's rule: R = 1.5 for an AK15 branch, else 0.8 (matching and GEN-jet cone)."""
    return 1.5 if "AK15" in jet_branch else 0.8


@dataclass(frozen=True)
class NtupleOptions:
    sample: str                 # JetClass-II family: res2p, res34p or qcd
    jet_pt_min: float = 120.0   # GeV
    jet_r: float = 0.8


def pythia_record(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One event's Delphes `Particle` rows as truth.py's Pythia record.

    A system row is put first, so Delphes' 0-based indices with −1 for none become Pythia's
    1-based ones with 0 for none; HepMC status codes (1: final, otherwise |Pythia status|)
    get Pythia's sign back (final > 0, others < 0: a parton before hadronisation is −71).
    Delphes keeps each vertex's outgoing particles together, so D1..D2 is a range as in
    Pythia's records."""
    def shifted(col):
        return np.concatenate([[0], np.asarray(p[col], np.int64) + 1])

    def value(col, dtype=np.float64):
        return np.concatenate([[0], np.asarray(p[col], dtype)])
    status = np.asarray(p["Status"], np.int64)
    return {"id": value("PID", np.int64), "status": np.concatenate([[-11], np.where(
                status == 1, 1, -np.abs(status))]),
            "mother1": shifted("M1"), "mother2": shifted("M2"),
            "daughter1": shifted("D1"), "daughter2": shifted("D2"),
            "px": value("Px"), "py": value("Py"), "pz": value("Pz"), "e": value("E"),
            "m": value("Mass")}


def _flat(arr) -> np.ndarray:
    return ak.to_numpy(ak.flatten(arr, axis=None))


def _wrap(dphi):
    """TVector2::Phi_mpi_pi: into [−π, π)."""
    return (np.asarray(dphi, np.float64) + np.pi) % (2 * np.pi) - np.pi


def _lv_mass(lv) -> np.ndarray:
    """TLorentzVector::M() (negative for a space-like vector, as ROOT)."""
    px, py, pz, e = (ak.to_numpy(x).astype(np.float64)
                     for x in (lv.fP.fX, lv.fP.fY, lv.fP.fZ, lv.fE))
    m2 = e * e - (px * px + py * py + pz * pz)
    return np.sign(m2) * np.sqrt(np.abs(m2))


def _energy(pt, eta, mass):
    """E of a (pT, η, φ, m) four-vector (Delphes' P4(), ROOT's PtEtaPhiMVector)."""
    pt, eta, mass = (np.asarray(x, np.float64) for x in (pt, eta, mass))
    return np.sqrt((pt * np.cosh(eta)) ** 2 + mass ** 2)


class _Collection:
    """One flat collection of a chunk: per-event offsets and flat numpy columns."""

    def __init__(self, ev: dict, role: str, fields):
        first = ev[f"{role}.{fields[0]}"]
        self.counts = ak.to_numpy(ak.num(first, axis=1)).astype(np.int64)
        self.starts = np.cumsum(self.counts) - self.counts
        self.event = np.repeat(np.arange(len(self.counts)), self.counts)
        self.cols = {f: _flat(ev[f"{role}.{f}"]) for f in fields}

    def rows(self, event: int) -> slice:
        return slice(self.starts[event], self.starts[event] + self.counts[event])


def _resolve(refs, ref_owner, owner_event, coll: _Collection):
    """Rows of `coll` that each reference names (−1: not in the collection, as a TRef the
    macro finds null); `ref_owner` is the jet of each reference."""
    key_rows = coll.event.astype(np.int64) << 24 | (coll.cols["fUniqueID"].astype(np.int64)
                                                     & UID_MASK)
    order = np.argsort(key_rows, kind="stable")
    sorted_keys = key_rows[order]
    keys = owner_event[ref_owner].astype(np.int64) << 24 | (refs.astype(np.int64) & UID_MASK)
    if not len(sorted_keys) or not len(keys):
        return np.full(len(keys), -1, np.int64)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == keys, order[pos], -1)


def _constituents(ref_lists, jets: np.ndarray, jet_event: np.ndarray, coll: _Collection):
    """(owner position in `jets`, collection row) of the kept constituents of `jets`
    (indices into the flat jet arrays), cut as the macro does and pT-descending per jet;
    plus the number of references that named no row."""
    n_per_jet = ak.to_numpy(ak.num(ref_lists, axis=1)).astype(np.int64)
    starts = np.cumsum(n_per_jet) - n_per_jet
    refs_flat = _flat(ref_lists)
    n = n_per_jet[jets]
    owner = np.repeat(np.arange(len(jets)), n)
    first = np.cumsum(n) - n
    idx = np.repeat(starts[jets] - first, n) + np.arange(n.sum())
    rows = _resolve(refs_flat[idx], jets[owner], jet_event, coll)
    missing = int((rows < 0).sum())
    owner, rows = owner[rows >= 0], rows[rows >= 0]
    c = coll.cols
    pt, eta = c["PT"][rows].astype(np.float64), c["Eta"][rows].astype(np.float64)
    ok = (np.abs(pt * np.sinh(eta)) <= PZ_MAX) & (np.abs(eta) <= ETA_MAX) & (pt > 0)
    owner, rows, pt = owner[ok], rows[ok], pt[ok]
    order = np.lexsort((-pt, owner))
    return owner[order], rows[order], missing


def _four_vector(c: dict, rows) -> dict[str, np.ndarray]:
    pt, eta, phi, m = (c[k][rows].astype(np.float64) for k in ("PT", "Eta", "Phi", "Mass"))
    return {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
            "e": _energy(pt, eta, m), "eta": eta, "phi": phi}


def _list(values, counts, typ: pa.DataType) -> pa.Array:
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = np.asarray(values).astype(typ.value_type.to_pandas_dtype())
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def _match_genjets(geta, gphi, jeta, jphi, r: float) -> np.ndarray:
    """The macro's loop for the kept jets of one event, in branch order: each takes the
    ΔR-nearest GEN-jet (ΔR held as float, first of equals) not taken yet, if ΔR < r."""
    used = np.zeros(len(geta), bool)
    match = np.full(len(jeta), -1, np.int64)
    for j in range(len(jeta)):
        dr = np.hypot(geta - jeta[j], _wrap(gphi - jphi[j])).astype(np.float32)
        dr[used] = np.inf
        if len(dr) and dr.min() < r:
            match[j] = int(np.argmin(dr))
            used[match[j]] = True
    return match


def ntuple_chunk(ev: dict[str, ak.Array], entry_start: int, opts: NtupleOptions,
                 has_vertex: bool) -> tuple[pa.Table, Counter]:
    """One chunk of events (reader.iter_events) → a table in jetfm generate's layout, and
    counts: jets selected, dropped (no label / no constituents), references not found."""
    stats = Counter()
    jets = _Collection(ev, "jet", ("PT", "Eta", "Phi", "Mass"))
    gen = _Collection(ev, "genjet", ("PT", "Eta", "Phi", "Mass"))
    part = _Collection(ev, "particle", ("fUniqueID", "PID", "Status", "M1", "M2", "D1", "D2",
                                        "Px", "Py", "Pz", "E", "Mass", "PT", "Eta", "Phi",
                                        "X", "Y", "Z", "T"))
    pf = _Collection(ev, "pf", ("fUniqueID", "PID", "Charge", "PT", "Eta", "Phi", "Mass",
                                "D0", "DZ", "ErrorD0", "ErrorDZ"))
    n_events = len(jets.counts)
    pv_z = np.full(n_events, np.nan, np.float32)      # NaN: no primary vertex (raw values)
    pv_t = np.full(n_events, np.nan, np.float32)
    if has_vertex:
        vz, vt = ev["vertex.Z"], ev["vertex.T"]
        has = ak.to_numpy(ak.num(vz, axis=1)) > 0
        pv_z[has] = ak.to_numpy(ak.firsts(vz[has]))
        pv_t[has] = ak.to_numpy(ak.firsts(vt[has]))
    jpt, jeta, jphi, jmass = (jets.cols[k] for k in ("PT", "Eta", "Phi", "Mass"))
    selected = (jpt >= opts.jet_pt_min) & (np.abs(jeta) <= JET_ABS_ETA_MAX)
    stats["jets selected"] += int(selected.sum())

    labels = np.full(len(jpt), -1, np.int32)
    genmatch = np.full(len(jpt), -1, np.int64)       # flat GEN-jet row per jet
    aux: dict[int, dict] = {}
    kw = {"x_ids": RES2P_X_IDS} if opts.sample == "res2p" else {}
    for e in np.unique(jets.event[selected]):
        idx = np.flatnonzero(selected & (jets.event == e))
        rows = part.rows(e)
        record = pythia_record({k: v[rows] for k, v in part.cols.items()})
        lab, aux_ev = label_jets(event_truth(record, opts.sample, **kw), opts.sample,
                                 jeta[idx].astype(np.float64), jphi[idx].astype(np.float64),
                                 r=opts.jet_r)
        labels[idx] = lab
        for k, j in enumerate(idx):
            aux[j] = {c: aux_ev[c][k] for c in AUX_COLUMNS}
        kept = idx[lab >= 0]
        g = gen.rows(e)
        m = _match_genjets(gen.cols["Eta"][g].astype(np.float64),
                           gen.cols["Phi"][g].astype(np.float64), jeta[kept].astype(np.float64),
                           jphi[kept].astype(np.float64), opts.jet_r)
        genmatch[kept] = np.where(m >= 0, m + g.start, -1)
    stats["jets dropped: no label"] += int((selected & (labels < 0)).sum())
    keep = np.flatnonzero(selected & (labels >= 0))

    owner, rows, missing = _constituents(ak.flatten(ev["jet.Constituents"], axis=1), keep,
                                         jets.event, pf)
    stats["constituent references not found"] += missing
    ncon = np.bincount(owner, minlength=len(keep))
    # a jet left without constituents is dropped: jetfm's readers refuse particle-less jets
    stats["jets dropped: no constituents"] += int((ncon == 0).sum())
    has_con = ncon > 0
    keep, ncon = keep[has_con], ncon[has_con]
    remap = np.cumsum(has_con) - 1
    owner = remap[owner]               # a dropped jet owns no constituent
    stats["jets written"] += len(keep)

    cols: dict[str, object] = {}
    jet_event = jets.event[keep]
    sgn = np.where(jeta[keep] > 0, 1.0, -1.0)        # the macro's sign: η = 0 counts as < 0
    v = _four_vector(pf.cols, rows)
    cols["part_px"], cols["part_py"], cols["part_pz"] = v["px"], v["py"], v["pz"]
    cols["part_energy"] = v["e"]
    cols["part_deta"] = sgn[owner] * (v["eta"] - jeta[keep][owner])
    cols["part_dphi"] = _wrap(v["phi"] - jphi[keep][owner])
    pid, charge = pf.cols["PID"][rows], pf.cols["Charge"][rows]
    dz = pf.cols["DZ"][rows]
    pvz = pv_z[jet_event][owner]
    use_pv = ~np.isnan(pvz) & (dz != 0)
    cols["part_d0val"], cols["part_d0err"] = pf.cols["D0"][rows], pf.cols["ErrorD0"][rows]
    cols["part_dzval"] = np.where(use_pv, dz - np.where(use_pv, pvz, 0), dz).astype(np.float32)
    cols["part_dzerr"] = pf.cols["ErrorDZ"][rows]
    cols["part_charge"] = charge
    lepton = np.isin(np.abs(pid), (11, 13))
    cols["part_isElectron"] = np.abs(pid) == 11
    cols["part_isMuon"] = np.abs(pid) == 13
    cols["part_isPhoton"] = pid == 22
    cols["part_isChargedHadron"] = (charge != 0) & ~lepton
    cols["part_isNeutralHadron"] = (charge == 0) & (pid != 22)

    cols["jet_pt"], cols["jet_eta"], cols["jet_phi"] = jpt[keep], jeta[keep], jphi[keep]
    cols["jet_energy"] = _energy(jpt[keep], jeta[keep], jmass[keep])
    cols["jet_sdmass"] = _lv_mass(ak.flatten(ev["jet.SoftDroppedP4[5]"], axis=1)[keep][:, 0])
    cols["jet_nparticles"] = ncon
    taus = ak.to_numpy(ak.flatten(ev["jet.Tau[5]"], axis=1))[keep]
    for n in range(4):
        cols[f"jet_tau{n + 1}"] = taus[:, n]
    cols["jet_label"] = labels[keep]
    cols.update(_gen_columns(ev, gen, part, genmatch[keep], jet_event, jeta[keep],
                             jphi[keep], sgn, pv_z, pv_t, stats))
    for c in AUX_COLUMNS:
        cols[c] = [aux[j][c] for j in keep]
    cols["event_id"] = entry_start + jet_event
    cols["resim_group"] = np.full(len(keep), -1, np.int64)
    cols["sample"] = np.full(len(keep), opts.sample, dtype=object)
    counts = {"part": ncon, "genpart": cols.pop("_gen_counts")}
    return _table(cols, counts), stats


def _gen_columns(ev, gen: _Collection, part: _Collection, match, jet_event, jeta, jphi, sgn,
                 pv_z, pv_t, stats) -> dict:
    has = match >= 0
    out: dict[str, object] = {}

    def take(values):        # 0 for a jet without GEN-jet, as the macro's reset values
        got = np.zeros(len(match), np.float64)
        got[has] = values[match[has]]
        return got
    for col, src in (("genjet_pt", "PT"), ("genjet_eta", "Eta"), ("genjet_phi", "Phi")):
        out[col] = take(gen.cols[src])
    out["genjet_energy"] = take(_energy(gen.cols["PT"], gen.cols["Eta"], gen.cols["Mass"]))
    out["genjet_sdmass"] = np.zeros(len(match))
    if has.any():
        sd = ak.flatten(ev["genjet.SoftDroppedP4[5]"], axis=1)
        out["genjet_sdmass"][has] = _lv_mass(sd[match[has]][:, 0])
    matched = np.flatnonzero(has)
    owner, rows, missing = _constituents(ak.flatten(ev["genjet.Constituents"], axis=1),
                                         match[matched], gen.event, part)
    stats["constituent references not found"] += missing
    owner = matched[owner]                       # position among the written jets
    ncon = np.bincount(owner, minlength=len(match))
    out["genjet_nparticles"] = ncon
    v = _four_vector(part.cols, rows)
    out.update(genpart_px=v["px"], genpart_py=v["py"], genpart_pz=v["pz"],
               genpart_energy=v["e"], genpart_jet_deta=sgn[owner] * (v["eta"] - jeta[owner]),
               genpart_jet_dphi=_wrap(v["phi"] - jphi[owner]))
    ev_of = jet_event[owner]
    z, t = part.cols["Z"][rows], part.cols["T"][rows]
    pvz, pvt = pv_z[ev_of], pv_t[ev_of]
    with_pv = ~np.isnan(pvz)
    z = np.where(with_pv, z - np.where(with_pv, pvz, 0), z).astype(np.float32)
    out["genpart_z"] = z
    out["genpart_t"] = np.where(with_pv, t - np.where(with_pv, pvt, 0), t).astype(np.float32)
    # the macro's fix of float noise: a particle at the primary vertex gets x = y = 0
    at_pv = np.abs(z) < 1e-10
    out["genpart_x"] = np.where(at_pv, 0, part.cols["X"][rows])
    out["genpart_y"] = np.where(at_pv, 0, part.cols["Y"][rows])
    out["genpart_pid"] = part.cols["PID"][rows]
    out["_gen_counts"] = ncon
    return out


def _table(cols: dict, counts: dict) -> pa.Table:
    arrays = []
    for field in SCHEMA:
        name, typ = field.name, field.type
        value = cols[name]
        if name in AUX_COLUMNS:
            n = [len(r) for r in value]
            flat = np.concatenate(value) if value else np.zeros(0)
            arrays.append(_list(flat, n, typ))
        elif pa.types.is_list(typ):
            arrays.append(_list(value, counts["genpart" if name.startswith("genpart_")
                                              else "part"], typ))
        else:
            arrays.append(pa.array(list(value), type=typ) if name == "sample" else
                          pa.array(np.asarray(value).astype(typ.to_pandas_dtype())))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


__all__ = ["NtupleOptions", "ntuple_chunk", "pythia_record", "jet_radius", "JET_ABS_ETA_MAX"]
