"""Parquet / ROOT readers: content, types, and a DataError naming file + column on bad input."""
from __future__ import annotations


import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jetfm.data import readers
from jetfm.data.parquet import (check_finite, count_jets, iter_parquet, to_awkward,
                                validate_parquet)
from jetfm.data.root import JETCLASS_LABELS, iter_jetclass_root
from jetfm.errors import DataError
from jetfm.schema import JETCLASS2_COLUMNS, OUTPUT_SCHEMA
from tests.data.fixtures import (jetclass2_table, truncate, write_jetclass2_parquet,
                                 write_jetclass_root)

EXPECTED_TYPES = {"part_px": "var * float32", "part_charge": "var * int32",
                  "part_isMuon": "var * bool", "genpart_pid": "var * int32",
                  "jet_pt": "float32", "jet_label": "int32", "jet_nparticles": "int32"}


def _field_type(batch: ak.Array, name: str) -> str:
    return str(ak.type(batch[name]).content)


def _with_column(table: pa.Table, name: str, arr) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, name, arr)


@pytest.fixture
def three_files(tmp_path):
    sizes = [23, 17, 40]
    tables = [write_jetclass2_parquet(tmp_path / f"s{i}.parquet", n, seed=i, row_group_size=10)
              for i, n in enumerate(sizes)]
    return tmp_path, tables


# ---------------------------------------------------------------- Parquet: good input

@pytest.mark.parametrize("form", ["dir", "glob", "list", "mixed"])
def test_iter_parquet_reads_all_rows_with_types(three_files, form):
    d, tables = three_files
    files = sorted(d.glob("*.parquet"))
    paths = {"dir": d, "glob": str(d / "s*.parquet"), "list": files,
             "mixed": [d, files[0]]}[form]  # the duplicate must not be read twice
    batches = list(iter_parquet(paths, batch_size=7))
    assert all(0 < len(b) <= 7 for b in batches)
    assert sum(len(b) for b in batches) == 80
    for name, typ in EXPECTED_TYPES.items():
        assert _field_type(batches[0], name) == typ, name
    # Content, in file order, identical to what was written.
    truth = pa.concat_tables(tables)
    got = ak.concatenate(batches)
    np.testing.assert_array_equal(ak.to_numpy(got.jet_pt),
                                  truth["jet_pt"].to_numpy())
    np.testing.assert_array_equal(ak.to_numpy(ak.flatten(got.part_px)),
                                  truth["part_px"].combine_chunks().flatten().to_numpy())
    assert ak.to_list(got.part_isMuon) == truth["part_isMuon"].to_pylist()
    assert ak.to_list(got.sample[:2]) == ["fixture", "fixture"]
    assert ak.num(got.part_px).tolist() == truth["jet_nparticles"].to_pylist()


def test_iter_parquet_column_subset(three_files):
    d, _ = three_files
    batches = list(iter_parquet(d, columns=["jet_pt", "part_energy"], batch_size=50))
    assert ak.fields(batches[0]) == ["jet_pt", "part_energy"]
    assert sum(map(len, batches)) == 80


def test_count_and_validate(three_files):
    d, _ = three_files
    assert count_jets(d) == 80
    assert readers.count_jets(str(d / "*.parquet")) == 80
    schema = validate_parquet(d / "s0.parquet")
    assert schema.names == OUTPUT_SCHEMA.names


def test_wider_types_are_accepted_and_narrowed(tmp_path):
    t = jetclass2_table(9, seed=3)
    t = _with_column(t, "part_px", t["part_px"].cast(pa.list_(pa.float64())))
    t = _with_column(t, "jet_label", t["jet_label"].cast(pa.int64()))
    p = tmp_path / "wide.parquet"
    write_jetclass2_parquet(p, table=t)
    validate_parquet(p)
    (b,) = iter_parquet(p)
    assert _field_type(b, "part_px") == "var * float32"
    assert _field_type(b, "jet_label") == "int32"
    assert ak.to_list(b.jet_label) == t["jet_label"].to_pylist()


def test_to_awkward_on_sliced_batch():
    # Arrow slices share buffers: list offsets then start mid-buffer.
    rb = jetclass2_table(10, seed=7).to_batches()[0]
    part = rb.slice(3, 4)
    got = to_awkward(part)
    assert ak.to_list(got.part_px) == part.column("part_px").to_pylist()
    assert ak.to_list(got.part_isPhoton) == part.column("part_isPhoton").to_pylist()
    assert ak.to_list(got.jet_label) == part.column("jet_label").to_pylist()


