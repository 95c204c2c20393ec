"""`jetfm ntuplize`: the reference Delphes file of the JetClass-II chain → JetClass-II Parquet in
jetfm generate's layout; bad inputs are one line naming the file; resume and refusal."""
from __future__ import annotations

import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot

from jetfm.cli import main
from jetfm.data.files import verify_file
from jetfm.data.readers import iter_jets
from jetfm.delphes.ntuple import _match_genjets, pythia_record
from jetfm.delphes.reader import (GENJET_FIELDS, JET_FIELDS, PARTICLE_FIELDS, PF_FIELDS,
                                  VERTEX_FIELDS)
from jetfm.delphes.run import META_KEY, NtuplizeConfig, ntuplize
from jetfm.io import FolderLock
from jetfm.labels import FAMILIES
from jetfm.schema import JETCLASS2_COLUMNS

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "delphes" / \
    "events_delphes_higgs2p_example.root"
OUT_NAME = "events_delphes_higgs2p_example.parquet"


def _run(*args) -> int:
    return main(["ntuplize", *map(str, args), "--no-progress"])


@pytest.fixture(scope="module")
def ntuple(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ntuplize") / "res2p"
    assert _run(FIXTURE, "--out", out, "--sample", "res2p") == 0
    return out / OUT_NAME


def _delphes(*names):
    t = uproot.open(FIXTURE)["Delphes"]
    return t.arrays(list(names), library="ak")


# ------------------------------------------------------------------ the reference file

def test_reference_file_gives_labelled_res2p_jets(ntuple):
    t = pq.read_table(ntuple)
    d = t.to_pydict()
    assert t.num_rows == 20           # 21 jets pass pT >= 120, |eta| <= 2.5; 1 has no label
    labels = np.array(d["jet_label"])
    assert set(labels) <= set(FAMILIES["res2p"]) and len(set(labels)) >= 5
    assert all(s == "res2p" for s in d["sample"]) and set(d["resim_group"]) == {-1}
    # jet_* are the branch's own values, in the file's event and jet order
    src = _delphes("JetPUPPIAK8.PT", "JetPUPPIAK8.Tau[5]")
    pts = ak.flatten(src["JetPUPPIAK8.PT"]).to_numpy()
    assert set(np.array(d["jet_pt"], np.float32)) <= set(pts)
    ev0 = src["JetPUPPIAK8.PT"][0].to_numpy()
    assert d["event_id"][:2] == [0, 0] and np.array_equal(np.float32(d["jet_pt"][:2]), ev0)
    assert np.float32(d["jet_tau1"][0]) == src["JetPUPPIAK8.Tau[5]"][0][0][0]
    for i in range(t.num_rows):
        pt = np.hypot(d["part_px"][i], d["part_py"][i])
        assert len(pt) == d["jet_nparticles"][i] > 0
        assert np.all(np.diff(pt) <= 1e-3 * pt[:-1]) and np.all(pt > 0)      # pT-sorted
        assert d["jet_pt"][i] >= 120 and abs(d["jet_eta"][i]) <= 2.5
        if d["genjet_pt"][i] > 0:   # the GEN-jet is within R of the jet
            dphi = (d["genjet_phi"][i] - d["jet_phi"][i] + np.pi) % (2 * np.pi) - np.pi
            assert np.hypot(d["genjet_eta"][i] - d["jet_eta"][i], dphi) < 0.8
            assert len(d["genpart_pid"][i]) == d["genjet_nparticles"][i]
        assert sum(d["aux_genpart_isResX"][i]) >= 1       # X of the event in aux_genpart


def test_impact_parameters_and_gen_vertices_are_relative_to_the_primary_vertex(ntuple):
    d = pq.read_table(ntuple, columns=["part_dzval", "part_charge", "genpart_z",
                                       "genpart_x", "genpart_t"]).to_pydict()
    dz = np.concatenate(d["part_dzval"])
    neutral = np.concatenate(d["part_charge"]) == 0
    assert np.all(dz[neutral] == 0) and np.abs(dz[~neutral]).max() < 1e3
    z = np.concatenate(d["genpart_z"])
    x = np.concatenate(d["genpart_x"])
    prompt = z == 0     # made at the hard vertex, the first Vertex: z = 0 and x = y = 0
    assert prompt.mean() > 0.2 and np.all(x[prompt] == 0) and np.any(x[~prompt] != 0)
    assert np.median(np.abs(np.concatenate(d["genpart_t"]))) < 1e-9   # Delphes: seconds


def test_schema_is_generates_and_both_read_as_one_table(ntuple, sim_jets):
    generated = sorted((sim_jets / "res2p").glob("*.parquet"))[0]
    ours, theirs = pq.read_schema(ntuple), pq.read_schema(generated)
    assert ours.equals(theirs, check_metadata=False)   # names, order, types, nullability
    # ... and the same Parquet layout (list item names, repetition), not only the Arrow view
    assert pq.read_metadata(ntuple).schema.equals(pq.read_metadata(generated).schema)
    assert META_KEY in ours.metadata
    both = pq.read_table([str(ntuple), str(generated)])
    assert both.num_rows == pq.read_metadata(ntuple).num_rows + \
        pq.read_metadata(generated).num_rows
    assert set(both.column("sample").to_pylist()) == {"res2p"}
    # jetfm's own readers take it: every page and value checked, every column read
    assert verify_file(ntuple, JETCLASS2_COLUMNS) == 20
    assert sum(len(b) for _, b in iter_jets([ntuple])) == 20


def test_reading_in_small_chunks_gives_the_same_file(ntuple, tmp_path):
    ntuplize(NtuplizeConfig(inputs=(str(FIXTURE),), out=str(tmp_path / "o"), sample="res2p",
                            events_per_step=3), progress=False)
    assert pq.read_table(tmp_path / "o" / OUT_NAME).equals(pq.read_table(ntuple))


def test_jet_pt_min_and_other_families(tmp_path):
    assert _run(FIXTURE, "--out", tmp_path / "hi", "--sample", "res2p",
                "--jet-pt-min", "2000") == 0
    pt = pq.read_table(tmp_path / "hi" / OUT_NAME, columns=["jet_pt"]).column(0).to_numpy()
    assert 0 < len(pt) < 20 and pt.min() >= 2000
    # as QCD, the jets get QCD labels (counted b, c, s partons), none dropped
    assert _run(FIXTURE, "--out", tmp_path / "qcd", "--sample", "qcd") == 0
    lab = pq.read_table(tmp_path / "qcd" / OUT_NAME, columns=["jet_label"]).column(0)
    assert len(lab) == 21 and set(lab.to_pylist()) <= set(FAMILIES["qcd"])


def test_pythia_record_shifts_indices_and_restores_status_signs():
    p = {"PID": [25, 5, -5], "Status": [62, 71, 1], "M1": [-1, 0, 0], "M2": [-1, -1, -1],
         "D1": [1, -1, -1], "D2": [2, -1, -1], "Px": [0.0, 1, 2], "Py": [0.0, 0, 0],
         "Pz": [0.0, 0, 0], "E": [125.0, 1, 2], "Mass": [125.0, 0, 0]}
    rec = pythia_record(p)
    assert list(rec["id"]) == [0, 25, 5, -5] and list(rec["status"]) == [-11, -62, -71, 1]
    assert list(rec["daughter1"]) == [0, 2, 0, 0] and list(rec["daughter2"]) == [0, 3, 0, 0]
    assert list(rec["mother1"]) == [0, 0, 1, 1]


def test_genjet_matching_follows_the_macro():
    """Jets in branch order each take the nearest GEN-jet not taken yet, within R."""
    geta, gphi = np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.6, np.pi])
    # jet 0 takes GEN-jet 0 though jet 1 is nearer to it, jet 1 the next nearest; jet 2
    # (across the phi wrap from GEN-jet 2, dR 0.06) matches; jet 3 has none within R
    jeta, jphi = np.array([0.0, 0.0, 1.0, 2.0]), np.array([0.25, 0.05, -np.pi + 0.06, 0.0])
    assert _match_genjets(geta, gphi, jeta, jphi, 0.8).tolist() == [0, 1, 2, -1]
    assert _match_genjets(geta, gphi, jeta[:2], jphi[:2], 0.3).tolist() == [0, -1]
    assert _match_genjets(geta[:0], gphi[:0], jeta, jphi, 0.8).tolist() == [-1] * 4


