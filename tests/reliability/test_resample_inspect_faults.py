"""`jetfm resample` and `jetfm inspect` under faults (issue 24): files that keep no jet, inputs
of the same name, output folders already used (by a user, another job, a live run), flipped
bits in particle-level columns. Each test failed on the code before its fix."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from jetfm.cli import main

from ..data.fixtures import jetclass2_table
from .conftest import flip_byte_in_column, one_error_line


def _write(path, pt, eta, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = {"jet_pt": pa.array(pt, pa.float32()), "jet_eta": pa.array(eta, pa.float32()),
            "jet_label": pa.array(np.zeros(len(pt), np.int32)),
            "jet_id": pa.array(np.arange(len(pt)) + 1_000_000 * seed, pa.int64())}
    pq.write_table(pa.table(cols), path, compression="zstd", write_page_checksum=True)


def _falling(path, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    _write(path, 200 + rng.exponential(150, n), rng.normal(0, 0.8, n).clip(-2.4, 2.4), seed)


@pytest.fixture()
def ref(tmp_path):
    rng = np.random.default_rng(9)
    _write(tmp_path / "ref" / "r.parquet", rng.uniform(200, 700, 3000), rng.uniform(-2, 2, 3000))
    return tmp_path / "ref"


def _resample(data, ref, out, *extra):
    return main(["resample", *map(str, data), "--reference", str(ref), "--out", str(out),
                 "--pt-bins", "6", "--eta-bins", "4", *extra])


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# --- 1. an input that keeps no jet ---------------------------------------------------------------

def test_a_file_that_keeps_no_jet_gets_no_output_file(tmp_path, ref, capsys):
    _falling(tmp_path / "data" / "low.parquet")
    rng = np.random.default_rng(1)          # all above the reference's pT range: none kept
    _write(tmp_path / "data" / "high.parquet", rng.uniform(2000, 3000, 50), np.zeros(50))
    out = tmp_path / "out"
    assert _resample([tmp_path / "data"], ref, out) == 0
    line = capsys.readouterr().out
    assert "1 input file(s) kept no jets" in line and "high.parquet" in line
    assert not (out / "high.parquet").exists()
    assert pq.read_metadata(out / "low.parquet").num_rows > 0
    record = yaml.safe_load((out / "resample_config.yaml").read_text())
    assert record["files"] == [str(out / "low.parquet")]
    assert record["files_skipped"] == [str(tmp_path / "data" / "high.parquet")]


def test_no_bin_with_data_and_reference_jets_is_refused(tmp_path, ref, capsys):
    rng = np.random.default_rng(2)   # same pT range, every jet at eta > 2 (the reference: < 2)
    _write(tmp_path / "fwd.parquet", rng.uniform(200, 700, 200), rng.uniform(2.1, 2.4, 200))
    assert _resample([tmp_path / "fwd.parquet"], ref, tmp_path / "out", "--eta-bins", "10") == 2
    one_error_line(capsys, "no (pT, eta) bin holds both data and reference jets")
    assert not (tmp_path / "out").exists()


# --- 2. inputs of the same name in two folders ---------------------------------------------------

def test_same_file_names_in_two_folders_get_distinct_outputs(tmp_path, ref, capsys):
    _falling(tmp_path / "a" / "part_0.parquet", seed=1)
    _falling(tmp_path / "b" / "part_0.parquet", seed=2)
    out = tmp_path / "out"
    assert _resample([tmp_path / "a", tmp_path / "b"], ref, out) == 0
    record = yaml.safe_load((out / "resample_config.yaml").read_text())
    assert record["files"] == [str(out / "a_part_0.parquet"), str(out / "b_part_0.parquet")]
    kept = 0
    for folder, seed in (("a", 1), ("b", 2)):
        ids = pq.read_table(out / f"{folder}_part_0.parquet").column("jet_id").to_numpy()
        assert len(ids) and (ids // 1_000_000 == seed).all()     # its own input's jets only
        kept += len(ids)
    assert kept == record["jets_kept"]


def test_output_names_deeper_collisions_and_refusal(tmp_path):
    from jetfm.data.resample import output_names
    from jetfm.errors import ConfigError
    paths = [tmp_path / "x" / "s" / "p.parquet", tmp_path / "y" / "s" / "p.parquet",
             tmp_path / "q.parquet"]
    assert output_names(paths) == ["x_s_p.parquet", "y_s_p.parquet", "q.parquet"]
    with pytest.raises(ConfigError, match="would both be written as a_p.parquet"):
        output_names([tmp_path / "a" / "p.parquet", tmp_path / "b" / "p.parquet",
                      tmp_path / "a_p.parquet"])


# --- 3. the output folder contract --------------------------------------------------------------

def test_used_folders_are_refused_and_the_same_job_may_rerun(tmp_path, ref, capsys):
    _falling(tmp_path / "data" / "d.parquet")
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("mine")
    assert _resample([tmp_path / "data"], ref, user) == 2
    one_error_line(capsys, str(user), "not written by jetfm resample")
    assert _snapshot(user) == {"thesis.tex": b"mine"}

    out = tmp_path / "out"
    assert _resample([tmp_path / "data"], ref, out) == 0
    capsys.readouterr()
    before = _snapshot(out)
    assert _resample([tmp_path / "data"], ref, out, "--seed", "2") == 2
    one_error_line(capsys, str(out), "another jetfm resample job (different seed)")
    assert _snapshot(out) == before
    assert _resample([tmp_path / "data"], ref, out) == 0          # the same job again
    assert _snapshot(out) == before                                # deterministic


def test_a_second_live_resample_is_refused_with_the_holders_pid(tmp_path, ref, capsys):
    _falling(tmp_path / "data" / "d.parquet")
    out = tmp_path / "out"
    args = [str(tmp_path / "data"), str(ref), str(out)]
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        import jetfm.data.resample as r
        def slow(*a, **k):          # hold the folder after writing the files
            print("held", flush=True)
            time.sleep(60)
        r.write_config = slow
        r.resample(*{args!r}, pt_bins=6, eta_bins=4)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _resample([tmp_path / "data"], ref, out) == 2
        one_error_line(capsys, f"in use by another jetfm resample run (PID {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    assert _resample([tmp_path / "data"], ref, out) == 0     # a dead holder never blocks
    assert (out / "resample_config.yaml").is_file()


def test_resample_names_the_input_with_a_flipped_bit(tmp_path, ref, capsys):
    bad = tmp_path / "data" / "bad.parquet"
    bad.parent.mkdir()
    t = jetclass2_table(200, seed=3)
    t = t.set_column(t.schema.get_field_index("jet_eta"), "jet_eta",
                     pa.array(np.linspace(-2, 2, 200), pa.float32()))
    t = t.set_column(t.schema.get_field_index("jet_pt"), "jet_pt",
                     pa.array(np.linspace(250, 650, 200), pa.float32()))
    pq.write_table(t, bad, compression="zstd", write_page_checksum=True)
    flip_byte_in_column(bad, "part_px")
    assert _resample([bad], ref, tmp_path / "out") == 2
    one_error_line(capsys, "bad.parquet", "corrupt")
    assert not (tmp_path / "out").exists()


# --- 4. inspect reads every page of every column -------------------------------------------------

def _jetfm_file(path, seed):
    """As jetfm writes them: zstd, page checksums, several row groups."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(jetclass2_table(60, seed=seed), path, row_group_size=20,
                   compression="zstd", write_page_checksum=True)