# ---------------------------------------------------------------- Parquet: bad input

def test_missing_column(tmp_path):
    p = tmp_path / "nopx.parquet"
    write_jetclass2_parquet(p, table=jetclass2_table(5).drop_columns(["part_px"]))
    for call in (lambda: validate_parquet(p), lambda: list(iter_parquet(p))):
        with pytest.raises(DataError, match="column 'part_px' is missing") as e:
            call()
        assert str(p) in str(e.value)
    # ...but reading other columns of that file is fine.
    assert sum(map(len, iter_parquet(p, columns=["jet_pt"]))) == 5


@pytest.mark.parametrize("name, arr_type, msg", [
    ("part_px", pa.list_(pa.int64()), "has type list<int64>, expected list<float32>"),
    ("jet_pt", pa.list_(pa.float32()), "has type list<float32>, expected float32"),
    ("part_isMuon", pa.list_(pa.int32()), "has type list<int32>, expected list<bool>"),
    ("jet_label", pa.float32(), "has type float32, expected int32"),
])
def test_wrong_type(tmp_path, name, arr_type, msg):
    t = jetclass2_table(4)
    col = t[name]
    if name == "jet_pt":  # scalar -> list: wrap each value
        arr = pa.array([[v] for v in col.to_pylist()], arr_type)
    else:
        arr = col.cast(arr_type, safe=False)
    p = tmp_path / "bad.parquet"
    write_jetclass2_parquet(p, table=_with_column(t, name, arr))
    with pytest.raises(DataError) as e:
        validate_parquet(p)
    assert str(e.value) == f"{p}: column '{name}' {msg}"
    with pytest.raises(DataError, match=name):
        list(iter_parquet(p))


def test_truncated_file(tmp_path):
    p = tmp_path / "cut.parquet"
    write_jetclass2_parquet(p, 30)
    truncate(p, 0.5)
    for call in (lambda: validate_parquet(p), lambda: list(iter_parquet(p)),
                 lambda: count_jets(p)):
        with pytest.raises(DataError, match="not a readable Parquet file") as e:
            call()
        assert str(p) in str(e.value)


@pytest.mark.parametrize("content", [b"", b"this is not parquet\n" * 50])
def test_junk_file(tmp_path, content):
    p = tmp_path / "junk.parquet"
    p.write_bytes(content)
    with pytest.raises(DataError, match=str(p)):
        validate_parquet(p)


def test_corruption_mid_file_names_the_file(tmp_path):
    # Footer intact, a data page damaged: found only while reading, via the page CRC.
    p = tmp_path / "rot.parquet"
    pq.write_table(jetclass2_table(200), p, row_group_size=50, write_page_checksum=True)
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = b"\xff" * 64
    p.write_bytes(bytes(data))
    validate_parquet(p)  # the footer is still fine
    with pytest.raises(DataError, match="corrupt data while reading") as e:
        list(iter_parquet(p, batch_size=30))
    assert str(p) in str(e.value)


