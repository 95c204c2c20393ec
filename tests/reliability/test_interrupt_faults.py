"""A terminated run says so (SIGTERM, a batch system's time limit), checkpoints survive a kill
during their own write, and two pretrain commands never share a run folder."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from jetfm.cli import main
from jetfm.interrupt import EXIT_CODE
from jetfm.pretrain.trainer import AtomicCheckpointIO

from .conftest import one_error_line, pretrain_args, signalling_pretrain
from .test_run_faults import _losses



def _args(data, out, cfg, steps=10):
    return [a for a in pretrain_args([data], out, "--max-steps", str(steps), "--config",
                                     str(cfg)) if a not in ("--strategy", "supervised")]


@pytest.mark.parametrize("at_step", [6, 1])   # after a periodic checkpoint, and before any
def test_sigterm_saves_a_checkpoint_exits_nonzero_and_resumes(sim_jets, tmp_path, at_step):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("log_every_steps: 1\nshuffle_buffer: 64\nstrategy: supervised\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")     # what a batch system's time limit sends:
    proc = subprocess.run([sys.executable, "-c", signalling_pretrain("SIGTERM", at_step),
                           *_args(sim_jets, tmp_path / "t", cfg)],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == EXIT_CODE, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "interrupted (SIGTERM) at step" in last and "re-run the same command" in last, last
    ckpt = torch.load(tmp_path / "t" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] >= at_step        # the state at the interruption, not before
    assert main(_args(sim_jets, tmp_path / "t", cfg)) == 0
    if at_step == 6:    # resumed from the step it stopped at: the uninterrupted run's losses
        assert main(_args(sim_jets, tmp_path / "straight", cfg)) == 0
        assert _losses(tmp_path / "t") == _losses(tmp_path / "straight")


def test_sigterm_in_any_command_is_one_line_and_exit_143(monkeypatch, capsys, tmp_path):
    import jetfm.cli.report as report_cli

    def terminated(args):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not interrupt the command")

    monkeypatch.setattr(report_cli, "run", terminated)
    assert main(["report", "nothing", "--out", str(tmp_path / "r.html")]) == EXIT_CODE
    one_error_line(capsys, "jetfm report: interrupted (SIGTERM)")
    assert signal.getsignal(signal.SIGTERM) is not None   # the previous handler is back


def test_two_pretrain_commands_never_share_a_run_folder(sim_jets, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from jetfm.io import FolderLock
        with FolderLock({str(run)!r}, "jetfm pretrain"):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(pretrain_args([sim_jets], run, "--max-steps", "2")) == 2
        one_error_line(capsys, f"in use by another jetfm pretrain run (PID {holder.pid}")
        assert [p.name for p in run.iterdir()] == [".jetfm.lock"]    # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_a_checkpoint_write_that_dies_keeps_the_previous_one(tmp_path, monkeypatch):
    last = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 4}, last)
    before = last.read_bytes()

    def dies_mid_write(obj, fh, *a, **k):
        fh.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dies_mid_write)
    with pytest.raises(OSError):
        io.save_checkpoint({"global_step": 8}, last)
    assert last.read_bytes() == before
    assert [p.name for p in last.parent.iterdir()] == ["last.ckpt"]   # no temporary left


def test_the_trainer_writes_checkpoints_next_to_the_run(tmp_path):
    from jetfm.pretrain.config import TrainConfig
    from jetfm.pretrain.trainer import build_trainer
    trainer = build_trainer(TrainConfig(max_steps=1, accelerator="cpu"), tmp_path, {},
                            progress=False)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