def test_inspect_finds_a_flipped_bit_in_a_particle_column(tmp_path, capsys):
    _jetfm_file(tmp_path / "in" / "a.parquet", 1)
    _jetfm_file(tmp_path / "in" / "b.parquet", 2)
    assert main(["inspect", str(tmp_path / "in"), "--out", str(tmp_path / "ok")]) == 0
    assert "verified      2 of 2 files: every page of every column" in capsys.readouterr().out

    flip_byte_in_column(tmp_path / "in" / "b.parquet", "part_px")
    out = tmp_path / "o"
    assert main(["inspect", str(tmp_path / "in"), "--out", str(out)]) == 2
    one_error_line(capsys, "b.parquet", "column 'part_px'", "corrupt")
    assert not out.exists()


def test_inspect_out_follows_the_one_contract(sim_jets, tmp_path, capsys):
    from jetfm.cli import main
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    assert main(["inspect", str(sim_jets / "qcd"), "--out", str(user)]) == 2
    assert "not written by jetfm inspect" in capsys.readouterr().err
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    out = tmp_path / "plots"
    assert main(["inspect", str(sim_jets / "qcd"), "--out", str(out)]) == 0
    assert main(["inspect", str(sim_jets / "qcd"), "--out", str(out)]) == 0     # same job
    assert main(["inspect", str(sim_jets / "res2p"), "--out", str(out)]) == 2   # another one
