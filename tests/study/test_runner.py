"""The study runner with stand-in commands (no physics): phases in order, N steps at a time
with CPUs/N threads each, finished steps skipped, changed ones and what reads them rerun, a
failure one line naming the step and its log, --print."""
import json
import sys
from pathlib import Path

import pytest

from jetfm.errors import ConfigError
from jetfm.study import StepFailed, parse_plan, run_study
from jetfm.study import runner

# a stand-in for `jetfm COMMAND ...`: notes when it starts and ends, sleeps, writes the output
# the runner looks for (or fails when its --out holds $FAKE_FAIL)
FAKE = r"""
import json, os, sys, time
from pathlib import Path
args = sys.argv[1:]
out = Path(args[args.index("--out") + 1])
def note(what):
    with open(os.environ["FAKE_EVENTS"], "a") as f:
        f.write(json.dumps([what, args[0], str(out), time.time()]) + "\n")
note("start")
print("working on", out.name)
time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
if os.environ.get("FAKE_FAIL") and os.environ["FAKE_FAIL"] in str(out):
    print("boom: it failed")
    sys.exit(3)
marker = {"generate": out / "generate_config.yaml", "pretrain": out / "model.safetensors",
          "transfer": out / "results.json", "report": out}[args[0]]
marker.parent.mkdir(parents=True, exist_ok=True)
marker.write_text("files: []\n" if args[0] == "generate" else "{}")
note("end")
"""

