"""End-to-end `jetfm generate`: schema, labels per family, determinism, resume, atomicity."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jetfm.cli import main
from jetfm.errors import ConfigError, DataError
from jetfm.labels import FAMILIES, LABEL_NAMES
from jetfm.sim import schedule as sched_mod
from jetfm.sim.detector_card import load_card
from jetfm.sim.generate import GenerateConfig, generate

# docs/design.md, written out independently of jetfm.schema so a drift in either is caught.
F, I, B = "float", "int32", "bool"
DESIGN_COLUMNS = {
    **{c: ("list", F) for c in ["part_px", "part_py", "part_pz", "part_energy", "part_deta",
                                "part_dphi", "part_d0val", "part_d0err", "part_dzval", "part_dzerr"]},
    "part_charge": ("list", I),
    **{c: ("list", B) for c in ["part_isElectron", "part_isMuon", "part_isPhoton",
                                "part_isChargedHadron", "part_isNeutralHadron"]},
    **{c: ("scalar", F) for c in ["jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_sdmass",
                                  "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4"]},
    "jet_nparticles": ("scalar", I), "jet_label": ("scalar", I),
    **{c: ("list", F) for c in ["genpart_px", "genpart_py", "genpart_pz", "genpart_energy",
                                "genpart_jet_deta", "genpart_jet_dphi", "genpart_x", "genpart_y",
                                "genpart_z", "genpart_t"]},
    "genpart_pid": ("list", I),
    **{c: ("scalar", F) for c in ["genjet_pt", "genjet_eta", "genjet_phi", "genjet_energy",
                                  "genjet_sdmass"]},
    "genjet_nparticles": ("scalar", I),
    **{c: ("list", F) for c in ["aux_genpart_pt", "aux_genpart_eta", "aux_genpart_phi",
                                "aux_genpart_mass"]},
    "aux_genpart_pid": ("list", I),
    **{c: ("list", B) for c in ["aux_genpart_isResX", "aux_genpart_isResY",
                                "aux_genpart_isResDecayProd", "aux_genpart_isTauDecayProd",
                                "aux_genpart_isQcdParton"]},
}
ARROW = {F: pa.float32(), I: pa.int32(), B: pa.bool_()}


def _cfg(tmp_path, **kw) -> GenerateConfig:
    base = dict(sample="qcd", jets=12, out=str(tmp_path / "out"), seed=3, workers=1,
                jets_per_file=12, chunk_events=20)
    base.update(kw)
    return GenerateConfig(**base)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def qcd_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qcd")
    summary = generate(_cfg(tmp, jets=24, jets_per_file=12), progress=False)
    return tmp, summary


def test_generated_file_has_the_jetclass2_schema(qcd_run):
    tmp, summary = qcd_run
    files = sorted((tmp / "out").glob("*.parquet"))
    assert [f.name for f in files] == ["qcd_00000.parquet", "qcd_00001.parquet"]
    schema = pq.read_schema(files[0])
    for name, (kind, typ) in DESIGN_COLUMNS.items():
        assert name in schema.names, name
        t = schema.field(name).type
        if kind == "list":
            assert pa.types.is_list(t), (name, t)
            assert t.value_type == ARROW[typ], (name, t)
        else:
            assert t == ARROW[typ], (name, t)
    table = pq.read_table(files[0])
    assert table.num_rows == 12
    assert summary["jets"] == 24


def test_generated_jets_are_physical(qcd_run):
    tmp, _ = qcd_run
    t = pq.read_table(tmp / "out" / "qcd_00000.parquet").to_pydict()
    pt = np.array(t["jet_pt"])
    assert (pt > 200).all() and (np.abs(t["jet_eta"]) < 2.5).all()
    labels = np.array(t["jet_label"])
    assert ((labels >= 161) & (labels <= 187)).all()
    for j in range(len(pt)):
        n = t["jet_nparticles"][j]
        ppt = np.hypot(t["part_px"][j], t["part_py"][j])
        assert len(ppt) == n > 0
        assert np.all(np.diff(ppt) <= 1e-3), "constituents sorted by pT"
        flags = np.stack([t[c][j] for c in ["part_isElectron", "part_isMuon", "part_isPhoton",
                                             "part_isChargedHadron", "part_isNeutralHadron"]])
        assert (flags.sum(axis=0) == 1).all()
        # jet pT equals the vector sum of its constituents (E-scheme)
        assert abs(np.hypot(np.sum(t["part_px"][j]), np.sum(t["part_py"][j])) - pt[j]) < 1e-3 * pt[j]
        assert t["jet_sdmass"][j] >= 0 and t["jet_tau1"][j] >= t["jet_tau2"][j] - 1e-6


def test_config_is_written_and_rerun_skips_finished_files(qcd_run, tmp_path):
    tmp, _ = qcd_run
    out = tmp / "out"
    assert "sample: qcd" in (out / "generate_config.yaml").read_text()
    before = {f.name: f.stat().st_mtime_ns for f in out.glob("*.parquet")}
    summary = generate(_cfg(tmp, jets=24, jets_per_file=12), progress=False)
    assert summary["files_skipped"] == 2 and summary["files_written"] == []
    assert before == {f.name: f.stat().st_mtime_ns for f in out.glob("*.parquet")}


def test_same_seed_same_bytes_and_resume_fills_missing(qcd_run):
    tmp, _ = qcd_run
    out = tmp / "out"
    digests = {f.name: _digest(f) for f in out.glob("*.parquet")}
    (out / "qcd_00001.parquet").unlink()
    summary = generate(_cfg(tmp, jets=24, jets_per_file=12), progress=False)
    assert [Path(p).name for p in summary["files_written"]] == ["qcd_00001.parquet"]
    assert digests == {f.name: _digest(f) for f in out.glob("*.parquet")}


def test_workers_and_shards_do_not_change_the_bytes(qcd_run, tmp_path):
    tmp, _ = qcd_run
    ref = {f.name: _digest(f) for f in (tmp / "out").glob("*.parquet")}
    generate(_cfg(tmp_path, jets=24, jets_per_file=12, workers=2), progress=False)
    assert ref == {f.name: _digest(f) for f in (tmp_path / "out").glob("*.parquet")}
    shard = tmp_path / "shard"
    generate(_cfg(tmp_path, jets=24, jets_per_file=12, out=str(shard), shard=1, num_shards=2),
             progress=False)
    assert {f.name: _digest(f) for f in shard.glob("*.parquet")} == {"qcd_00001.parquet": ref["qcd_00001.parquet"]}


def test_interrupted_run_leaves_no_partial_file_and_resumes(tmp_path, monkeypatch):
    real = sched_mod.run_chunk
    calls = {"n": 0}

    def flaky(task):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(sched_mod, "run_chunk", flaky)
    cfg = _cfg(tmp_path, jets=30, jets_per_file=30, chunk_events=5)
    with pytest.raises(KeyboardInterrupt):
        generate(cfg, progress=False)
    out = tmp_path / "out"
    assert not out.exists(), "a folder the interrupted run made and left empty is removed"
    (out / "keep").mkdir(parents=True)     # an existing folder is kept, without partial files
    with pytest.raises(KeyboardInterrupt):
        calls["n"] = 0
        generate(cfg, progress=False)
    assert not list(out.glob("*.parquet")) and (out / "keep").is_dir()
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    monkeypatch.setattr(sched_mod, "run_chunk", real)
    summary = generate(cfg, progress=False)
    assert summary["jets"] == 30


def test_changed_settings_in_the_same_folder_are_refused(qcd_run):
    tmp, _ = qcd_run
    with pytest.raises(ConfigError, match=r"other settings \(seed: 3 \(folder\) vs 4 \(this run\)\)"):
        generate(_cfg(tmp, jets=24, jets_per_file=12, seed=4), progress=False)


def test_corrupt_existing_file_is_reported(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "qcd_00000.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError, match="qcd_00000.parquet"):
        generate(_cfg(tmp_path), progress=False)


@pytest.mark.parametrize("sample", ["res2p", "res34p", "qcd"])
def test_each_family_gets_its_labels(tmp_path, sample):
    generate(_cfg(tmp_path, sample=sample, jets=6, chunk_events=40), progress=False)
    labels = pq.read_table(tmp_path / "out" / f"{sample}_00000.parquet").column("jet_label").to_numpy()
    assert len(labels) == 6
    assert np.isin(labels, list(FAMILIES[sample])).all()


def test_res34p_charged_emu_y_decays_make_charged_pairs_and_are_recorded(tmp_path):
    generate(_cfg(tmp_path, sample="res34p", jets=6, chunk_events=40, y_decays="charged-emu"),
             progress=False)
    t = pq.read_table(tmp_path / "out" / "res34p_00000.parquet")
    pid = t.column("aux_genpart_pid").to_pylist()
    is_y = t.column("aux_genpart_isResY").to_pylist()
    y_ids = {abs(p) for row_p, row_y in zip(pid, is_y) for p, y in zip(row_p, row_y) if y}
    assert y_ids == {37}                  # never the neutral H2 (35) of the default tables
    assert np.isin(t.column("jet_label").to_numpy(), list(FAMILIES["res34p"])).all()
    assert b'"y_decays": "charged-emu"' in pq.read_schema(
        tmp_path / "out" / "res34p_00000.parquet").metadata[b"jetfm.generate"]


@pytest.mark.parametrize("x_decays,x_id,labels", [
    ("neutral-hadronic", 25, {"X_bb", "X_cc", "X_ss", "X_qq", "X_gg"}),    # no leptons, no taus
    # the W-like stand-in is written as JetClass-II's H+ (37); the six quark channels
    ("charged", 37, {"X_qq", "X_sq", "X_bq", "X_cq", "X_cs", "X_bc"})])
def test_res2p_x_decays_make_only_that_x_and_are_recorded(tmp_path, x_decays, x_id, labels):
    generate(_cfg(tmp_path, sample="res2p", jets=6, chunk_events=40, x_decays=x_decays),
             progress=False)
    path = tmp_path / "out" / "res2p_00000.parquet"
    t = pq.read_table(path)
    pid = t.column("aux_genpart_pid").to_pylist()
    is_x = t.column("aux_genpart_isResX").to_pylist()
    assert {abs(p) for row_p, row_x in zip(pid, is_x) for p, x in zip(row_p, row_x) if x} == {x_id}
    assert {LABEL_NAMES[i] for i in t.column("jet_label").to_numpy()} <= labels
    assert f'"x_decays": "{x_decays}"'.encode() in pq.read_schema(path).metadata[b"jetfm.generate"]


@pytest.mark.parametrize("sample,option", [("res2p", "x_decays"), ("res34p", "y_decays")])
def test_default_decays_given_explicitly_keep_the_settings_of_folders_made_without(
        tmp_path, sample, option):
    card = load_card("cms")
    unset = _cfg(tmp_path, sample=sample).physics_key(card)
    assert option not in unset
    assert _cfg(tmp_path, sample=sample, **{option: "jetclass2"}).physics_key(card) == unset
    other = "charged" if sample == "res2p" else "charged-quarks"
    assert _cfg(tmp_path, sample=sample, **{option: other}).physics_key(card)[option] == other


def test_a_mass_range_folder_resumes(tmp_path):
    # the folder's record reads back from YAML (lists): a rerun must find the same settings
    cfg = _cfg(tmp_path, sample="res2p", jets=4, jets_per_file=2, chunk_events=20,
               mass_range=(100.0, 150.0))
    generate(cfg, progress=False)
    first = tmp_path / "out" / "res2p_00000.parquet"
    digest = _digest(first)
    (tmp_path / "out" / "res2p_00001.parquet").unlink()      # as if killed before file 1
    generate(cfg, progress=False)
    assert _digest(first) == digest and (tmp_path / "out" / "res2p_00001.parquet").exists()


def test_resim_jets_share_groups_across_replicas(tmp_path):
    generate(_cfg(tmp_path, jets=16, chunk_events=6, resim=3), progress=False)
    t = pq.read_table(tmp_path / "out" / "qcd_00000.parquet").to_pydict()
    groups = np.array(t["resim_group"])
    events = np.array(t["event_id"])
    assert (groups >= 0).all()
    shared = [g for g in np.unique(groups) if (groups == g).sum() >= 2]
    assert shared, "some shower must give a jet in at least two replicas"
    for g in shared:   # a group spans replicas (different events) of one shower
        assert len(np.unique(events[groups == g])) >= 2
    # replicas are distinct events; each event's jets come from one parton-level event
    assert len(np.unique(events)) >= 3


def test_pileup_run_produces_valid_jets(tmp_path):
    summary = generate(_cfg(tmp_path, jets=4, chunk_events=8, pileup=5.0), progress=False)
    assert summary["jets"] == 4


def test_cli_bad_options_give_one_clear_error(tmp_path, capsys):
    assert main(["generate", "--sample", "qcd", "--jets", "0", "--out", str(tmp_path / "x"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--jets must be > 0" in err and err.count("\n") == 1
    assert main(["generate", "--sample", "qcd", "--jets", "5", "--out", str(tmp_path / "x"),
                 "--shard", "3", "--num-shards", "2", "--no-progress"]) == 2
    assert "--shard" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        main(["generate", "--sample", "nope", "--jets", "5", "--out", str(tmp_path / "x")])


def test_validate_rejects_impossible_settings():
    with pytest.raises(ConfigError, match="--pileup"):
        GenerateConfig(sample="qcd", jets=1, out="x", pileup=float("nan")).validate()
    with pytest.raises(ConfigError, match="--resim"):
        GenerateConfig(sample="qcd", jets=1, out="x", resim=-1).validate()
