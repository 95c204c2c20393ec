"""`jetfm resample`: the kept jets follow the reference's (pT, η) distribution."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from jetfm.cli import main
from jetfm.data.resample import GENERATE_META


def _write(path, pt, eta, extra=None):
    cols = {"jet_pt": pa.array(pt, pa.float32()), "jet_eta": pa.array(eta, pa.float32()),
            "jet_label": pa.array(np.zeros(len(pt), np.int32)), **(extra or {})}
    table = pa.table(cols).replace_schema_metadata({GENERATE_META: b"{}"})
    pq.write_table(table, path)


@pytest.fixture()
def samples(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    (tmp_path / "ref").mkdir()
    for i in range(2):   # data: steeply falling pT, central; reference: flat pT, wide η
        _write(tmp_path / "data" / f"d_{i}.parquet", 200 + rng.exponential(150, 20000),
               rng.normal(0, 0.8, 20000).clip(-2.4, 2.4))
    _write(tmp_path / "ref" / "r.parquet", rng.uniform(200, 700, 20000), rng.uniform(-2, 2, 20000))
    return tmp_path


def test_kept_jets_follow_the_reference(samples):
    out = samples / "out"
    assert main(["resample", str(samples / "data"), "--reference", str(samples / "ref"),
                 "--out", str(out), "--pt-bins", "10", "--eta-bins", "8"]) == 0
    kept = pq.read_table(sorted(out.glob("*.parquet"))).to_pandas()
    ref = pq.read_table(samples / "ref" / "r.parquet").to_pandas()
    data = pq.read_table(sorted((samples / "data").glob("*.parquet"))).to_pandas()
    assert len(kept) > 500
    assert abs(kept["jet_pt"].mean() - ref["jet_pt"].mean()) < 0.05 * ref["jet_pt"].mean()
    assert abs(kept["jet_pt"].mean() - data["jet_pt"].mean()) > 50            # it did move
    assert kept["jet_eta"].std() > 1.05 * data["jet_eta"].std()
    assert pq.read_schema(out / "d_0.parquet").metadata.get(GENERATE_META) is None
    record = yaml.safe_load((out / "resample_config.yaml").read_text())
    assert record["jets_kept"] == len(kept) and record["files"][0].startswith("/")
    # same seed, same jets
    assert main(["resample", str(samples / "data"), "--reference", str(samples / "ref"),
                 "--out", str(samples / "again"), "--pt-bins", "10", "--eta-bins", "8"]) == 0
    assert pq.read_table(samples / "again" / "d_1.parquet").equals(pq.read_table(out / "d_1.parquet"))


def test_refuses_dijets_and_overwrites(samples, capsys):
    _write(samples / "dj.parquet", [300.0, 250.0], [0.1, -0.2],
           {"jet_index": pa.array([0, 1], pa.int32())})
    assert main(["resample", str(samples / "dj.parquet"), "--reference", str(samples / "ref"),
                 "--out", str(samples / "o")]) == 2
    assert "dijet events" in capsys.readouterr().err and not (samples / "o").exists()
    assert main(["resample", str(samples / "data"), "--reference", str(samples / "ref"),
                 "--out", str(samples / "data")]) == 2
    assert "not written by jetfm resample" in capsys.readouterr().err   # the user's files
    assert len(list((samples / "data").iterdir())) == 2