# ------------------------------------------------------------------ bad inputs

def _fails(capsys, out: Path, *inputs, sample="res2p") -> str:
    assert _run(*inputs, "--out", out, "--sample", sample) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert not out.exists(), "nothing may be left behind"
    return err


def _write_tree(path: Path, branches: dict, tree: str = "Delphes") -> Path:
    """A TTree (uproot's default for a dict is an RNTuple)."""
    with uproot.recreate(path) as f:
        f.mktree(tree, {k: v.type.content if isinstance(v, ak.Array) else v.dtype
                        for k, v in branches.items()})
        f[tree].extend(branches)
    return path


def _all_branches(n_events: int, leave_out: str = "") -> dict:
    names = [f"{c}.{f}" for c, fields in (("JetPUPPIAK8", JET_FIELDS), ("GenJetAK8",
             GENJET_FIELDS), ("Particle", PARTICLE_FIELDS), ("ParticleFlowCandidate",
             PF_FIELDS), ("Vertex", VERTEX_FIELDS)) for f in fields]
    return {n: ak.Array([[1]] * n_events) for n in names if n != leave_out}


def test_not_a_root_file(tmp_path, capsys):
    bad = tmp_path / "notes.root"
    bad.write_text("not ROOT at all\n")
    err = _fails(capsys, tmp_path / "o", bad)
    assert str(bad) in err and "not a ROOT file" in err


