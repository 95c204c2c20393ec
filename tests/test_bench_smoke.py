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


def test_ssl_study_runs_its_plan_and_its_tables_read_every_job(tmp_path, capsys):
    """bench/ssl_study.py is `jetfm study ssl-study` plus its tables; the tables read the
    folders the plan's transfer jobs write (a renamed job would show as '–')."""
    import ssl_study
    from jetfm.study import load_plan, plan_steps
    out = tmp_path / "ssl"
    assert ssl_study.main(["--out", str(out), "--print"]) == 0
    commands = [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("jetfm ")]
    assert len(commands) == len(plan_steps(load_plan("ssl-study"), out)) and not out.exists()
    assert sum(c.startswith("jetfm transfer ") for c in commands) == 90
    row = {"accuracy_mean": 0.5, "accuracy_std": 0.01, "auc_mean": 0.6,
           "recall": {c: {"mean": 0.7} for c in ("quark", "gluon", "tau_h")}}
    for step in plan_steps(load_plan("ssl-study"), out):
        if step.command == "transfer":
            step.marker.parent.mkdir(parents=True)
            # a job's rows at the label counts it adds: the 1000/class columns come from the
            # -1k jobs, the LoRA sweep's small counts from the -sweep ones
            job = step.marker.parent.name
            counts = ((1000,) if job.endswith("-1k") else (10, 30, 300, 1000)
                      if job.endswith("-sweep") else (10, 100))
            step.marker.write_text(json.dumps({"summary": [
                {"labels_per_class": n, **row} for n in counts]}))
    assert ssl_study.main(["--out", str(out), "--tables"]) == 0
    text = capsys.readouterr().out
    results = text[text.index("### tagging10: linear probe"):]

    def section(title):
        start = results.index(title)
        return results[start:results.index("###", start + 3)]
    # qgtau has no 1000/class column to fill (its τ_h pool is smaller); everything else is read
    for title in ("### tagging10: linear probe", "### tagging10: fine-tune",
                  "### tagging10: kNN", "### qgtau: fine-tune", "### qgtau: kNN"):
        assert "–" not in section(title), title
    assert "–" not in results[results.index("### LoRA"):]
    assert "| qg | resim-lora1 | " + " | ".join(["0.500 ± 0.010 (0.600)"] * 5) + " |" in results
    assert "| scratch | 0.500 ± 0.010 | 0.500 ± 0.010 |" in results     # 1000/class: the 1k jobs


def test_detector_response_runs_on_the_reference_file(sim_jets, capsys):
    """bench/detector_response.py on the JetClass-II chain's example file: every table is
    printed, and a broken input is one line naming it."""
    import detector_response
    ref = Path(__file__).parent / "fixtures" / "delphes" / "events_delphes_higgs2p_example.root"
    assert detector_response.main([str(ref), str(sim_jets / "res2p"), "--replicas", "1",
                                   "--max-events", "3"]) == 0
    out = capsys.readouterr().out
    for source in ("delphes", "jetfm@ref", "jetfm pT>1TeV"):
        assert source in out
    assert "fate of the GEN-jet particles" in out
    assert detector_response.main([str(sim_jets / "res2p" / "res2p_00000.parquet"),
                                   str(sim_jets / "res2p")]) == 2
    assert "not a Delphes file" in capsys.readouterr().err
