"""Transfer tasks: classes from labels, mass windows, charge, ΔR and samples."""
from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from jetfm.errors import ConfigError
from jetfm.labels import LABEL_NAMES
from jetfm.transfer.tasks import TASKS, ClassDef, Cut, Task, _label_mask, assign_classes


def _batch(labels, mass, pid, dr=None, sample=None):
    n = len(labels)
    aux = {"aux_genpart_isResX": [[True, False, False]] * n,
           "aux_genpart_isResDecayProd": [[False, True, True]] * n,
           "aux_genpart_mass": [[m, 4.8, 4.8] for m in mass],
           "aux_genpart_pid": [[p, 5, -5] for p in pid],
           "aux_genpart_eta": [[0.0, 0.0, d or 0.0] for d in (dr or [0.0] * n)],
           "aux_genpart_phi": [[0.0, 0.0, 0.0]] * n}
    cols = {"jet_label": labels, **aux}
    if sample is not None:
        cols["sample"] = sample
    return ak.Array(cols)


def test_task_classes_from_labels_mass_windows_charge_and_dr():
    idx = {n: i for i, n in enumerate(LABEL_NAMES)}
    b = _batch([idx["X_bb"], idx["X_bb"], idx["X_qq"], idx["X_qq"], idx["QCD_light"], idx["X_bb"]],
               [125, 90, 80, 90, 0, 300], [25, 25, 37, 25, 0, 25])
    got = assign_classes(TASKS["tagging10"], b).tolist()
    names = TASKS["tagging10"].class_names
    assert [names[k] if k >= 0 else None for k in got] == ["H->bb", "Z->qq", "W->qq", "Z->qq",
                                                           "QCD", None]
    d = _batch([idx["X_bb"]] * 3, [125] * 3, [25] * 3, dr=[0.05, 0.45, 1.3])
    assert assign_classes(TASKS["bb-dR"], d).tolist() == [0, 4, 9]
    with pytest.raises(Exception, match="sample"):
        assign_classes(TASKS["qg"], d)
    # xbs: the unlabelled X(200) -> bs jets against every JetClass-II label (QCD, Res2P, Res34P)
    x = _batch([-1, idx["QCD_light"], idx["X_bb"], idx["X_YY_bbbb"], -1], [200] * 5, [25] * 5,
               sample=["xbs", "qcd", "res2p", "res34p", "tau"])
    assert assign_classes(TASKS["xbs"], x).tolist() == [1, 0, 0, 0, -1]
    clash = Task("clash", "", (ClassDef("a", labels=("X_bb",)), ClassDef("b", cuts=(Cut("m_X", 0, 500),))))
    with pytest.raises(ConfigError, match="clash"):
        assign_classes(clash, d)


def test_every_task_label_pattern_names_a_jetclass2_label():
    for t in TASKS.values():
        for c in t.classes:
            for p in c.labels:
                assert _label_mask(np.arange(188), (p,)).any(), (t.name, c.name, p)


def test_qgtau_classes_come_from_the_quark_gluon_and_tau_samples():
    t = TASKS["qgtau"]
    assert t.class_names == ["quark", "gluon", "tau_h"] and t.signal_class is None
    assert "3:3:1" in t.description
    b = _batch([0] * 5, [0] * 5, [0] * 5, sample=["quark", "gluon", "tau", "qcd", "gluon"])
    assert assign_classes(t, b).tolist() == [0, 1, 2, -1, 1]
