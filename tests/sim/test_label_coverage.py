"""Every one of the 188 labels is producible by the generator's own decay tables.

The decay channels are read from `jetfm.sim.samples.jetclass2` (the PDG ids Pythia is given),
turned into label tokens, and every in-cone configuration the JetClass-II rules allow is pushed
through the family-restricted label look-up. The union must be the full label list — so a
channel missing from a card (or a label rule that no card can reach) fails here.
"""
from __future__ import annotations

import fnmatch
from itertools import product

import numpy as np
import pytest

from jetfm.labels import FAMILIES, LABEL_NAMES, qcd_label, resonance_label
from jetfm.sim.samples.jetclass2 import (CHARGED_EMU_TABLE, CHARGED_QUARKS,
                                         CHARGED_QUARKS_TABLE, CHARGED_Y_TABLE,
                                         NEUTRAL_HADRONIC_TABLE, NEUTRAL_TABLE, RES2P_X_DECAYS,
                                         RES34P_Y_DECAYS, res2p_chunk, res34p_chunk)

_QUARK = {1: "q", 2: "q", 3: "s", 4: "c", 5: "b", 21: "g", 11: "e", 13: "m"}
_TAU_MODES = ("tauh", "taue", "taum")


def _decays(ids: tuple[int, int]) -> list[list[tuple[str, bool]]]:
    """Token lists (token, is_neutrino) for one two-body channel, expanding tau decay modes."""
    options = []
    for pid in ids:
        a = abs(pid)
        if a == 15:
            options.append([(t, False) for t in _TAU_MODES])
        elif a in (12, 14, 16):
            options.append([("v", True)])
        else:
            options.append([(_QUARK[a], False)])
    return [list(c) for c in product(*options)]


def _res2p_labels(channels=tuple(ids for ids, _ in NEUTRAL_TABLE) + CHARGED_QUARKS) -> set[int]:
    found = set()
    for ids in channels:
        for toks in _decays(ids):
            found.add(resonance_label("res2p", [t for t, _ in toks]))
    return found


def _res34p_labels(tables=(NEUTRAL_TABLE, CHARGED_Y_TABLE)) -> set[int]:
    found = set()
    for table in tables:        # X -> H2 H2 or X -> H+ H-
        decays = [d for ids, _ in table for d in _decays(ids)]
        for y1, y2 in product(decays, repeat=2):
            daughters = [(t, nu, k) for k, y in enumerate((y1, y2)) for t, nu in y]
            # every subset of the visible daughters may be inside the cone
            visible = [d for d in daughters if not d[1]]
            for mask in product((False, True), repeat=len(visible)):
                inside = [d for d, m in zip(visible, mask) if m]
                if len(inside) < 3:
                    continue
                toks = [d[0] for d in inside]
                # the neutrino is named when its sibling lepton is matched
                toks += ["v" for t, nu, k in daughters
                         if nu and any(s[2] == k and s[0] not in "bcsqg" for s in inside)]
                found.add(resonance_label("res34p", toks))
    return found


def test_generator_decay_tables_reach_every_resonance_label():
    res2p = _res2p_labels() - {-1}
    res34p = _res34p_labels() - {-1}
    assert res2p == set(FAMILIES["res2p"]), sorted(set(FAMILIES["res2p"]) - res2p)
    assert res34p == set(FAMILIES["res34p"]), sorted(set(FAMILIES["res34p"]) - res34p)


