"""JetClass-II truth labels and selected truth particles, from a Pythia 8 event record.

Event record: one event of ``pythia8mc.Pythia.nextBatch()`` as numpy (see :func:`event_records`),
a dict with ``id, status, mother1, mother2, daughter1, daughter2`` (Pythia indices into the same
record; row 0 is the system) and ``px, py, pz, e, m`` (GeV).

Pythia copies a particle when it recoils (same id, ``daughter1 == daughter2`` = the copy,
``mother1 == mother2`` on the copy); a τ also radiates (τ → τ γ). A resonance's or τ's decay
daughters hang off its **bottom** copy (followed like Pythia's ``iBotCopyId``);
a decay product's direction is that of its **top** copy (the one created by the decay, before any
shower recoil). A τ's mode comes from the daughters of its bottom copy: an e → ``taue``, a μ →
``taum``, otherwise ``tauh`` (an undecayed τ, e.g. with ``HadronLevel:all = off``, gets the
token ``tau``, which is no label: such jets are dropped).

Labelling (docs/design.md, JetClass-II):
- res2p: both direct decay products of X within ΔR < r of the jet axis.
- res34p: ≥3 direct decay products of the Ys (neutrinos excluded) within ΔR < r; a neutrino is
  never matched, but its token ``v`` is added when its sibling lepton/τ (H± → ℓν) is matched.
- The label is the family-restricted multiset look-up (:func:`jetfm.labels.resonance_label`);
  a signal jet matching no label gets −1 (dropped, never relabelled QCD).
- qcd: b, c, s (either sign) among status −71 partons with pT > 10 GeV within ΔR < r, each count
  bucketed {≥2, 1, 0} (:func:`jetfm.labels.qcd_label`).
ΔR uses (η, φ) with φ wrapped. With several X in one event each is a separate system; a jet takes
the label of the first system that gives one.

aux_genpart_* selection (per jet):
- res2p / res34p, the same list for every jet of the event, *regardless of ΔR* (consumers apply
  their own cone): X bottom copies (isResX); Y bottom copies (isResY, res34p only); the direct
  decay products used for labelling, i.e. of X (res2p) or of the Ys (res34p), at their top copy,
  neutrinos included (isResDecayProd); the direct daughters of each such τ's bottom copy
  (isTauDecayProd).
- qcd: status −71 quarks (d, u, s, c, b; no gluons) with pT > 10 GeV within ΔR < r of the jet
  (isQcdParton), the same partons the label counts — JetClass-II's ntupliser's rule.
Columns: pt, eta, phi, mass (float32), pid (int32), the five flags (bool).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jetfm.labels import qcd_label, resonance_label

RES2P_X_IDS = (25, 24)      # neutral X; W-like spin-1 stand-in for the charged X
RES34P_X_IDS = (25,)
RES34P_Y_IDS = (35, 37)     # H⁰-like and H±-like Y
QCD_PARTON_STATUS = -71     # partons just before hadronisation
HARD_STATUS = 23            # |status| of the outgoing particles of the hard process
QCD_PARTON_PT_MIN = 10.0
MATCH_R = 0.8

FLAGS = ("isResX", "isResY", "isResDecayProd", "isTauDecayProd", "isQcdParton")
AUX_COLUMNS = tuple(f"aux_genpart_{c}" for c in ("pt", "eta", "phi", "mass", "pid") + FLAGS)

_TOKEN = {1: "q", 2: "q", 3: "s", 4: "c", 5: "b", 21: "g", 11: "e", 13: "m",
          12: "v", 14: "v", 16: "v"}
_NEUTRINOS = (12, 14, 16)
_LEPTON_TOKENS = frozenset({"e", "m", "taue", "taum", "tauh", "tau"})
_FAMILIES = ("res2p", "res34p", "qcd")


@dataclass
class EventTruth:
    """Per-event truth: resonance decay products (for labelling) and aux_genpart candidates."""

    family: str
    prod_token: tuple[str, ...] = ()            # label token of each decay product
    prod_eta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prod_phi: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prod_pid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    prod_parent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # X or Y row
    prod_parent_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    prod_system: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # which X
    # aux_genpart candidates (all of them for resonances, QCD partons before the cone cut);
    # keys: pt, eta, phi, mass, pid and FLAGS.
    genpart: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_systems(self) -> int:
        return int(self.prod_system.max()) + 1 if len(self.prod_system) else 0


def event_records(batch) -> list[dict[str, np.ndarray]]:
    """Split an awkward ``nextBatch()`` result into per-event numpy record dicts."""
    import awkward as ak

    prt = batch.prt
    counts = np.asarray(ak.num(prt, axis=1))
    cols = {k: prt[k] for k in ("id", "status", "mother1", "mother2", "daughter1", "daughter2", "m")}
    cols.update({k: prt.p[k] for k in ("px", "py", "pz", "e")})
    flat = {k: np.asarray(ak.flatten(v, axis=1)) for k, v in cols.items()}
    edges = np.cumsum(counts)[:-1]
    split = {k: np.split(v, edges) for k, v in flat.items()}
    return [{k: split[k][i] for k in flat} for i in range(len(counts))]


# ---- helpers on the record (called for the few particles that matter; shared with the
#      samples' own truth rules, samples/*.py) -------------------------------------------------

def bottom_copy(rec, i: int) -> int:
    # Like Pythia's iBotCopyId: follow recoil copies and also emissions (τ → τ γ in the QED
    # shower), i.e. the one daughter with the same id when all the others are γ/g.
    ids = rec["id"]
    while True:
        kids = daughters(rec, i)
        same = [k for k in kids if ids[k] == ids[i]]
        if len(same) != 1 or any(abs(ids[k]) not in (21, 22) for k in kids if k != same[0]):
            return i
        i = same[0]


def daughters(rec, i: int) -> list[int]:
    # Pythia's conventions for (daughter1, daughter2), as in Particle::daughterList for decays.
    d1, d2 = int(rec["daughter1"][i]), int(rec["daughter2"][i])
    if d1 <= 0:
        return []
    if d2 <= 0 or d2 == d1:
        return [d1]
    return list(range(d1, d2 + 1)) if d2 > d1 else [d1, d2]


def _token(rec, i: int) -> str:
    a = abs(int(rec["id"][i]))
    if a != 15:
        return _TOKEN.get(a, f"pid{a}")          # unknown ids give no label
    kids = np.abs(rec["id"][daughters(rec, bottom_copy(rec, i))])
    if kids.size == 0:
        return "tau"
    return "taue" if (kids == 11).any() else "taum" if (kids == 13).any() else "tauh"


def kinematics(rec, idx) -> dict[str, np.ndarray]:
    idx = np.asarray(idx, dtype=np.int64)
    px, py, pz = rec["px"][idx], rec["py"][idx], rec["pz"][idx]
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(pz / pt), np.sign(pz) * 1e4)   # beam-like: far away
    return {"pt": pt, "eta": eta, "phi": np.arctan2(py, px), "mass": rec["m"][idx],
            "pid": rec["id"][idx].astype(np.int32)}


def delta_r(eta1, phi1, eta2, phi2) -> np.ndarray:
    """ΔR matrix, rows = first argument, columns = second; φ wrapped into [−π, π)."""
    deta = np.asarray(eta1)[:, None] - np.asarray(eta2)[None, :]
    dphi = (np.asarray(phi1)[:, None] - np.asarray(phi2)[None, :] + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(deta, dphi)


def _genpart(rec, groups: dict[str, list[int]]) -> dict[str, np.ndarray]:
    idx = [i for g in groups.values() for i in g]
    out = kinematics(rec, idx)
    for f in FLAGS:
        out[f] = np.array([f == g for g, lst in groups.items() for _ in lst], dtype=bool)
    return out


# ---- public API ----------------------------------------------------------------------------

def event_truth(record: dict[str, np.ndarray], family: str, x_ids=None,
                y_ids=RES34P_Y_IDS) -> EventTruth:
    """Collect the truth needed to label the jets of one event of the given family."""
    if family not in _FAMILIES:
        raise ValueError(f"family must be one of {_FAMILIES}, got {family!r}")
    rec = {k: np.asarray(v) for k, v in record.items()}
    aid = np.abs(rec["id"])

    if family == "qcd":
        pt = np.hypot(rec["px"], rec["py"])
        sel = ((rec["status"] == QCD_PARTON_STATUS) & (pt > QCD_PARTON_PT_MIN)
               & (aid >= 1) & (aid <= 5))
        return EventTruth(family, genpart=_genpart(rec, {"isQcdParton": list(np.flatnonzero(sel))}))

    if x_ids is None:
        x_ids = RES2P_X_IDS if family == "res2p" else RES34P_X_IDS
    # X candidates by mask (a handful of copies), then keep each chain's bottom copy once.
    xs = sorted({bottom_copy(rec, int(i)) for i in np.flatnonzero(np.isin(aid, x_ids))})

    ys, prods, parents, systems, tau_kids = [], [], [], [], []
    for s, x in enumerate(xs):
        if family == "res2p":
            par = [x]
        else:
            par = [bottom_copy(rec, d) for d in daughters(rec, x) if aid[d] in y_ids]
            ys += par
        for p in par:
            # The decay's own rows are the products' top copies (before any shower recoil).
            for d in daughters(rec, p):
                prods.append(d)
                parents.append(p)
                systems.append(s)
                if aid[d] == 15:
                    tau_kids += daughters(rec, bottom_copy(rec, d))

    kin = kinematics(rec, prods)
    gen = _genpart(rec, {"isResX": xs, "isResY": ys, "isResDecayProd": prods,
                         "isTauDecayProd": tau_kids})
    return EventTruth(
        family,
        prod_token=tuple(_token(rec, d) for d in prods),
        prod_eta=kin["eta"], prod_phi=kin["phi"], prod_pid=kin["pid"],
        prod_parent=np.asarray(parents, dtype=np.int64),
        prod_parent_id=rec["id"][np.asarray(parents, dtype=np.int64)].astype(np.int32),
        prod_system=np.asarray(systems, dtype=np.int64),
        genpart=gen,
    )


def _aux_row(gen: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    row = {f"aux_genpart_{k}": gen[k][keep].astype(np.float32)
           for k in ("pt", "eta", "phi", "mass")}
    row["aux_genpart_pid"] = gen["pid"][keep].astype(np.int32)
    row.update({f"aux_genpart_{f}": gen[f][keep].astype(bool) for f in FLAGS})
    return row


def _resonance_jet_label(truth: EventTruth, family: str, inside: np.ndarray) -> int:
    """Label of one jet from its mask of decay products inside the cone."""
    tok = np.asarray(truth.prod_token, dtype=object)
    is_nu = np.isin(np.abs(truth.prod_pid), _NEUTRINOS)
    for s in range(truth.n_systems):
        sys_ = truth.prod_system == s
        matched = inside & sys_ & ~is_nu
        n = int(matched.sum())
        if family == "res2p" and not (n == 2 and (sys_ & ~is_nu).sum() == 2):
            continue
        if family == "res34p" and n < 3:
            continue
        tokens = list(tok[matched])
        # A neutrino is named (never matched) when its sibling lepton/τ from the same Y is matched.
        lep_parents = {p for p, t in zip(truth.prod_parent[matched], tokens) if t in _LEPTON_TOKENS}
        tokens += ["v" for p in truth.prod_parent[sys_ & is_nu] if p in lep_parents]
        label = resonance_label(family, tokens)
        if label >= 0:
            return label
    return -1


def label_jets(truth: EventTruth, family: str, jet_eta: np.ndarray, jet_phi: np.ndarray,
               r: float = MATCH_R) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """JetClass-II labels (int32, −1 = drop) and aux_genpart_* columns for the jets of one event."""
    if family != truth.family:
        raise ValueError(f"truth was collected for {truth.family!r}, not {family!r}")
    jet_eta = np.atleast_1d(np.asarray(jet_eta, dtype=np.float64))
    jet_phi = np.atleast_1d(np.asarray(jet_phi, dtype=np.float64))
    n_jets = len(jet_eta)
    labels = np.full(n_jets, -1, dtype=np.int32)
    aux: dict[str, list[np.ndarray]] = {c: [] for c in AUX_COLUMNS}
    gen = truth.genpart

    if family == "qcd":
        inside = delta_r(jet_eta, jet_phi, gen["eta"], gen["phi"]) < r
        apid = np.abs(gen["pid"])
        for j in range(n_jets):
            counts = [int((inside[j] & (apid == q)).sum()) for q in (5, 4, 3)]
            labels[j] = qcd_label(*counts)
            for k, v in _aux_row(gen, inside[j]).items():
                aux[k].append(v)
        return labels, aux

    inside = delta_r(jet_eta, jet_phi, truth.prod_eta, truth.prod_phi) < r
    every = np.ones(len(gen["pid"]), dtype=bool)
    for j in range(n_jets):
        labels[j] = _resonance_jet_label(truth, family, inside[j])
        for k, v in _aux_row(gen, every).items():
            aux[k].append(v)
    return labels, aux
