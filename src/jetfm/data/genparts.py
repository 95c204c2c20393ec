"""Generator-level view for Sophon++ (`clip`): the truth quarks and leptons of each jet, from
the `aux_genpart_*` columns that published JetClass-II files have too, with their own
particle count, in lockstep with the reconstructed jet.

Which particles: resonance decay products and τ decay products for signal jets, the stored
QCD partons for QCD jets (`aux_genpart_isResDecayProd | isTauDecayProd | isQcdParton`); the
resonances X and Y themselves are left out. Features (GEN_FEATURES, 15): log(pT/jet pT),
Δη = sign(jet η)(η − jet η), Δφ, log(1 + m), the charge sign of the PDG id, and a one-hot of
the flavour (d/u, s, c, b, g, e, μ, τ, ν, other — e.g. the pions of a hadronic τ decay);
4-vectors (px, py, pz, E) from (pT, η, φ, m) for the pair features, scaled by 500 / jet pT
like the reconstructed ones.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from .features import FlatJets, LockstepJets

GEN_COLUMNS = ("aux_genpart_pt", "aux_genpart_eta", "aux_genpart_phi", "aux_genpart_mass",
               "aux_genpart_pid", "aux_genpart_isResDecayProd", "aux_genpart_isTauDecayProd",
               "aux_genpart_isQcdParton", "jet_pt", "jet_eta", "jet_phi")
_FLAVOURS = ((1, 2), (3,), (4,), (5,), (21,), (11,), (13,), (15,), (12, 14, 16))
GEN_FEATURES = 5 + len(_FLAVOURS) + 1      # + "other" (e.g. hadrons from τ decays)


def gen_flat(batch: ak.Array) -> FlatJets:
    """The selected truth particles of every jet of `batch` as FlatJets (jets without any get
    zero particles; `gen_valid` says which have some)."""
    keep = (batch.aux_genpart_isResDecayProd | batch.aux_genpart_isTauDecayProd
            | batch.aux_genpart_isQcdParton)
    counts = ak.to_numpy(ak.sum(keep, axis=1)).astype(np.int64)

    def flat(col):
        return ak.to_numpy(ak.flatten(batch[col][keep])).astype(np.float64)
    pt, eta, phi, mass, pid = (flat(c) for c in GEN_COLUMNS[:5])
    jet = {c: np.repeat(ak.to_numpy(batch[c]).astype(np.float64), counts)
           for c in ("jet_pt", "jet_eta", "jet_phi")}
    deta = np.sign(jet["jet_eta"]) * (eta - jet["jet_eta"])
    dphi = np.angle(np.exp(1j * (phi - jet["jet_phi"])))
    apid = np.abs(pid).astype(np.int64)
    onehot = np.stack([np.isin(apid, f) for f in _FLAVOURS], axis=1)
    onehot = np.column_stack([onehot, ~onehot.any(axis=1)])
    feats = np.column_stack([np.log(np.maximum(pt, 1e-3) / jet["jet_pt"]), deta, dphi,
                             np.log1p(np.maximum(mass, 0)), np.sign(pid), onehot])
    scale = 500.0 / jet["jet_pt"]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px ** 2 + py ** 2 + pz ** 2 + mass ** 2)
    vecs = np.column_stack([px, py, pz, e]) * scale[:, None]
    return FlatJets(feats.astype(np.float32), vecs.astype(np.float32), counts,
                    {"gen_valid": counts > 0})


class GenRecoJets(LockstepJets):
    """Reconstructed jets (a) and their truth particles (b) in lockstep; the truth side pads
    to gx / gv / gmask and `gen_valid` (the jet has truth particles)."""
    SECOND_KEYS = {"x": "gx", "v": "gv", "mask": "gmask", "gen_valid": "gen_valid"}


__all__ = ["GEN_COLUMNS", "GEN_FEATURES", "gen_flat", "GenRecoJets"]
