"""`jetfm generate`'s closing table names label families as such, and only those present."""
from jetfm.sim.generate import format_summary


def _summary(**changes) -> dict:
    s = {"sample": "wplus", "jets": 300, "events": 900, "files_written": [], "files_skipped": 0,
         "labels_present": 4, "mean_constituents": 50.0, "seconds": 10.0,
         "jets_per_second": 30.0, "jets_per_family": {"res2p": 300, "res34p": 0, "qcd": 0},
         "unlabelled": 0, "dropped": {}}
    return {**s, **changes}


def test_summary_lists_only_the_label_families_present():
    text = format_summary(_summary())
    # W+ jets are not the res2p sample: they carry Res2P labels
    assert "jets with res2p labels  300" in text
    assert "res34p" not in text and "qcd" not in text


def test_a_resumed_run_that_wrote_nothing_does_not_report_zero_labels():
    text = format_summary(_summary(jets=0, events=0, files_skipped=3, labels_present=0,
                                   mean_constituents=0.0, jets_per_second=0.0,
                                   jets_per_family={"res2p": 0, "res34p": 0, "qcd": 0}))
    assert "files skipped (done)" in text
    assert "distinct labels" not in text and "mean constituents" not in text
