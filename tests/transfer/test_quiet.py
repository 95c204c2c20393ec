"""`jetfm transfer` in a network mode prints no Lightning warning about modules in eval mode
(the frozen backbone is in eval mode on purpose during the probe phase, LoRA's base always),
nor Lightning's INFO lines about accelerators."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest



@pytest.fixture(scope="module")
def backbone_run(tiny_run):
    return tiny_run


@pytest.mark.parametrize("mode", ["finetune", "lora"])
def test_network_modes_print_no_eval_mode_warning(backbone_run, sim_jets, tmp_path, mode):
    # a real process: what a user sees on the terminal, not what pytest's warning capture keeps
    argv = [sys.executable, "-m", "jetfm.cli", "transfer", "--backbone", str(backbone_run),
            "--task", "res2p-qcd", "--mode", mode, "--data", str(sim_jets), "--out",
            str(tmp_path / mode), "--labels-per-class", "5", "--seeds", "1", "--steps", "3",
            "--probe-steps", "1", "--batch-size", "8", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="default")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = proc.stdout + proc.stderr
    assert "eval mode" not in printed, printed[-2000:]
    assert "GPU available" not in printed, printed[-2000:]    # Lightning's INFO lines
    assert (tmp_path / mode / "results.json").is_file()
