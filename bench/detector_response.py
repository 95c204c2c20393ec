"""Where does each generator-level particle of a jet end up? jetfm's detector against the
Delphes chain of JetClass-II, on matched AK8 jets (issue 26, item 3).

    python bench/detector_response.py REFERENCE.root JETFM_FOLDER [--detector-card my.yaml]

REFERENCE.root: a Delphes file of the JetClass-II chain (Particle, ParticleFlowCandidate with
its `Particles` refs, JetPUPPIAK8, GenJetAK8, Vertex); JETFM_FOLDER: `jetfm generate` Parquet.
  delphes   the reference's PUPPI jets (pT > 200 GeV, |eta| < 2.5) matched to GenJetAK8 as
            makeNtuples.C does (constituents with pT <= 0 dropped, as it does)
  jetfm@ref jetfm's detector, <mu> = 50 pileup, CHS/PUPPI and AK8 on the reference's own
            hard-event particles, --replicas times
  jetfm     the Parquet folder (all jets, and jets above 1 TeV like the reference's)
Per source: gen/reco pT (median, 16/84 %, mean; +- bootstrap), per type (photon, neutral and
charged hadron, e, mu) the mean energy share and sum E(candidates) / sum E(GEN-jet particles of
that type), the E-weighted PUPPI weight of neutrals (not in Parquet), the |d0| > 10 mm share of
charged candidates, the GEN-jet energy produced outside the tracker, and the true |d0| > 10 mm
share of charged GEN-jet particles (straight line / Delphes' helix). Then the reference's jets
next to jetfm@ref's for the same GEN-jet; the fate of each GEN-jet particle of the reference
via the `Particles` refs (Parquet keeps no such link) and of the same charged particles in
jetfm@ref (tracks found by their direction; cells cannot be traced); and whether the
reference's D0 is the straight-line or the helix d0. --detector-card: try a card in jetfm@ref.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import awkward as ak
import numpy as np

from jetfm.data.paths import expand_paths
from jetfm.errors import JetfmError
from jetfm.sim.detector import simulate_detector
from jetfm.sim.detector_card import load_card
from jetfm.sim.jets import build_jets
from jetfm.sim.pileup import apply_chs_puppi
from jetfm.sim.pileup_library import load_library, overlay, pileup_library_file
from jetfm.sim.pythia_run import charges, is_invisible, merge_particles

TYPES = ("photon", "neutral_had", "charged_had", "electron", "muon")
FLAGS = ("part_isPhoton", "part_isNeutralHadron", "part_isChargedHadron", "part_isElectron",
         "part_isMuon")
R_TRACKER, Z_TRACKER, B_FIELD = 1290.0, 3000.0, 3.8   # mm, mm, T (the cms card's values)
COLUMNS = ["jet_pt", "genjet_pt", "part_energy", "part_charge", "part_d0val", "part_dzerr",
           *FLAGS, "genpart_energy", "genpart_pid", "genpart_x", "genpart_y", "genpart_z",
           "genpart_px", "genpart_py"]


# ---------------------------------------------------------------------------------------------
# the reference


def read_delphes(path: Path, max_events: int) -> list[dict]:
    import uproot
    tree = uproot.open(path)["Delphes"]
    spec = {"Particle": ("PID", "Status", "Charge", "E", "Px", "Py", "Pz", "X", "Y", "Z", "T"),
            "ParticleFlowCandidate": ("fUniqueID", "PID", "Charge", "PT", "Eta", "Phi", "E",
                                      "Eem", "Ehad", "D0", "ErrorD0", "Particles"),
            "JetPUPPIAK8": ("PT", "Eta", "Phi", "Constituents"),
            "GenJetAK8": ("PT", "Eta", "Phi", "Constituents"), "Vertex": ("Z",)}
    cols = {f"{b}.{f}": tree[f"{b}/{b}.{f}"].array(entry_stop=max_events)
            for b, fs in spec.items() for f in fs}
    refs = ("Particles", "Constituents")       # TRefArrays: fUniqueIDs of the objects
    return [{k: v[i].refs.to_list() if k.endswith(refs) else v[i].to_numpy()
             for k, v in cols.items()} for i in range(min(tree.num_entries, max_events))]


def _cand_type(pid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """Index into TYPES, makeNtuples.C's flags (leptons by |PID|, photons PID 22)."""
    a = np.abs(pid)
    return np.select([a == 22, (charge == 0), a == 11, a == 13], [0, 1, 3, 4], 2)


