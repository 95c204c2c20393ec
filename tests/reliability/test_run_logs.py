"""Training logs as a kill -9 or a user leaves them: a row cut mid-write, stray folders."""
import pytest

from jetfm.errors import DataError
from jetfm.evaluate_run import read_history
from jetfm.run_logs import csv_logs, metric_curves

HEADER = "epoch,step,train/loss,val/acc\n"


def _log(run, n, text):
    (run / "logs" / f"csv-{n}").mkdir(parents=True, exist_ok=True)
    (run / "logs" / f"csv-{n}" / "metrics.csv").write_text(text)


def test_a_row_cut_by_a_kill_is_dropped_and_stray_folders_skipped(tmp_path):
    _log(tmp_path, 0, HEADER + "0,0,2.0,\n0,1,1.5,0.4\n0,2,1.2")       # cut mid-row
    _log(tmp_path, 1, HEADER + "0,2,1.25,\n")                           # the resumed run
    (tmp_path / "logs" / "csv-old").mkdir()                              # a user's copy
    (tmp_path / "logs" / "csv-old" / "metrics.csv").write_text("garbage")
    (tmp_path / "logs" / "tb").mkdir()
    assert [p.parent.name for p in csv_logs(tmp_path)] == ["csv-0", "csv-1"]
    assert metric_curves(tmp_path)["train/loss"] == [(0, 2.0), (1, 1.5), (2, 1.25)]
    assert read_history(metric_curves(tmp_path))


def test_a_malformed_row_inside_a_log_names_the_file_and_line(tmp_path):
    _log(tmp_path, 0, HEADER + "0,0,2.0,\n0,1,1.5,0.4,extra,more\n0,2,1.2,\n")
    with pytest.raises(DataError, match=r"csv-0/metrics.csv: line 3"):
        metric_curves(tmp_path)
    _log(tmp_path, 0, HEADER + "0,zero,2.0,\n")
    with pytest.raises(DataError, match="line 2"):
        metric_curves(tmp_path)
