"""Every one of the 188 labels is producible by the generator's own decay tables.

The decay channels are read from `jetfm.sim.processes` (the PDG ids Pythia is given), turned into
label tokens, and every in-cone configuration the JetClass-II rules allow is pushed through the
family-restricted label look-up. The union must be the full label list — so a channel missing
from a card (or a label rule that no card can reach) fails here.
"""
from __future__ import annotations

from itertools import product

from jetfm.labels import FAMILIES, qcd_label, resonance_label
from jetfm.sim.processes import CHARGED_QUARKS, CHARGED_Y_TABLE, NEUTRAL_TABLE

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


def _res2p_labels() -> set[int]:
    channels = [ids for ids, _ in NEUTRAL_TABLE] + list(CHARGED_QUARKS)
    found = set()
    for ids in channels:
        for toks in _decays(ids):
            found.add(resonance_label("res2p", [t for t, _ in toks]))
    return found


def _res34p_labels() -> set[int]:
    found = set()
    for table in (NEUTRAL_TABLE, CHARGED_Y_TABLE):        # X -> H2 H2 or X -> H+ H-
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


def test_every_qcd_bucket_is_a_label():
    found = {qcd_label(b, c, s) for b, c, s in product(range(3), repeat=3)}
    assert found == set(FAMILIES["qcd"])