def test_missing_paths(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        list(iter_parquet(tmp_path / "absent.parquet"))
    with pytest.raises(DataError, match="matches no .parquet files"):
        list(iter_parquet(str(tmp_path / "*.parquet")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="contains no"):
        list(iter_parquet(tmp_path / "empty"))
    with pytest.raises(DataError, match="no input files"):
        list(iter_parquet([]))


def test_nulls_in_schema_column(tmp_path):
    t = jetclass2_table(4)
    t = _with_column(t, "jet_pt", pa.array([1.0, None, 2.0, 3.0], pa.float32()))
    p = tmp_path / "null.parquet"
    write_jetclass2_parquet(p, table=t)
    with pytest.raises(DataError, match="column 'jet_pt' contains nulls"):
        list(iter_parquet(p))


# ---------------------------------------------------------------- check_finite

def test_check_finite(tmp_path):
    write_jetclass2_parquet(tmp_path / "f.parquet", 6, seed=5)
    b = next(iter_parquet(tmp_path / "f.parquet"))
    check_finite(b, path="f.parquet")  # all finite: no error
    px = ak.to_list(b.part_px)
    px[3][0] = float("nan")
    bad = ak.with_field(b, ak.values_astype(ak.Array(px), np.float32), "part_px")
    with pytest.raises(DataError) as e:
        check_finite(bad, ["jet_pt", "part_px", "part_charge"], path="f.parquet",
                     row_offset=100)
    assert str(e.value) == ("f.parquet: column 'part_px' has 1 non-finite values (NaN/inf) "
                            "in 1 jets, first at row 103")
    pt = ak.to_numpy(b.jet_pt).copy()
    pt[[2, 4]] = np.inf
    with pytest.raises(DataError, match=r"'jet_pt' has 2 non-finite .* first at row 2"):
        check_finite(ak.with_field(b, pt, "jet_pt"), path="f.parquet")
    with pytest.raises(DataError, match="'nope' is missing"):
        check_finite(b, ["nope"])


# ---------------------------------------------------------------- ROOT

def test_root_onehot_to_label_and_types(tmp_path):
    w1 = write_jetclass_root(tmp_path / "a.root", 25, seed=1)
    w2 = write_jetclass_root(tmp_path / "b.root", 12, seed=2)
    batches = list(iter_jetclass_root(tmp_path, step_size=10))
    assert [len(b) for b in batches] == [10, 10, 5, 10, 2]  # never spans files
    got = ak.concatenate(batches)
    assert ak.to_numpy(got.jet_label).tolist() == \
        np.concatenate([w1["labels"], w2["labels"]]).tolist()
    for name, typ in EXPECTED_TYPES.items():
        if name != "genpart_pid":  # JetClass has no GEN particles
            assert _field_type(got, name) == typ, name
    assert set(ak.fields(got)) <= set(JETCLASS2_COLUMNS)
    assert "label_QCD" not in ak.fields(got) and "genpart_px" not in ak.fields(got)
    # float-coded charge / flags / multiplicity converted value-preservingly
    assert ak.to_list(got.part_charge[:25]) == \
        ak.to_list(ak.values_astype(w1["part"]["charge"], np.int32))
    assert ak.to_list(got.part_isPhoton[:25]) == ak.to_list(w1["part"]["isPhoton"] == 1)
    assert ak.to_numpy(got.jet_nparticles[:25]).tolist() == w1["n"].tolist()
    assert JETCLASS_LABELS[0] == "label_QCD" and len(JETCLASS_LABELS) == 10


def test_root_missing_branch_tree_and_corrupt(tmp_path):
    p = tmp_path / "nopx.root"
    write_jetclass_root(p, 5, drop=("part_px",))
    with pytest.raises(DataError, match="branch 'part_px' is missing") as e:
        list(iter_jetclass_root(p))
    assert str(p) in str(e.value)
    p2 = tmp_path / "nolabel.root"
    write_jetclass_root(p2, 5, drop=("label_Tbl",))
    with pytest.raises(DataError, match="branch 'label_Tbl' is missing"):
        list(iter_jetclass_root(p2))
    # without jet_label the label branches are not needed
    assert sum(map(len, iter_jetclass_root(p2, columns=["jet_pt"]))) == 5
    p3 = tmp_path / "other.root"
    write_jetclass_root(p3, 5, tree="events")
    with pytest.raises(DataError, match="no readable tree 'tree'"):
        list(iter_jetclass_root(p3))
    p4 = tmp_path / "cut.root"
    write_jetclass_root(p4, 50)
    truncate(p4, 0.5)
    with pytest.raises(DataError, match=str(p4)):
        list(iter_jetclass_root(p4))


def test_root_not_onehot(tmp_path):
    p = tmp_path / "nolab.root"
    write_jetclass_root(p, 6, labels=[0, 1, -1, 2, 3, 4])  # jet 2 has no label set
    with pytest.raises(DataError, match="not one-hot for 1 jets .first at entry 2"):
        list(iter_jetclass_root(p))


# ---------------------------------------------------------------- format dispatch

def test_iter_jets_mixed_formats(tmp_path):
    write_jetclass2_parquet(tmp_path / "a.parquet", 7)
    write_jetclass_root(tmp_path / "b.root", 5)
    (tmp_path / "notes.txt").write_text("ignored by the directory scan")
    seen = [(p.suffix, len(b)) for p, b in readers.iter_jets(tmp_path, columns=["jet_pt",
                                                                               "jet_label"])]
    assert seen == [(".parquet", 7), (".root", 5)]
    assert readers.count_jets(tmp_path) == 12
    assert len(readers.label_names(tmp_path / "b.root")) == 10
    assert len(readers.label_names(tmp_path / "a.parquet")) == 188
    with pytest.raises(DataError, match="unknown file type '.txt'"):
        list(readers.iter_jets(tmp_path / "notes.txt"))
