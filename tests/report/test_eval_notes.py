"""The evaluation section explains its rejections where they are shown: under the
discriminant table (HTML), not under the table without any (HTML and Markdown)."""
from __future__ import annotations

import json

from jetfm.report import build_report

from .test_legends import _page


def test_discriminant_rejections_say_they_are_capped(tmp_path):
    ev = tmp_path / "eval"
    ev.mkdir()
    (ev / "results.json").write_text(json.dumps({
        "n_jets": 76, "accuracy": 0.2, "auc_macro": 0.5,
        "discriminants": {"Xbb_vs_QCD": {"auc": 0.45, "rejection": {"30": 17.0}}}}))
    build_report([ev], tmp_path / "r.html")
    _, text = _page(tmp_path / "r.html")
    table = text.index("Xbb_vs_QCD 0.4500 / 17.0")
    note = text.index("measured on the evaluated QCD jets, so capped by their number")
    assert note > table
    assert "'inf' rejection" not in (tmp_path / "r.md").read_text()   # no rejection there
