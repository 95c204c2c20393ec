"""Study plans: every mistake is one line naming the plan key; paired data follows what a
strategy declares (registry `pair_by`), never its name; the built-in plans expand to command
lines that `jetfm` accepts."""
import dataclasses
from pathlib import Path

import pytest
import yaml

from jetfm.cli import main
from jetfm.cli.study import check_commands
from jetfm.errors import ConfigError
from jetfm.pretrain.registry import REGISTRY
from jetfm.study import builtin_plans, load_plan, parse_plan, plan_steps


def base() -> dict:
    return {"data": {"qcd": {"sample": "qcd", "jets": 60},
                     "qcd_resim": {"sample": "qcd", "jets": 60, "resim": 2}},
            "pretrain": {"data": ["qcd"], "paired": ["qcd_resim"],
                         "options": {"preset": "tiny", "max-steps": 4}},
            "transfer": [{"task": "res2p-qcd", "backbones": ["all", "random"],
                          "data": ["qcd"]}]}


def edited(path: str, value):
    plan = base()
    *parents, last = path.split(".")
    node = plan
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return plan


@pytest.mark.parametrize("path, value, needle", [
    ("datas", {}, "datas: unknown key"),
    ("data.qcd.jets", KeyError, "data.qcd.jets: missing"),
    ("data.qcd.workers", 4, "data.qcd.workers: not allowed here"),
    ("data.qcd.out", "x", "data.qcd.out: not allowed here"),
    ("data.qcd.mass-range", {"lo": 1}, "data.qcd.mass-range: expected a value"),
    ("data", {"../x": {"sample": "qcd", "jets": 1}}, "data.../x: a data name is"),
    ("pretrain.options.lr", 0.1, "pretrain.options.lr: not allowed here: a plan sets only "
                                 "the options every strategy shares"),
    ("pretrain.options.set", ["optimizer.lr=1"], "pretrain.options.set: not allowed here"),
    ("pretrain.strategies", ["supervised", "sophon"],
     "pretrain.strategies: unknown strategy 'sophon'"),
    ("pretrain.data", ["qcd", "nope"], "pretrain.data: no data entry 'nope'"),
    ("pretrain.paired", ["qcd"], "pretrain.paired: data 'qcd' holds no re-simulated pairs"),
    ("pretrain.runs", {"random": {"strategy": "mpm"}}, "pretrain.runs.random: run name"),
    ("pretrain.runs", {"big": {"strategy": "mpm", "options": {"lr": 1}}},
     "pretrain.runs.big.options.lr: not allowed here"),
    ("transfer.0.task", "tagging11", "transfer[0].task: unknown task 'tagging11'"),
    ("transfer.0.mode", "probe", "transfer[0].mode: unknown mode 'probe'"),
    ("transfer.0.backbones", ["suprevised"], "transfer[0].backbones: no pre-training run "
                                             "'suprevised'"),
    ("transfer.0.backbones", ["scratch"], "transfer[0]: backbone 'scratch' with mode 'linear'"),
    ("transfer.0.data", ["qcd/../../etc"], "transfer[0].data: 'qcd/../../etc' is not a data"),
    ("transfer.0.labels", [10, 0], "transfer[0].labels: expected jets per class"),
    ("transfer.0.seeds", "three", "transfer[0].seeds: expected an integer"),
    ("transfer.0.options", {"seeds": 3}, "transfer[0].options.seeds: not allowed here: give "
                                         "it as the plan key 'seeds'"),
    ("transfer.0.representation", "pooled", "transfer[0].representation: unknown "
                                            "representation 'pooled'"),
    ("transfer.0.oops", 1, "transfer[0].oops: unknown key"),
    ("evaluate", [{"run": "clip", "out": "/abs"}], "evaluate[0].out: expected a path inside"),
    ("evaluate", [{"run": "nope"}], "evaluate[0].run: no pre-training run 'nope'"),
    ("anomaly", [{"method": "cwola", "data": ["qcd"], "inputs": ["embedding:nope"]}],
     "anomaly[0].inputs: no pre-training run 'nope'"),
    ("anomaly", [{"method": "fit"}], "anomaly[0].method: expected one of"),
])
def test_a_plan_mistake_is_one_line_naming_its_key(path, value, needle):
    with pytest.raises(ConfigError) as err:
        parse_plan(edited(path, value), "mine")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("plan mine: ") and needle in message, message


def test_two_jobs_writing_one_folder_and_network_modes_with_a_representation():
    plan = base()
    plan["transfer"].append({"task": "res2p-qcd", "backbones": "random", "data": ["qcd"],
                             "labels": [10]})
    with pytest.raises(ConfigError, match=r"transfer\[1\]: writes transfer/res2p-qcd/"
                                          r"random-linear, as transfer\[0\] does"):
        parse_plan(plan, "mine")
    plan["transfer"][1] = {"task": "res2p-qcd", "mode": "finetune", "backbones": "supervised",
                           "data": ["qcd"], "representation": "mean"}
    with pytest.raises(ConfigError, match=r"transfer\[1\].representation: only the frozen"):
        parse_plan(plan, "mine")


