"""`jetfm quickstart` is a built-in plan run by the study runner: its sizes name the plans,
its steps run in this process with their output shown, and it ends saying where the report
is."""
import jetfm.study
from jetfm.cli import main


def test_quickstart_runs_its_plan_in_process(tmp_path, monkeypatch, capsys):
    seen = {}

    def run_study(plan, out, **kw):
        seen.update(plan=plan.name, out=out, **kw)
        return tmp_path / "qs" / "report.html"

    monkeypatch.setattr(jetfm.study, "run_study", run_study)
    for argv, name in (([], "quickstart"), (["--fast"], "quickstart-fast"),
                       (["--full"], "quickstart-full")):
        assert main(["quickstart", "--out", str(tmp_path / "qs"), "--workers", "3",
                     *argv]) == 0
        assert seen["plan"] == name and seen["out"] == str(tmp_path / "qs")
        assert seen["jobs"] == 1 and seen["workers"] == 3 and seen["echo"] is True
        assert seen["main"] is main
        printed = capsys.readouterr().out
        assert f"quickstart done; open the report: {tmp_path / 'qs' / 'report.html'}" in printed
    assert main(["quickstart", "--out", str(tmp_path / "qs"), "--no-progress"]) == 0
    assert seen["echo"] is False


def test_quickstart_threads_reach_every_step(tmp_path, monkeypatch, capsys):
    # the steps get --threads of their own (the study's CPU share): quickstart's --threads
    # must be that share, or `--threads 1` on a loaded machine is silently ignored
    seen = {}
    monkeypatch.setattr(jetfm.study, "run_study",
                        lambda plan, out, **kw: seen.update(kw) or tmp_path / "report.html")
    assert main(["quickstart", "--fast", "--out", str(tmp_path / "qs"), "--threads", "1"]) == 0
    assert seen["cpus"] == 1
    assert main(["quickstart", "--fast", "--out", str(tmp_path / "qs")]) == 0
    assert seen["cpus"] is None      # the study's default: the CPUs this process may use
