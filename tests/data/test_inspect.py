"""inspect_files: plots + summary written atomically, counts equal to what the fixtures hold."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from jetfm.data.inspect import HISTS, inspect_files
from jetfm.errors import DataError
from jetfm.labels import FAMILIES, LABEL_NAMES
from tests.data.fixtures import jetclass2_table, write_jetclass2_parquet, write_jetclass_root

PNGS = sorted(spec[2] for spec in HISTS.values())
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _family(label: int) -> str:
    return next(f for f, r in FAMILIES.items() if label in r)


def test_inspect_parquet_counts_and_files(tmp_path, capsys):
    # Labels chosen so every family is present and one label dominates.
    labels_a = [0] * 10 + [14, 15, 100, 160, 161, 187]
    t1 = write_jetclass2_parquet(tmp_path / "in/a.parquet", len(labels_a), seed=1,
                                 labels=labels_a, row_group_size=5)
    t2 = write_jetclass2_parquet(tmp_path / "in/b.parquet", 30, seed=2)
    truth = pa.concat_tables([t1, t2])
    lab = truth["jet_label"].to_numpy()
    out = tmp_path / "out"
    s = inspect_files(tmp_path / "in", out, batch_size=4)

    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".jetfm")) == \
        sorted(PNGS + ["summary.json"])
    for name in PNGS:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert json.loads((out / "summary.json").read_text()) == s

    assert s["jets"] == 46 and s["files_read"] == 2 and len(s["files"]) == 2
    fams = [_family(int(x)) for x in lab]
    assert s["jets_per_family"] == {f: fams.count(f) for f in ("res2p", "res34p", "qcd")}
    assert s["jets_unassigned"] == 0
    names, counts = np.unique(lab, return_counts=True)
    assert s["label_counts"] == {LABEL_NAMES[n]: int(c) for n, c in zip(names, counts)}
    assert next(iter(s["label_counts"])) == LABEL_NAMES[0]  # sorted by count
    npart = truth["jet_nparticles"].to_numpy()
    assert s["constituents_mean"] == pytest.approx(npart.mean())
    assert s["constituents_median"] == np.median(npart)
    assert s["constituents_max"] == npart.max()
    pt = truth["jet_pt"].to_numpy()
    assert s["jet_pt_range"] == pytest.approx([pt.min(), pt.max()])
    assert s["jets_tau1_nonpositive"] == int((truth["jet_tau1"].to_numpy() <= 0).sum())
    assert "res34p" in capsys.readouterr().out  # the table is printed


def test_inspect_max_jets_and_root(tmp_path):
    w = write_jetclass_root(tmp_path / "j.root", 40, seed=4)
    s = inspect_files(tmp_path / "j.root", tmp_path / "o", max_jets=25, verbose=False)
    assert s["jets"] == 25
    lab = w["labels"][:25]
    # JetClass label space: QCD = 0; H4q, Hqql, Tbqq, Tbl are 3/4-prong.
    assert s["jets_per_family"]["qcd"] == int((lab == 0).sum())
    assert s["jets_per_family"]["res34p"] == int(np.isin(lab, [4, 5, 8, 9]).sum())
    assert sum(s["label_counts"].values()) == 25
    assert set(s["label_counts"]) <= {"label_QCD", "label_Hbb", "label_Hcc", "label_Hgg",
                                      "label_H4q", "label_Hqql", "label_Zqq", "label_Wqq",
                                      "label_Tbqq", "label_Tbl"}
    assert not [p for p in (tmp_path / "o").iterdir() if ".tmp-" in p.name]  # no temps


def test_inspect_rejects_out_of_range_label(tmp_path):
    t = jetclass2_table(5)
    t = t.set_column(t.schema.get_field_index("jet_label"), "jet_label",
                     pa.array([0, 1, 2, 188, 3], pa.int32()))
    write_jetclass2_parquet(tmp_path / "bad.parquet", table=t)
    msg = r"bad.parquet: column 'jet_label' has 1 values outside \[0, 188\), first 188 at row 3"
    with pytest.raises(DataError, match=msg):
        inspect_files(tmp_path / "bad.parquet", tmp_path / "o", verbose=False)


def test_inspect_counts_clean_resim_pairs(tmp_path, capsys):
    # groups: 1 = two replicas (a pair), 2 = one event twice (no pair), 3 = a single jet
    t = jetclass2_table(6, seed=3)
    cols = {"resim_group": [1, 1, 2, 2, 3, 1], "event_id": [10, 11, 12, 12, 13, 12]}
    for name, vals in cols.items():
        t = t.set_column(t.schema.get_field_index(name), name, pa.array(vals, pa.int64()))
    write_jetclass2_parquet(tmp_path / "r" / "a.parquet", table=t)
    s = inspect_files(tmp_path / "r", tmp_path / "o")
    # group 1 spans three events: 3 pairs over 3 jets, of 6 jets
    assert s["resim_pairs"] == 3 and s["resim_paired_jets"] == 3
    assert "clean pairs: 3 (50.0 % of jets)" in capsys.readouterr().out
    t = jetclass2_table(5, seed=4)        # no re-simulation (-1 everywhere): no line
    t = t.set_column(t.schema.get_field_index("resim_group"), "resim_group",
                     pa.array([-1] * 5, pa.int64()))
    write_jetclass2_parquet(tmp_path / "plain" / "b.parquet", table=t)
    s = inspect_files(tmp_path / "plain", tmp_path / "o2")
    assert s["resim_pairs"] is None and "clean pairs" not in capsys.readouterr().out


def _with_sample(table: pa.Table, name: str) -> pa.Table:
    i = table.schema.get_field_index("sample")
    return table.set_column(i, "sample", pa.array([name] * len(table), pa.string()))


def test_inspect_groups_by_the_sample_column_and_says_where_the_plots_are(tmp_path, capsys,
                                                                          monkeypatch):
    # W+ jets carry Res2P labels (0-14), tau jets none (-1): each is its own sample, not a
    # label family and not "unassigned"
    wplus = _with_sample(jetclass2_table(12, seed=5, labels=[3] * 12), "wplus")
    tau = _with_sample(jetclass2_table(7, seed=6, labels=[-1] * 7), "tau")
    qcd = _with_sample(jetclass2_table(9, seed=7, labels=[170] * 9), "qcd")
    write_jetclass2_parquet(tmp_path / "in" / "a.parquet", table=pa.concat_tables([wplus, tau]))
    write_jetclass2_parquet(tmp_path / "in" / "b.parquet", table=qcd)
    from jetfm.data import inspect as I
    drawn = {}
    real = I._figure
    monkeypatch.setattr(I, "_figure", lambda acc, key: drawn.setdefault(key, real(acc, key)))
    out = tmp_path / "out"
    s = inspect_files(tmp_path / "in", out, batch_size=5)
    assert s["jets_per_sample"] == {"wplus": 12, "tau": 7, "qcd": 9}
    assert s["samples_from_label_family"] == [] and s["jets_unassigned"] == 0
    assert s["jets_per_family"] == {"res2p": 12, "res34p": 0, "qcd": 9}   # labels still counted
    for key in HISTS:     # every sample given is a curve of every plot
        labels = drawn[key].axes[0].get_legend_handles_labels()[1]
        if key == "tau21":   # jets with tau1 = 0 have no tau21
            assert [lab.split(" ")[0] for lab in labels] == ["wplus", "tau", "qcd"]
        else:
            assert labels == ["wplus (12 jets)", "tau (7 jets)", "qcd (9 jets)"]
    printed = capsys.readouterr().out
    assert "wplus" in printed and "tau" in printed
    assert f"written to    {out}/: sdmass.png, jet_pt.png, nparticles.png, tau21.png, " \
           "summary.json" in printed


def test_inspect_without_a_sample_column_falls_back_to_the_label_family(tmp_path, capsys):
    w = write_jetclass_root(tmp_path / "j.root", 30, seed=8)     # JetClass: no sample column
    s = inspect_files(tmp_path / "j.root", tmp_path / "o")
    lab = w["labels"]
    expected = {"qcd": int((lab == 0).sum()), "res34p": int(np.isin(lab, [4, 5, 8, 9]).sum())}
    expected["res2p"] = 30 - sum(expected.values())
    assert s["jets_per_sample"] == {k: v for k, v in expected.items() if v}
    assert sorted(s["samples_from_label_family"]) == sorted(k for k, v in expected.items() if v)
    assert "(label family: no sample column)" in capsys.readouterr().out


def test_inspect_draws_its_plots_without_font_warnings(tmp_path, caplog):
    # the PNGs are drawn inside the plot style: drawn outside it, the mathtext labels fell
    # back to matplotlib's default fonts with a "findfont: ... 'cursive' not found" warning
    from matplotlib import font_manager, mathtext
    font_manager.FontManager._findfont_cached.cache_clear()   # warned once per process
    mathtext.MathTextParser._parse_cached.cache_clear()
    write_jetclass2_parquet(tmp_path / "in/a.parquet", 20, seed=1)
    with caplog.at_level("WARNING", logger="matplotlib"):
        inspect_files(tmp_path / "in", tmp_path / "out", verbose=False)
    assert not [r.getMessage() for r in caplog.records if "findfont" in r.getMessage()]
