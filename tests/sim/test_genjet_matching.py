"""GEN-jet matching as JetClass-II's makeNtuples.C: greedy in reco-jet pT order, each GEN-jet
used once, ΔR < R."""
from __future__ import annotations

from jetfm.sim.jets import build_jets

from .test_jets import group, make_gen, make_pf


def test_a_gen_jet_serves_only_the_harder_reco_jet():
    # reco jets A (500 GeV at η = 0) and B (300 GeV at η = 0.85); one GEN-jet in between, a
    # little closer to B (ΔR 0.41) than to A (0.44): A, matched first, takes it; B gets none
    pf = make_pf(group(0, 500.0, 0.0, 0.0, seed=1, spread=0.01)
                 + group(0, 300.0, 0.85, 0.0, seed=2, spread=0.01))
    gen = make_gen(group(0, 450.0, 0.44, 0.0, n=4, seed=3, spread=0.005))
    out = build_jets(pf, gen, 1)
    assert len(out["jet_pt"]) == 2 and out["jet_pt"][0] > out["jet_pt"][1]
    assert out["genjet_pt"][0] > 400 and out["genjet_nparticles"][0] == 4
    assert out["genjet_pt"][1] == 0 and out["genjet_nparticles"][1] == 0


def test_the_softer_jet_takes_the_next_closest_unused_gen_jet():
    pf = make_pf(group(0, 500.0, 0.0, 0.0, seed=1, spread=0.01)
                 + group(0, 300.0, 0.85, 0.0, seed=2, spread=0.01))
    gen = make_gen(group(0, 450.0, 0.44, 0.0, n=4, seed=3, spread=0.005)
                   + group(0, 250.0, 1.3, 0.0, n=3, seed=4, spread=0.005))   # ΔR 0.45 from B
    out = build_jets(pf, gen, 1)
    assert out["genjet_nparticles"][0] == 4 and out["genjet_nparticles"][1] == 3
