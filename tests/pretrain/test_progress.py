"""The training bar counts optimizer steps out of max_steps, and a resumed run's bar starts at
the step it resumes from (Lightning's own bar lost its total on resume: "7/?")."""
from __future__ import annotations

import re

import torch

from jetfm.cli import main
from tests.reliability.conftest import pretrain_args

torch.set_num_threads(1)


def _train_bar(text: str) -> list[tuple[int, str]]:
    """(steps done, total) of every state the training bar printed."""
    return [(int(n), total) for n, total in
            re.findall(r"Training:[^\r\n|]*\|[^|]*\| *(\d+)/(\S+) ", text.replace("\r", "\n"))]


def test_a_resumed_run_shows_its_steps_out_of_max_steps(sim_jets, tmp_path, capsys):
    cfg = tmp_path / "log_every_step.yaml"
    cfg.write_text("log_every_steps: 1\n")     # the bar refreshes at every step

    def run(steps):
        argv = [a for a in pretrain_args([sim_jets], tmp_path / "run", "--max-steps",
                                         str(steps), "--config", str(cfg))
                if a != "--no-progress"]
        assert main(argv) == 0
        captured = capsys.readouterr()
        return _train_bar(captured.out + captured.err)

    first = run(4)
    assert first[0] == (0, "4") and first[-1] == (4, "4")
    resumed = run(6)      # resumes from step 4 (the last checkpoint)
    assert resumed, "no training bar printed"
    assert {total for _, total in resumed} == {"6"}, resumed
    assert resumed[0] == (4, "6") and resumed[-1] == (6, "6")
    assert [n for n, _ in resumed] == sorted(n for n, _ in resumed)