def test_truncated_file(tmp_path, capsys):
    cut = tmp_path / "cut.root"
    data = FIXTURE.read_bytes()
    cut.write_bytes(data[: len(data) * 3 // 5])
    err = _fails(capsys, tmp_path / "o", cut)
    assert str(cut) in err and "truncated ROOT file" in err


def test_corrupt_data_names_the_branch(tmp_path, capsys):
    bad = tmp_path / "flipped.root"
    data = bytearray(FIXTURE.read_bytes())
    data[len(data) * 3 // 10: len(data) * 3 // 10 + 4000] = bytes(4000)
    bad.write_bytes(bytes(data))
    err = _fails(capsys, tmp_path / "o", bad)
    assert str(bad) in err and "corrupt or truncated data" in err and "branch '" in err


def test_inconsistent_events_are_one_line(tmp_path, capsys, monkeypatch):
    def broken(events, start, *args):
        raise IndexError("index 5000 is out of bounds")     # e.g. a D1 past the record
    monkeypatch.setattr("jetfm.delphes.run.ntuple_chunk", broken)
    err = _fails(capsys, tmp_path / "o", FIXTURE)
    assert f"{FIXTURE}: entries 0-9 do not hold consistent Delphes events" in err


def test_root_file_without_a_delphes_tree(tmp_path, capsys):
    other = _write_tree(tmp_path / "jetclass.root", {"jet_pt": np.ones(3)}, tree="tree")
    err = _fails(capsys, tmp_path / "o", other)
    assert str(other) in err and "no tree 'Delphes' (it holds 'tree' (TTree))" in err


def test_delphes_tree_without_the_collections(tmp_path, capsys):
    other = _write_tree(tmp_path / "bare.root", {"Event.Number": np.arange(3)})
    err = _fails(capsys, tmp_path / "o", other)
    assert str(other) in err and "no branch 'JetPUPPIAK8' (set by --jet-branch)" in err


def test_missing_branch(tmp_path, capsys):
    bad = _write_tree(tmp_path / "nostatus.root", _all_branches(2, "Particle.Status"))
    err = _fails(capsys, tmp_path / "o", bad)
    assert str(bad) in err and "no branch 'Particle.Status'" in err
    # a valid file next to it: still nothing written (all inputs are checked first)
    err = _fails(capsys, tmp_path / "o", FIXTURE, bad)
    assert "Particle.Status" in err
    # every name there, but not Delphes' types
    flat = _write_tree(tmp_path / "flat.root", _all_branches(2))
    err = _fails(capsys, tmp_path / "o", flat)
    assert str(flat) in err and "branch 'JetPUPPIAK8.SoftDroppedP4[5]' holds" in err


def test_file_without_events(tmp_path, capsys):
    empty = tmp_path / "empty.root"
    with uproot.recreate(empty) as f:
        f.mktree("Delphes", {"Particle.PID": "var * int32"})
    err = _fails(capsys, tmp_path / "o", empty)
    assert str(empty) in err and "has no events" in err
    # with a file that has jets: that one is written, the empty one is reported
    assert _run(FIXTURE, empty, "--out", tmp_path / "o", "--sample", "res2p") == 0
    out = capsys.readouterr().out
    assert f"no file for {empty}: tree 'Delphes' has no events" in out
    assert sorted(p.name for p in (tmp_path / "o").glob("*.parquet")) == [OUT_NAME]


# ------------------------------------------------------------------ folder: resume, refusal

def test_resume_workers_and_refusals(ntuple, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.root", "b.root"):
        shutil.copy(FIXTURE, inputs / name)
    out = tmp_path / "o"
    assert _run(inputs, "--out", out, "--sample", "res2p", "--workers", "2") == 0
    a, b = out / "a.parquet", out / "b.parquet"
    want = pq.read_table(ntuple)
    for f in (a, b):    # the pool gives the same bytes' content as one process
        assert pq.read_table(f).drop(["event_id"]).equals(want.drop(["event_id"]))
    stamp = a.stat().st_mtime_ns
    capsys.readouterr()
    assert _run(inputs, "--out", out, "--sample", "res2p") == 0      # finished: skipped
    assert "files skipped (done)  2" in capsys.readouterr().out
    assert a.stat().st_mtime_ns == stamp
    # a damaged output of ours is redone
    raw = bytearray(b.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 64] = bytes(64)
    b.write_bytes(bytes(raw))
    assert _run(inputs, "--out", out, "--sample", "res2p") == 0
    assert "b.parquet is damaged" in capsys.readouterr().err
    assert pq.read_table(b).equals(pq.read_table(a))
    # another input under the same name: never overwritten
    with open(inputs / "a.root", "ab") as f:
        f.write(b"\0" * 16)
    assert _run(inputs, "--out", out, "--sample", "res2p") == 2
    err = capsys.readouterr().err
    assert "a.parquet: exists but was made from another input" in err
    (inputs / "a.root").unlink()
    # another job, another command's folder, a live run: refused before writing
    assert _run(inputs, "--out", out, "--sample", "qcd") == 2
    assert "different sample" in capsys.readouterr().err
    with FolderLock(out, "jetfm ntuplize"):
        assert _run(inputs, "--out", out, "--sample", "res2p") == 2
        assert "in use by another" in capsys.readouterr().err
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "jets.parquet").write_bytes(b"user data")
    assert _run(inputs, "--out", gen, "--sample", "res2p") == 2
    assert "not written by jetfm ntuplize" in capsys.readouterr().err


def test_two_inputs_with_one_name_are_refused(tmp_path, capsys):
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        shutil.copy(FIXTURE, tmp_path / sub / "run.root")
    err = _fails(capsys, tmp_path / "o", tmp_path / "x" / "run.root",
                 tmp_path / "y" / "run.root")
    assert "would both write run.parquet" in err
