"""bench/part_vs_weaver.py runs end to end on a tiny config (no timing asserted: speed
numbers belong to the bench itself)."""
import json
import sys
from pathlib import Path

import pytest

import weaver.nn.model.ParticleTransformer  # noqa: E402,F401  (test extra: required)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import part_vs_weaver  # noqa: E402


@pytest.mark.parametrize("phases", [["train", "infer"], ["infer"]])
def test_bench_runs_and_reports_every_row(tmp_path, capsys, phases):
    out = tmp_path / "bench.json"
    argv = ["--configs", "tiny", "--batch-size", "16", "--steps", "1", "--warmup", "0",
            "--threads", "1", "--json", str(out), "--phases", *phases]
    assert part_vs_weaver.main(argv) == 0
    res = json.loads(out.read_text())["results"][0]
    assert res["labels"] == ["jetfm[b8]", "weaver[on]"]
    assert max(res["max_logit_diff"].values()) < 1e-4  # same weights, same function
    for phase in phases:
        assert res["rows"]["jetfm[b8]"][f"{phase}_jets_s"] > 0
    assert "paired" in capsys.readouterr().out
