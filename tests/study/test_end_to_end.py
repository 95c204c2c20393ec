"""`jetfm study` on a tiny plan, for real: generate two small samples, pre-train a tiny
backbone, a linear probe, the report; then a second run skips every finished step."""
import json
import time

import yaml

from jetfm.cli import main

PLAN = {
    "title": "tiny study",
    "data": {name: {"sample": name, "jets": 30, "jets-per-file": 5, "seed": 3, "pileup": 0,
                    "chunk-events": 10} for name in ("qcd", "res2p")},
    "pretrain": {"strategies": ["supervised"], "data": ["qcd", "res2p"],
                 "options": {"preset": "tiny", "max-steps": 2, "batch-size": 8,
                             "val-every-steps": 1, "checkpoint-every-steps": 1}},
    "transfer": [{"task": "res2p-qcd", "mode": "linear", "backbones": "all",
                  "data": ["qcd", "res2p"], "labels": ["all"], "seeds": 1}],
}


def test_a_tiny_plan_runs_end_to_end_and_resumes(tmp_path, capsys):
    plan = tmp_path / "tiny.yaml"
    plan.write_text(yaml.safe_dump(PLAN, sort_keys=False))
    out = tmp_path / "study"
    t0 = time.time()
    assert main(["study", str(plan), "--out", str(out), "--threads", "1"]) == 0
    seconds = time.time() - t0
    printed = capsys.readouterr().out
    assert seconds < 120, seconds
    for line in ("== generate: 2 of 2 steps to run", "== pretrain-supervised: strategy "
                 "supervised, preset tiny, max-steps 2", "== report: 1 of 1 steps to run",
                 f"report: {out / 'report.html'}"):
        assert line in printed, (line, printed)
    res = json.loads((out / "transfer" / "res2p-qcd" / "supervised-linear" / "results.json")
                     .read_text())
    assert res["task"] == "res2p-qcd" and res["mode"] == "linear"
    assert (out / "runs" / "supervised" / "model.safetensors").is_file()
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    logs = sorted(p.name for p in (out / "logs").glob("*.log"))
    assert logs == ["generate-qcd.log", "generate-res2p.log", "pretrain-supervised.log",
                    "report.log", "transfer-res2p-qcd-supervised-linear.log"]
    assert (out / "logs" / "generate-qcd.log").read_text().startswith("$ jetfm generate")

    # again: every step is finished but the report, which is always rewritten
    assert main(["study", str(plan), "--out", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    for phase, n in (("generate", 2), ("pretrain", 1), ("transfer", 1)):
        assert f"== {phase}: 0 of {n} steps to run" in printed
    assert "== report: 1 of 1 steps to run" in printed

    # --print: the finished commands commented out, nothing run
    assert main(["study", str(plan), "--out", str(out), "--print"]) == 0
    lines = capsys.readouterr().out.splitlines()
    commands = [line for line in lines if not line.startswith("# ==")]
    assert len(commands) == 5
    assert all(line.startswith("# finished: jetfm ") for line in commands[:-1])
    assert commands[-1].startswith("jetfm report ")