PLAN = {"data": {name: {"sample": "qcd", "jets": 10} for name in ("a", "b", "c", "d")},
        "pretrain": {"strategies": ["supervised", "mpm"], "data": ["a", "b"],
                     "options": {"max-steps": 4}},
        "transfer": [{"task": "res2p-qcd", "backbones": ["all", "random"], "data": ["c"]}]}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Steps run FAKE instead of jetfm; returns a reader of the events it noted."""
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("FAKE_EVENTS", str(events))
    monkeypatch.setattr(runner, "process_command",
                        lambda cmd: [sys.executable, str(script), *cmd[1:]])

    def read():
        if not events.exists():
            return []
        return [json.loads(line) for line in events.read_text().splitlines()]
    return read


def spans(events):
    """{(command, out): (start, end)}"""
    out = {}
    for what, command, path, t in events:
        out.setdefault((command, path), {})[what] = t
    return {k: (v["start"], v.get("end")) for k, v in out.items()}


def test_phases_run_in_order_n_steps_at_a_time_then_are_skipped(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("FAKE_SLEEP", "1")
    said = []
    report = run_study(parse_plan(PLAN, "p"), tmp_path / "s", jobs=2, cpus=4, say=said.append)
    assert report == tmp_path / "s" / "report.html" and report.is_file()
    runs = spans(fake())
    assert len(runs) == 4 + 2 + 3 + 1
    by_command = {c: [v for (cmd, _), v in runs.items() if cmd == c]
                  for c in ("generate", "pretrain", "transfer", "report")}
    order = list(by_command.values())
    for before, after in zip(order, order[1:]):     # a phase starts when the last one ended
        assert max(end for _, end in before) <= min(start for start, _ in after)
    for group in order:                             # never more than 2 at once, 2 reached
        points = sorted([(s, 1) for s, _ in group] + [(e, -1) for _, e in group])
        level, peak = 0, 0
        for _, step in points:
            level += step
            peak = max(peak, level)
        assert peak == min(2, len(group)), group
    log = (tmp_path / "s" / "logs" / "generate-a.log").read_text()
    assert log.startswith("$ jetfm generate --sample qcd --jets 10 --out ")
    assert "--threads 2 --workers 2 --no-progress" in log and "working on a" in log
    assert "\n== generate: 4 of 4 steps to run, 2 at a time" in said
    assert "== transfer-res2p-qcd-random-linear: res2p-qcd, backbone random, mode linear" \
        in said

    said.clear()
    run_study(parse_plan(PLAN, "p"), tmp_path / "s", jobs=2, cpus=4, say=said.append)
    assert [line for line in said if "steps to run" in line] == [
        "\n== generate: 0 of 4 steps to run", "\n== pretrain: 0 of 2 steps to run",
        "\n== transfer: 0 of 3 steps to run", "\n== report: 1 of 1 steps to run"]
    assert len(fake()) == 2 * (10 + 1)              # only the report ran again


def test_a_changed_step_and_what_reads_it_run_again(tmp_path, fake):
    study = tmp_path / "s"
    run_study(parse_plan(PLAN, "p"), study, say=lambda line: None)
    ran = len(spans(fake()))

    def rerun(plan):
        before = len(fake())
        printed = []
        run_study(parse_plan(plan, "p"), study, dry=True, say=printed.append)
        run_study(parse_plan(plan, "p"), study, say=lambda line: None)
        new = sorted({(c, p.rsplit("/", 1)[-1]) for _w, c, p, _t in fake()[before:]})
        to_run = [line for line in printed if line.startswith("jetfm ")]
        assert len(to_run) == len(new), (printed, new)
        return new

    changed = json.loads(json.dumps(PLAN))
    changed["pretrain"]["runs"] = {"mpm": {"strategy": "mpm", "options": {"max-steps": 8}}}
    changed["pretrain"]["strategies"] = ["supervised"]
    assert rerun(changed) == [("pretrain", "mpm"), ("report", "report.html"),
                              ("transfer", "mpm-linear")]
    (study / "transfer" / "res2p-qcd" / "random-linear" / "results.json").unlink()
    assert rerun(changed) == [("report", "report.html"), ("transfer", "random-linear")]
    # a file that generate recorded is missing: generate again, and everything reading c
    (study / "data" / "c" / "generate_config.yaml").write_text("files: [c_00000.parquet]\n")
    assert rerun(changed) == [("generate", "c"), ("report", "report.html"),
                              ("transfer", "mpm-linear"), ("transfer", "random-linear"),
                              ("transfer", "supervised-linear")]
    assert ran == 10


def test_a_failed_step_stops_its_phase_with_one_line(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "/data/b")
    said = []
    with pytest.raises(StepFailed) as err:
        run_study(parse_plan(PLAN, "p"), tmp_path / "s", say=said.append)
    log = tmp_path / "s" / "logs" / "generate-b.log"
    assert str(err.value) == (f"step generate-b (data.b) failed (exit 3): boom: it failed; "
                              f"log: {log}")
    assert [p.rsplit("/", 1)[-1] for what, _, p, _t in fake() if what == "start"] == ["a", "b"]
    assert any(line.startswith("   generate-b: FAILED (exit 3) after ") for line in said)
    assert not (tmp_path / "s" / "runs").exists()

    monkeypatch.delenv("FAKE_FAIL")     # fixed: the finished step is not run again
    before = len(fake())
    run_study(parse_plan(PLAN, "p"), tmp_path / "s", say=said.append)
    started = [p.rsplit("/", 1)[-1] for what, c, p, _t in fake()[before:]
               if what == "start" and c == "generate"]
    assert started == ["b", "c", "d"]


def test_in_process_steps_log_their_output_and_stop_on_failure(tmp_path):
    calls = []

    def main(argv):
        calls.append(argv[0])
        out = Path(argv[argv.index("--out") + 1])
        print(f"made {out}")
        if argv[0] == "pretrain":
            print("jetfm pretrain: error: no jets", file=sys.stderr)
            return 2
        out.mkdir(parents=True)
        (out / "generate_config.yaml").write_text("files: []\n")
        return 0

    with pytest.raises(StepFailed, match=r"^step pretrain-supervised \(pretrain \(run "
                                         r"supervised\)\) failed \(exit 2\): jetfm pretrain: "
                                         r"error: no jets; log: .*pretrain-supervised.log$"):
        run_study(parse_plan(PLAN, "p"), tmp_path / "s", main=main, say=lambda line: None)
    assert calls == ["generate"] * 4 + ["pretrain"]
    log = (tmp_path / "s" / "logs" / "generate-a.log").read_text().splitlines()
    assert log[0].startswith("$ jetfm generate") and log[1] == f"made {tmp_path}/s/data/a"


def test_print_runs_nothing_and_the_folder_is_claimed_for_one_plan(tmp_path, fake):
    said = []
    run_study(parse_plan(PLAN, "p"), tmp_path / "s", dry=True, jobs=2, cpus=2,
              say=said.append)
    assert not (tmp_path / "s").exists() and fake() == []
    assert said[0] == "# == generate: 4 of 4 steps to run"
    assert said[1].startswith("jetfm generate --sample qcd --jets 10 --out ")
    assert said[1].endswith(" --threads 1 --workers 1 --no-progress")
    assert sum(line.startswith("jetfm ") for line in said) == 10

    run_study(parse_plan(PLAN, "p"), tmp_path / "s", say=lambda line: None)
    with pytest.raises(ConfigError, match="holds the results of another jetfm study job "
                                          r"\(different plan\)"):
        run_study(parse_plan(PLAN, "other"), tmp_path / "s", say=lambda line: None)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty and was not written by jetfm study"):
        run_study(parse_plan(PLAN, "p"), tmp_path / "mine", dry=True, say=lambda line: None)
    with pytest.raises(ConfigError, match="--jobs must be >= 1"):
        run_study(parse_plan(PLAN, "p"), tmp_path / "t", jobs=0)
