"""Jets with no JetClass-II label (`jet_label = −1`, the tau and dark-jet samples): refused by
every check that feeds a classifier, with one message, and accepted by self-supervised runs."""
from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jetfm.cli import main
from jetfm.data.config import load_data_config
from jetfm.data.dataset import check_files
from jetfm.errors import DataError


@pytest.fixture(scope="module")
def mixed(sim_jets, tmp_path_factory):
    """qcd files as they are, plus res2p files whose labels are all −1."""
    root = tmp_path_factory.mktemp("unlabelled")
    shutil.copytree(sim_jets / "qcd", root / "qcd")
    (root / "tau").mkdir()
    for path in sorted((sim_jets / "res2p").glob("*.parquet")):
        t = pq.read_table(path)
        i = t.schema.get_field_index("jet_label")
        t = t.set_column(i, "jet_label", pa.array([-1] * t.num_rows, pa.int32()))
        pq.write_table(t, root / "tau" / path.name)
    return root


@pytest.mark.parametrize("verify", [True, False])
def test_classifier_checks_refuse_unlabelled_jets(mixed, verify):
    cfg = load_data_config("jetclass2")
    with pytest.raises(DataError, match=r"tau/res2p_0000\d.parquet: column 'jet_label' has 20 "
                                        r"unlabelled jets \(-1\).*self-supervised"):
        check_files(mixed, cfg, verify=verify)
    assert check_files(mixed, cfg, verify=verify, allow_unlabelled=True) == 200


def test_supervised_refuses_and_ssl_trains_on_unlabelled_jets(mixed, tmp_path, capsys):
    common = ["--data", str(mixed), "--preset", "tiny", "--batch-size", "16", "--max-steps",
              "2", "--val-every-steps", "2", "--no-progress"]
    assert main(["pretrain", "--strategy", "supervised", "--out", str(tmp_path / "s"),
                 *common]) == 2
    err = capsys.readouterr().err
    assert "unlabelled jets (-1)" in err and err.count("\n") == 1
    assert not (tmp_path / "s").exists()
    assert main(["pretrain", "--strategy", "autoencoder", "--out", str(tmp_path / "a"),
                 *common]) == 0


def test_inspect_counts_unlabelled_jets(mixed, tmp_path):
    assert main(["inspect", str(mixed / "tau"), "--out", str(tmp_path / "i")]) == 0
    summary = json.loads((tmp_path / "i" / "summary.json").read_text())
    assert summary["label_counts"] == {"(unlabelled: -1)": 100}
