"""Reading data under faults: bit flips, integer overflow, bad files in any split, inspect on
bad input, data folders with sub-folders. Each test failed on the code before its fix."""
from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jetfm.cli import main
from jetfm.data.parquet import iter_parquet
from jetfm.data.paths import expand_paths
from jetfm.errors import DataError

from ..data.fixtures import jetclass2_table, write_jetclass2_parquet
from .conftest import flip_byte_in_column, one_error_line, pretrain_args


@pytest.fixture()
def data_copy(sim_jets, tmp_path):
    shutil.copytree(sim_jets, tmp_path / "data")
    return tmp_path / "data"


# --- 4. a flipped bit inside a data page --------------------------------------------------------

def test_evaluate_refuses_a_flipped_bit(trained_run, tmp_path, capsys):
    src = sorted((trained_run.parent / "data" / "qcd").glob("*.parquet"))[0]
    bad = tmp_path / "flipped.parquet"
    shutil.copy(src, bad)
    flip_byte_in_column(bad, "part_px")
    assert main(["evaluate", str(trained_run), "--data", str(bad), "--out",
                 str(tmp_path / "eval"), "--no-progress"]) == 2
    one_error_line(capsys, "flipped.parquet", "corrupt")
    assert not (tmp_path / "eval").exists()


def test_pretrain_refuses_a_flipped_bit_before_training(data_copy, tmp_path, capsys):
    victim = sorted((data_copy / "qcd").glob("*.parquet"))[2]
    flip_byte_in_column(victim, "part_energy")
    assert main(pretrain_args([data_copy], tmp_path / "run", "--max-steps", "2")) == 2
    one_error_line(capsys, victim.name)
    assert not (tmp_path / "run").exists()


# --- 5. integers that do not fit ---------------------------------------------------------------

def test_an_int64_label_that_does_not_fit_int32_is_an_error(tmp_path):
    t = jetclass2_table(4)
    labels = pa.array([1, 2, 2**32 + 5, 3], pa.int64())
    t = t.set_column(t.schema.get_field_index("jet_label"), "jet_label", labels)
    pq.write_table(t, tmp_path / "big.parquet")
    with pytest.raises(DataError, match=r"big.parquet: column 'jet_label' has values outside "
                                        r"the int32 range .* \(e.g. 4294967301\)"):
        list(iter_parquet(tmp_path / "big.parquet", columns=["jet_label"]))


# --- 9. inspect validates like every other command ------------------------------------------------

def _with_column(t: pa.Table, name: str, values) -> pa.Table:
    return t.set_column(t.schema.get_field_index(name), name, values)


@pytest.mark.parametrize("case", ["nan_pt", "empty_file", "no_part_px", "max_jets_0"])
def test_inspect_refuses_bad_input(tmp_path, capsys, case):
    path = tmp_path / "in.parquet"
    t = jetclass2_table(6)
    extra = []
    if case == "nan_pt":
        pt = t.column("jet_pt").to_numpy().copy()
        pt[2] = np.nan
        t = _with_column(t, "jet_pt", pa.array(pt, pa.float32()))
    elif case == "empty_file":
        t = t.slice(0, 0)
    elif case == "no_part_px":
        t = t.drop_columns(["part_px"])
    else:
        extra = ["--max-jets", "0"]
    pq.write_table(t, path)
    assert main(["inspect", str(path), "--out", str(tmp_path / "plots"), *extra]) == 2
    needle = {"nan_pt": "'jet_pt' has 1 non-finite", "empty_file": "no jets",
              "no_part_px": "'part_px' is missing", "max_jets_0": "--max-jets"}[case]
    one_error_line(capsys, needle)
    assert not (tmp_path / "plots").exists()


# --- 10. every split is checked before training --------------------------------------------------

@pytest.mark.parametrize("split", ["val", "test"])
def test_a_bad_file_in_any_split_is_refused_before_training(data_copy, tmp_path, capsys, split):
    from jetfm.data.dataset import split_files
    train, val, test = split_files(expand_paths([data_copy]), 0.1, 0.1, seed=1)
    victim = (val if split == "val" else test)[0]
    t = pq.read_table(victim)
    e = t.column("jet_energy").to_numpy().copy()
    e[-1] = np.inf          # the last jet: a footer check or a first batch would miss it
    pq.write_table(_with_column(t, "jet_energy", pa.array(e, pa.float32())), victim)
    assert main(pretrain_args([data_copy], tmp_path / "run", "--max-steps", "2")) == 2
    one_error_line(capsys, victim.name, "jet_energy", "non-finite")
    assert not (tmp_path / "run").exists()


# --- --data on a data root with sub-folders, and patterns --------------------------------------

def test_data_folders_are_searched_recursively(data_copy, tmp_path):
    files = expand_paths([data_copy])
    assert len(files) == 10 and {f.parent.name for f in files} == {"qcd", "res2p"}
    assert expand_paths([str(data_copy / "**" / "qcd_*.parquet")]) == \
        sorted(f for f in files if f.name.startswith("qcd"))
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match="sub-folders"):
        expand_paths([tmp_path / "empty"])
    write_jetclass2_parquet(tmp_path / "empty" / "sub" / ".hidden.parquet")
    with pytest.raises(DataError):   # hidden (temporary) files are never data
        expand_paths([tmp_path / "empty"])