def _gen_type(pid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    a = np.abs(pid)
    return np.select([a == 22, a == 11, a == 13, charge != 0], [0, 3, 4, 2], 1)


def match(jpt, jeta, jphi, geta, gphi, r=0.8) -> list[tuple[int, int]]:
    """makeNtuples.C: reco jets in order, each takes the closest GEN-jet not yet taken."""
    used, out = set(), []
    for j in np.argsort(-np.asarray(jpt), kind="stable"):
        if jpt[j] < 200 or abs(jeta[j]) > 2.5 or len(geta) == 0:
            continue
        dr = np.hypot(geta - jeta[j], (gphi - jphi[j] + np.pi) % (2 * np.pi) - np.pi)
        dr[list(used)] = np.inf
        g = int(np.argmin(dr))
        if dr[g] < r:
            used.add(g)
            out.append((int(j), g))
    return out


def delphes_jets(events: list[dict]) -> tuple[ak.Array, dict, set]:
    """Matched jets in jetfm's Parquet layout (+ `part_dzerr` of neutrals = their energy before
    the PUPPI weight, Eem + Ehad), the per-particle fate table {(type, fate): energy} and the
    GEN-jet particles as (event, index in Particle)."""
    rows, fate, genjet_parts = [], defaultdict(float), set()
    for i_ev, ev in enumerate(events):
        p, c = "Particle.", "ParticleFlowCandidate."
        n_gen = len(ev[p + "PID"])
        index = {u: i for i, u in enumerate(ev[c + "fUniqueID"])}
        ctype = _cand_type(ev[c + "PID"], ev[c + "Charge"])
        gtype = _gen_type(ev[p + "PID"], ev[p + "Charge"])
        track_of, cells_of = {}, defaultdict(set)     # gen particle (uid) -> candidates
        for i, refs in enumerate(ev[c + "Particles"]):
            if ev[c + "Charge"][i] != 0:
                track_of[refs[0]] = i
            else:
                for u in refs:
                    cells_of[u].add(i)
        z_pv = ev["Vertex.Z"][0] if len(ev["Vertex.Z"]) else 0.0
        for j, g in match(ev["JetPUPPIAK8.PT"], ev["JetPUPPIAK8.Eta"], ev["JetPUPPIAK8.Phi"],
                          ev["GenJetAK8.Eta"], ev["GenJetAK8.Phi"]):
            cons = [index[u] for u in ev["JetPUPPIAK8.Constituents"][j] if u in index]
            cons = np.array([i for i in cons if ev[c + "PT"][i] > 0], np.int64)
            gk = np.array([u - 1 for u in ev["GenJetAK8.Constituents"][g] if 0 < u <= n_gen])
            neutral = ev[c + "Charge"][cons] == 0
            genjet_parts.update((i_ev, int(k)) for k in gk)
            rows.append({
                "event": i_ev, "jet_pt": ev["JetPUPPIAK8.PT"][j],
                "genjet_pt": ev["GenJetAK8.PT"][g], "part_energy": ev[c + "E"][cons],
                "part_charge": ev[c + "Charge"][cons], "part_d0val": ev[c + "D0"][cons],
                "part_dzerr": np.where(neutral, (ev[c + "Eem"] + ev[c + "Ehad"])[cons], 0.0),
                **{f: ctype[cons] == t for t, f in enumerate(FLAGS)},
                "genpart_energy": ev[p + "E"][gk], "genpart_pid": ev[p + "PID"][gk],
                "genpart_x": ev[p + "X"][gk], "genpart_y": ev[p + "Y"][gk],
                "genpart_z": ev[p + "Z"][gk] - z_pv, "genpart_px": ev[p + "Px"][gk],
                "genpart_py": ev[p + "Py"][gk]})
            in_jet = set(cons.tolist())
            for k in gk:
                u, t, e = k + 1, TYPES[gtype[k]], ev[p + "E"][k]
                fate[t, "gen"] += e
                if u in track_of:
                    i = track_of[u]
                    where = "track in jet" if i in in_jet else "track not in jet"
                    fate[t, where] += e
                    fate[t, where + ": cand E"] += ev[c + "E"][i]
                    fate[t, "track E == gen E"] += e * (abs(ev[c + "E"][i] / e - 1) < 1e-4)
                elif cells_of.get(u):
                    fate[t, "cell in jet" if cells_of[u] & in_jet else "cell not in jet"] += e
                elif _outside(ev[p + "X"][k], ev[p + "Y"][k], ev[p + "Z"][k] - z_pv):
                    fate[t, "none: produced outside tracker"] += e
                else:
                    fate[t, "none: other"] += e
    return ak.Array(rows), fate, genjet_parts


# ---------------------------------------------------------------------------------------------
# jetfm's chain on the reference's own particles


def reference_particles(events: list[dict]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Status-1 hard-event particles of every reference event in jetfm's `final_state` layout
    (vertex in mm relative to the primary vertex, as jetfm's hard events), and each one's
    index in its event's Particle array."""
    parts, index = defaultdict(list), []
    for i, ev in enumerate(events):
        p = "Particle."
        s = ev[p + "Status"] == 1
        z_pv = ev["Vertex.Z"][0] if len(ev["Vertex.Z"]) else 0.0
        for k, src in (("px", "Px"), ("py", "Py"), ("pz", "Pz"), ("e", "E"), ("vx", "X"),
                       ("vy", "Y"), ("vt", "T"), ("pid", "PID"), ("charge", "Charge")):
            parts[k].append(ev[p + src][s].astype(np.float64))
        parts["vz"].append(ev[p + "Z"][s] - z_pv)
        parts["event"].append(np.full(int(s.sum()), i, np.int64))
        index.append(np.flatnonzero(s))
    out = {k: np.concatenate(v) for k, v in parts.items()}
    out["pid"] = out["pid"].astype(np.int64)
    out["from_pv"] = np.ones(len(out["px"]), bool)
    return out, np.concatenate(index)


def jetfm_on_reference(events: list[dict], genjet_parts: set, replicas: int, seed: int,
                       det, mu: float = 50.0):
    """As run_chunk does (detector, pileup overlay, CHS + PUPPI, AK8, GEN-jets), `replicas`
    times. Neutrals' `dzerr` carries their energy before the PUPPI weight (it is 0 for them
    otherwise). Also returns the trace {(type, fate): energy} of the charged GEN-jet particles
    of the reference's matched jets (`genjet_parts`)."""
    gen, index = reference_particles(events)
    in_genjet = np.array([(e, k) in genjet_parts for e, k in zip(gen["event"], index)], bool)
    visible = {k: v[~is_invisible(gen["pid"])] for k, v in gen.items()}
    library = load_library(str(pileup_library_file()))
    n_ev = len(events)
    jets, fate = [], defaultdict(float)
    for r in range(replicas):
        rng = np.random.default_rng(seed + r)
        pu, n_pu = overlay(library, n_ev, mu, rng)
        pf = simulate_detector(merge_particles(gen, pu), rng, det)
        pf["e_raw"] = pf["e"].copy()            # apply_chs_puppi filters it but scales only p4
        pf = apply_chs_puppi(pf, r0=det.puppi_cone, ref_eta_max=det.tracker_eta_max,
                             min_weight=det.puppi_min_weight,
                             neutral_min_pt=det.puppi_neutral_min_pt,
                             neutral_pt_slope=det.puppi_neutral_pt_slope,
                             npv=np.floor(0.7 * (1 + n_pu)))
        pf["dzerr"] = np.where(pf["charge"] == 0, pf.pop("e_raw"), pf["dzerr"])
        jets.append(ak.Array(build_jets(pf, visible, n_ev, pt_min=200.0, r=0.8,
                                        genjet_pt_min=200.0)))
        _trace_tracks(gen, in_genjet, pf, fate)
    return ak.concatenate(jets), fate


def _trace_tracks(gen: dict, in_genjet: np.ndarray, pf: dict, fate: dict) -> None:
    """Charged GEN-jet particles: tracked (after CHS) or not, E_track / E_gen (a jetfm track
    keeps its particle's direction, so the unit vector finds it)."""
    def key(d, i):
        p = np.sqrt(d["px"][i] ** 2 + d["py"][i] ** 2 + d["pz"][i] ** 2)
        return list(zip(d["event"][i], np.round(d["px"][i] / p, 9), np.round(d["py"][i] / p, 9)))
    g = np.flatnonzero(in_genjet & (gen["charge"] != 0))
    t = np.flatnonzero(pf["charge"] != 0)
    track = dict(zip(key(pf, t), pf["e"][t]))
    outside = _outside(gen["vx"][g], gen["vy"][g], gen["vz"][g])
    for kk, e, ty, out in zip(key(gen, g), gen["e"][g],
                              _gen_type(gen["pid"][g], gen["charge"][g]), outside):
        typ = TYPES[ty]
        fate[typ, "gen"] += e
        if kk in track:
            fate[typ, "track"] += e
            fate[typ, "track: cand E"] += track[kk]
            fate[typ, "track E == gen E"] += e * (abs(track[kk] / e - 1) < 1e-4)
        else:
            fate[typ, "no track: produced outside tracker" if out else "no track: other"] += e


def _outside(x, y, z):
    return (np.hypot(x, y) > R_TRACKER) | (np.abs(z) > Z_TRACKER)


def helix_d0(x, y, px, py, q, b: float = B_FIELD):
    """Transverse impact parameter (mm) as Delphes' ParticlePropagator computes it: the point
    of the helix circle closest to the beam line, (x_d, y_d), crossed with the momentum
    direction at production; the straight line gives (x py - y px) / pT."""
    pt = np.hypot(px, py)
    r = pt / (q * b) * 1e9 / 299792458.0 * 1e3          # signed radius, mm
    phi0 = np.arctan2(py, px)
    xc, yc = x + r * np.sin(phi0), y - r * np.cos(phi0)
    rc = np.hypot(xc, yc)
    f = np.where(rc > 0, 1 - np.abs(r) / np.where(rc > 0, rc, 1), 0.0)
    return (xc * f * py - yc * f * px) / pt


def print_d0_check(events: list[dict]) -> None:
    """Reference tracks of displaced particles (produced at r > 1 mm): is the stored D0 the
    straight-line or the helix d0 of the particle (within 5 sigma of ErrorD0)?"""
    p, c = "Particle.", "ParticleFlowCandidate."
    rows = []
    for ev in events:
        for i, refs in enumerate(ev[c + "Particles"]):
            k = refs[0] - 1
            if ev[c + "Charge"][i] != 0 and k < len(ev[p + "PID"]) and ev[c + "ErrorD0"][i] > 0:
                rows.append([ev[c + "D0"][i], ev[c + "ErrorD0"][i],
                             *(ev[p + f][k] for f in ("X", "Y", "Px", "Py", "Charge"))])
    d0, err, x, y, px, py, q = np.array(rows, np.float64).T if rows else np.zeros((7, 0))
    disp = np.hypot(x, y) > 1
    straight = (x * py - y * px) / np.hypot(px, py)
    helix = helix_d0(x, y, px, py, q)
    print(f"\ndelphes: tracks of displaced particles, {disp.sum()}: |D0 - d0| > 5 sigma for "
          f"{np.sum(np.abs(d0 - straight)[disp] > 5 * err[disp])} with the straight-line d0, "
          f"{np.sum(np.abs(d0 - helix)[disp] > 5 * err[disp])} with the helix d0")


# ---------------------------------------------------------------------------------------------
# summaries


def read_jetfm(folder: str) -> ak.Array:
    import pyarrow.parquet as pq
    files = expand_paths(folder)
    return ak.concatenate([ak.from_arrow(pq.read_table(f, columns=COLUMNS)) for f in files])


def summarise(a: ak.Array, rng: np.random.Generator, raw_neutral_e: bool) -> dict[str, str]:
    """The table's numbers for one source (+- : bootstrap over jets, or binomial)."""
    a = a[(a.genjet_pt > 0) & (a.jet_pt > 200)]
    out = {"jets": f"{len(a)}"}
    ratio = (a.genjet_pt / a.jet_pt).to_numpy()
    q = np.percentile(ratio, [16, 50, 84])
    err = np.std([np.percentile(rng.choice(ratio, len(ratio)), [16, 50, 84])
                  for _ in range(500)], axis=0)
    for i, name in ((1, "median"), (0, "16 %"), (2, "84 %")):
        out[f"gen/reco pT {name}"] = f"{q[i]:.3f} +- {err[i]:.3f}"
    out["gen/reco pT mean"] = f"{ratio.mean():.3f}"
    e_tot = ak.sum(a.part_energy, axis=1)
    gq = charges(ak.flatten(a.genpart_pid).to_numpy())
    gtype = ak.unflatten(_gen_type(ak.flatten(a.genpart_pid).to_numpy(), gq),
                         ak.num(a.genpart_pid))
    for t, (name, flag) in enumerate(zip(TYPES, FLAGS)):
        e_c = ak.sum(a.part_energy[a[flag]], axis=1)
        e_g = ak.sum(a.genpart_energy[gtype == t], axis=1)
        share = ak.to_numpy(e_c / e_tot)
        boot = np.std([rng.choice(share, len(share)).mean() for _ in range(500)])
        out[f"{name}: share"] = f"{share.mean():.3f} +- {boot:.3f}"
        out[f"{name}: response"] = f"{ak.sum(e_c) / max(ak.sum(e_g), 1e-9):.3f}"
    neu = a.part_charge == 0
    raw = ak.sum(a.part_dzerr[neu & a.part_isPhoton]), ak.sum(a.part_dzerr[neu])
    w = ak.sum(a.part_energy[neu & a.part_isPhoton]), ak.sum(a.part_energy[neu])
    out["PUPPI weight (E-weighted) photon / all neutral"] = (
        f"{w[0] / max(raw[0], 1e-9):.3f} / {w[1] / max(raw[1], 1e-9):.3f}" if raw_neutral_e
        else "n/a (not in Parquet)")
    d0 = np.abs(ak.flatten(a.part_d0val[a.part_charge != 0]).to_numpy())
    f, n = (np.mean(d0 > 10) if len(d0) else np.nan), max(len(d0), 1)
    out["charged |d0| > 10 mm"] = f"{100 * f:.2f} +- {100 * np.sqrt(f * (1 - f) / n):.2f} % of {n}"
    outside = _outside(a.genpart_x, a.genpart_y, a.genpart_z)
    out["GEN-jet E produced outside tracker"] = \
        f"{100 * ak.sum(a.genpart_energy[outside]) / ak.sum(a.genpart_energy):.1f} %"
    # true d0 of the charged GEN-jet particles a tracker would see (pT > 1 GeV, inside)
    g = {k: ak.flatten(a[f"genpart_{k}"]).to_numpy().astype(np.float64)
         for k in ("x", "y", "z", "px", "py")}
    sel = (gq != 0) & (np.hypot(g["px"], g["py"]) > 1) & ~_outside(g["x"], g["y"], g["z"])
    straight = (g["x"] * g["py"] - g["y"] * g["px"]) / np.hypot(g["px"], g["py"])
    helix = helix_d0(g["x"], g["y"], g["px"], g["py"], np.where(gq != 0, gq, 1))
    out["GEN charged |d0| > 10 mm: straight / helix"] = (
        f"{100 * np.mean(np.abs(straight[sel]) > 10):.2f} / "
        f"{100 * np.mean(np.abs(helix[sel]) > 10):.2f} %")
    return out


def print_paired(ref: ak.Array, on_ref: ak.Array) -> None:
    """The reference's jets one by one: the same GEN-jet (same event, GEN pT within 0.5 %)
    through Delphes and through jetfm (mean and spread over the replicas)."""
    print("\nper GEN-jet: event, GEN pT, Delphes reco pT, jetfm@ref reco pT (mean +- sd, n)")
    rel = []
    for j in ref[ref.genjet_pt > 0]:
        m = ((on_ref.event == j.event) & (abs(on_ref.genjet_pt / j.genjet_pt - 1) < 5e-3)
             & (on_ref.jet_pt > 200))
        pts = on_ref.jet_pt[m].to_numpy()
        if len(pts):
            rel.append(pts.mean() / j.jet_pt)
        print(f"  {j.event:3d} {j.genjet_pt:8.1f} {j.jet_pt:8.1f}   "
              + (f"{pts.mean():8.1f} +- {pts.std():6.1f} ({len(pts)})" if len(pts) else "-"))
    if rel:
        print(f"  median jetfm@ref / Delphes reco pT, {len(rel)} GEN-jets: {np.median(rel):.3f}")


def print_table(cols: dict[str, dict[str, str]]) -> None:
    names = list(cols)
    print(f"{'':48s}" + "".join(f"{n:>26s}" for n in names))
    for key in cols[names[0]]:
        print(f"{key:48s}" + "".join(f"{cols[n].get(key, '-'):>26s}" for n in names))


def print_fate(title: str, fate: dict) -> None:
    print(f"\n{title} (fraction of the GEN energy of each type; cand E / gen E of tracks)")
    for t in TYPES:
        g = fate.get((t, "gen"), 0.0)
        if g <= 0:
            continue
        keys = sorted(k for (tt, k) in fate if tt == t and k != "gen" and "cand E" not in k)
        parts = [f"{k} {fate[t, k] / g:.3f}" + (f" (E/gen {fate[t, k + ': cand E'] / v:.3f})"
                                               if fate.get((t, k + ": cand E")) else "")
                 for k, v in ((k, fate[t, k]) for k in keys)]
        print(f"  {t:12s} gen E {g:9.0f} GeV: " + "; ".join(parts))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reference", type=Path, help="Delphes ROOT file of the JetClass-II chain")
    ap.add_argument("jetfm", help="folder of jetfm Parquet files")
    ap.add_argument("--replicas", type=int, default=10,
                    help="jetfm@ref: detector + pileup repetitions on the reference events")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-events", type=int, default=1000,
                    help="reference events read (the tracing loops are plain Python)")
    ap.add_argument("--detector-card", default="cms", metavar="NAME|FILE",
                    help="jetfm@ref: the detector card (try a proposed change here)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    try:                                      # jetfm's errors name the file or option
        det, ours = load_card(args.detector_card), read_jetfm(args.jetfm)
    except (JetfmError, OSError, ValueError) as exc:
        msg = str(exc) if isinstance(exc, JetfmError) else f"{args.jetfm}: {exc}"
        print(msg.splitlines()[0], file=sys.stderr)
        return 2
    try:
        events = read_delphes(args.reference, args.max_events)
    except Exception as exc:                  # uproot's errors are long; one line is enough
        print(f"{args.reference}: not a Delphes file of the JetClass-II chain "
              f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
              file=sys.stderr)
        return 2
    ref, fate, genjet_parts = delphes_jets(events)
    on_ref, fate_ref = jetfm_on_reference(events, genjet_parts, args.replicas, args.seed, det)
    print_table({"delphes": summarise(ref, rng, True),
                 "jetfm@ref": summarise(on_ref, rng, True),
                 "jetfm": summarise(ours, rng, False),
                 "jetfm pT>1TeV": summarise(ours[ours.jet_pt > 1000], rng, False)})
    print_paired(ref, on_ref)
    print_fate("delphes: fate of the GEN-jet particles", fate)
    print_fate(f"jetfm@ref: charged GEN-jet particles of the same jets, {args.replicas} "
               "replicas (cells cannot be traced)", fate_ref)
    print_d0_check(events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