def test_charged_emu_y_decays_reach_the_rare_lepton_classes_and_only_charged_pairs():
    # `--y-decays charged-emu`: X -> H+ H- only, no tau nu, BRs summing to one
    assert RES34P_Y_DECAYS["charged-emu"] == ((((37, -37), 1.0),), CHARGED_EMU_TABLE)
    assert sum(br for _, br in CHARGED_EMU_TABLE) == pytest.approx(1.0)
    assert not any(15 in map(abs, ids) for ids, _ in CHARGED_EMU_TABLE)
    reached = {LABEL_NAMES[i] for i in _res34p_labels((CHARGED_EMU_TABLE,)) - {-1}}
    for pattern in ("X_YY_b?ev", "X_YY_b?mv", "X_YY_??ev", "X_YY_??mv"):   # t->blv, H->lvqq
        wanted = set(fnmatch.filter(LABEL_NAMES, pattern))
        assert wanted and wanted <= reached, sorted(wanted - reached)
    card = "\n".join(res34p_chunk(np.random.default_rng(0), y_decays="charged-emu").settings)
    assert "25:addChannel = 1 1 100 37 -37" in card and "100 35 35" not in card
    assert "37:addChannel = 1 0.25 100 -11 12" in card and "-15 16" not in card


def test_charged_quarks_y_decays_reach_the_multi_quark_classes_and_no_leptons():
    # `--y-decays charged-quarks`: X -> H+ H- only, H+ to the six quark channels
    assert RES34P_Y_DECAYS["charged-quarks"] == ((((37, -37), 1.0),), CHARGED_QUARKS_TABLE)
    assert [ids for ids, _ in CHARGED_QUARKS_TABLE] == list(CHARGED_QUARKS)
    assert sum(br for _, br in CHARGED_QUARKS_TABLE) == pytest.approx(1.0)
    reached = {LABEL_NAMES[i] for i in _res34p_labels((CHARGED_QUARKS_TABLE,)) - {-1}}
    for pattern in ("X_YY_bcs", "X_YY_bcq", "X_YY_bsq", "X_YY_qqqq", "X_YY_ccsq"):  # t->bqq, H->4q
        assert pattern in reached
    assert not fnmatch.filter(reached, "*[ev]*")       # no lepton, no neutrino, no tau
    card = "\n".join(res34p_chunk(np.random.default_rng(0), y_decays="charged-quarks").settings)
    assert "25:addChannel = 1 1 100 37 -37" in card and "100 35 35" not in card
    assert "37:addChannel = 1 0.166667 100 4 -5" in card and "-11 12" not in card


def test_res2p_x_decays_enrich_the_two_prong_classes_without_changing_the_default():
    assert RES2P_X_DECAYS["jetclass2"] == (0.6, NEUTRAL_TABLE)
    # neutral-hadronic: the quark and gluon channels of the neutral table, renormalised
    assert NEUTRAL_HADRONIC_TABLE == (((5, -5), 0.2), ((4, -4), 0.2), ((3, -3), 0.2),
                                      ((2, -2), 0.1), ((1, -1), 0.1), ((21, 21), 0.2))
    nh = {LABEL_NAMES[i] for i in _res2p_labels(tuple(ids for ids, _ in NEUTRAL_HADRONIC_TABLE))}
    assert nh == {"X_bb", "X_cc", "X_ss", "X_qq", "X_gg"}     # H->bb/cc/gg and Z->qq labels
    ch = {LABEL_NAMES[i] for i in _res2p_labels(CHARGED_QUARKS)}
    assert {"X_cs", "X_cq", "X_sq", "X_qq"} <= ch              # W->qq labels
    # the draws (mass, pTHat, neutral or charged) are those of the default for one rng state
    for seed in range(20):
        default = res2p_chunk(np.random.default_rng(seed))
        assert default == res2p_chunk(np.random.default_rng(seed), x_decays="jetclass2")
        nh_chunk = res2p_chunk(np.random.default_rng(seed), x_decays="neutral-hadronic")
        ch_chunk = res2p_chunk(np.random.default_rng(seed), x_decays="charged")
        assert nh_chunk.params["m_X"] == ch_chunk.params["m_X"] == default.params["m_X"]
        assert nh_chunk.params["x_charge"] == "neutral" and ch_chunk.params["x_charge"] == "charged"
        assert not any("-15" in line or "-11" in line for line in nh_chunk.settings)


def test_every_qcd_bucket_is_a_label():
    found = {qcd_label(b, c, s) for b, c, s in product(range(3), repeat=3)}
    assert found == set(FAMILIES["qcd"])
