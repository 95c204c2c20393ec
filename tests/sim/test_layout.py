"""Byte-level layout of generated files: JetClass-II's column order, nothing nullable, list
items named `item`, large row groups — so a published file and ours combine directly."""
from __future__ import annotations

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jetfm.schema import JETCLASS2_COLUMNS, JETCLASS2_SCHEMA


def _published_file(path, n=3):
    """A file as the published JetClass-II Parquet is laid out, built from the schema."""
    rng = np.random.default_rng(0)
    arrays = []
    for f in JETCLASS2_SCHEMA:
        base = f.type.value_type if pa.types.is_list(f.type) else f.type
        values = rng.integers(0, 2, 4 * n) if base in (pa.int32(), pa.bool_()) else rng.random(4 * n)
        flat = pa.array(values).cast(base)
        arrays.append(pa.ListArray.from_arrays(pa.array([0, 4, 8, 12], pa.int32()), flat).cast(f.type)
                      if pa.types.is_list(f.type) else flat.slice(0, n))
    pq.write_table(pa.Table.from_arrays(arrays, schema=JETCLASS2_SCHEMA), path,
                   use_compliant_nested_type=False)


def test_generated_file_combines_with_a_published_one(sim_jets, tmp_path):
    ours = sorted((sim_jets / "qcd").glob("*.parquet"))[0]
    published = tmp_path / "published.parquet"
    _published_file(published)
    schema = pq.read_schema(ours)
    assert schema.names[:len(JETCLASS2_COLUMNS)] == JETCLASS2_COLUMNS
    assert schema.names[20:22] == ["jet_sdmass", "jet_nparticles"]
    assert not any(f.nullable for f in schema)
    assert schema.field("part_px").type.value_field.name == "item"
    both = pa.concat_tables([pq.read_table(published),
                             pq.read_table(ours, columns=JETCLASS2_COLUMNS)])
    assert both.num_rows == 3 + pq.ParquetFile(ours).metadata.num_rows
    # awkward reads a list of files only when their footers are identical (ours has extra
    # columns), so read each file and concatenate: the types must agree exactly
    parts = [ak.from_parquet(published), ak.from_parquet(ours, columns=JETCLASS2_COLUMNS)]
    assert str(parts[0].type.content) == str(parts[1].type.content)
    assert len(ak.concatenate(parts)) == both.num_rows


def test_small_files_have_one_row_group(sim_jets):
    paths = sorted((sim_jets / "res2p").glob("*.parquet"))
    assert paths, "the fixture made no files: the loop below would pass vacuously"
    for path in paths:
        assert pq.ParquetFile(path).metadata.num_row_groups == 1