def test_strategies_omitted_means_every_registered_strategy():
    plan = parse_plan(base(), "mine")
    assert [r.strategy for r in plan.runs.values()] == list(REGISTRY)
    names = [j.out for j in plan.jobs]
    assert names == [f"transfer/res2p-qcd/{s}-linear" for s in (*REGISTRY, "random")]


def test_paired_data_follows_the_declared_pair_by_not_the_name(monkeypatch):
    # a new strategy that declares pairs reads them; resim without its declaration does not
    monkeypatch.setitem(REGISTRY, "twins", dataclasses.replace(REGISTRY["resim"]))
    monkeypatch.setitem(REGISTRY, "resim", dataclasses.replace(REGISTRY["resim"],
                                                               pair_by=None))
    runs = parse_plan(base(), "mine").runs
    assert runs["twins"].data == ("qcd_resim",) and runs["resim"].data == ("qcd",)
    assert runs["supervised"].data == ("qcd",)
    plan = base()
    del plan["pretrain"]["paired"]        # no paired data named: the ones in data that are
    with pytest.raises(ConfigError, match="strategy 'twins' needs re-simulated pairs"):
        parse_plan(plan, "mine")
    plan["pretrain"]["data"] = ["qcd_resim"]      # every strategy on the paired set
    assert {r.data for r in parse_plan(plan, "mine").runs.values()} == {("qcd_resim",)}


def test_a_plan_file_that_is_not_yaml_or_not_there(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    for name, needle in ((str(bad), "not valid YAML"), (str(tmp_path / "none.yaml"),
                                                         "cannot read it"),
                         ("quickstrat", "not a built-in plan (quickstart, ")):
        with pytest.raises(ConfigError, match=r"plan .*" + needle.replace("(", r"\(")) as err:
            load_plan(name)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", builtin_plans())
def test_every_builtin_plan_expands_to_command_lines_jetfm_accepts(name):
    plan = load_plan(name)
    steps = plan_steps(plan, Path("/study"))
    check_commands(plan, steps)
    assert steps[-1].id == "report" and len({s.id for s in steps}) == len(steps)
    assert {s.phase for s in steps if s.command == "pretrain"} == {"pretrain"}
    for run in plan.runs.values():     # pairs by declaration in every built-in plan too
        paired = [plan.paired(d) for d in run.data]
        if REGISTRY[run.strategy].pair_by:
            assert all(paired), (name, run)
        elif name != "ssl-study":          # there every pre-training set is paired
            assert not any(paired), (name, run)


def test_builtin_quickstart_plans_keep_what_ci_checks():
    assert {"quickstart", "quickstart-fast", "quickstart-full", "transfer-study",
            "ssl-study"} <= set(builtin_plans())
    for name in ("quickstart", "quickstart-fast", "quickstart-full"):
        outs = {j.kind: j.out for j in load_plan(name).jobs if j.kind != "transfer"}
        assert outs == {"evaluate": "eval", "export": "runs/supervised/model.onnx"}


def test_a_misspelt_option_is_refused_before_anything_runs(tmp_path, capsys):
    plan = base()
    plan["data"]["qcd"]["jets-per-fil"] = 5      # a prefix: argparse would take it
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(plan))
    assert main(["study", str(path), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "plan typo: data.qcd: jetfm: error: unrecognized arguments: --jets-per-fil 5" in err
    assert not (tmp_path / "s").exists()


def test_anomaly_evaluate_and_export_steps_read_the_plans_runs_and_data():
    plan = base()
    plan["data"]["dark"] = {"sample": "darkjet", "jets": 60}
    plan["evaluate"] = ["supervised"]
    plan["export"] = [{"run": "clip", "out": "onnx/clip.onnx"}]
    plan["anomaly"] = [{"method": "autoencoder", "background": ["qcd"],
                        "signal": {"darkA": "dark"}, "inputs": ["embedding:mpm"]}]
    parsed = parse_plan(plan, "mine")
    steps = {s.id: s for s in plan_steps(parsed, Path("/study"))}
    check_commands(parsed, steps.values())
    ae = steps["anomaly-autoencoder"]
    assert ae.argv == ("anomaly", "autoencoder", "--background", "/study/data/qcd", "--signal",
                       "darkA=/study/data/dark", "--inputs", "embedding:/study/runs/mpm",
                       "--out", "/study/anomaly/autoencoder")
    assert ae.needs == ("generate-qcd", "generate-dark", "pretrain-mpm")
    assert ae.marker == Path("/study/anomaly/autoencoder/results.json")
    assert steps["evaluate-eval-supervised"].marker == Path("/study/eval/supervised/results.json")
    assert steps["export-clip"].marker == Path("/study/onnx/clip.onnx")
    assert steps["export-clip"].phase == "evaluate"
    assert steps["report"].argv[1:4] == ("/study/runs", "/study/eval/supervised",
                                         "/study/transfer")


def test_two_entries_whose_steps_share_a_log_name_are_refused():
    plan = base()
    plan["data"]["pt/qcd"] = plan["data"]["pt-qcd"] = {"sample": "qcd", "jets": 60}
    with pytest.raises(ConfigError, match="plan mine: data.pt-qcd and data.pt/qcd: both make "
                                          "a step named generate-pt-qcd"):
        plan_steps(parse_plan(plan, "mine"), Path("/study"))
