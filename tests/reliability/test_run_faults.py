"""Run directories under faults: other working directories, users' files in the way, exact
resume after kill -9, corrupt checkpoints, impossible settings. Each test failed on the code
before its fix."""
from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest
import torch
import yaml

from jetfm.cli import main
from jetfm.run_logs import csv_logs

from .conftest import one_error_line, pretrain_args, read_only, signalling_pretrain


# --- 6. evaluate reads the run's own files, from any working directory ---------------------------

def test_evaluate_from_another_folder_uses_the_runs_absolute_paths(trained_run, tmp_path,
                                                                   sim_jets, monkeypatch):
    cfg = yaml.safe_load((trained_run / "config.yaml").read_text())
    test_files = cfg["splits"]["test"]
    assert test_files and all(os.path.isabs(f) for f in test_files)
    assert all(os.path.isabs(d) for d in cfg["train"]["data"])
    # a look-alike folder: the run's relative paths would point at other (training) files
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(sim_jets, elsewhere / "data")
    monkeypatch.chdir(elsewhere)
    assert main(["evaluate", str(trained_run), "--out", "eval", "--no-progress"]) == 0
    res = json.loads((elsewhere / "eval" / "results.json").read_text())
    assert res["data"] == test_files
    assert res["run_dir"] == str(trained_run)


# --- 7. users' files are never replaced -----------------------------------------------------------

def test_pretrain_refuses_a_folder_that_is_not_a_run(sim_jets, tmp_path, capsys):
    mine = tmp_path / "analysis"
    mine.mkdir()
    (mine / "config.yaml").write_text("my: settings\n")
    assert main(pretrain_args([sim_jets], mine, "--max-steps", "2")) == 2
    one_error_line(capsys, "not empty and is not a jetfm run")
    assert (mine / "config.yaml").read_text() == "my: settings\n"
    assert sorted(p.name for p in mine.iterdir()) == ["config.yaml"]


def test_export_never_replaces_a_file_it_did_not_write(trained_run, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("do not lose me")
    assert main(["export", str(trained_run), "--out", str(notes)]) == 2
    one_error_line(capsys, "not an ONNX file written by jetfm", "--force")
    assert notes.read_text() == "do not lose me"
    onnx = tmp_path / "model.onnx"
    assert main(["export", str(trained_run), "--out", str(onnx)]) == 0
    assert main(["export", str(trained_run), "--out", str(onnx)]) == 0   # ours: replaced
    assert main(["export", str(trained_run), "--out", str(notes), "--force"]) == 0
    assert notes.read_bytes()[:2] != b"do"


# --- 8. resume after kill -9 continues on the uninterrupted path ---------------------------------

KILLER = signalling_pretrain("SIGKILL", 6)     # kill -9 after step 6 (last checkpoint: step 4)


def _losses(run) -> dict[int, float]:
    out = {}
    for log in csv_logs(run):
        for row in csv.DictReader(log.open()):
            if row.get("train/loss"):
                out[int(row["step"])] = float(row["train/loss"])
    return out


@pytest.mark.parametrize("strategy", ["supervised", "autoencoder"])
def test_resume_after_kill_is_the_uninterrupted_run(sim_jets, tmp_path, strategy):
    cfg = tmp_path / "log_every_step.yaml"
    cfg.write_text(f"log_every_steps: 1\nshuffle_buffer: 64\nstrategy: {strategy}\n")
    args = lambda out, steps: [a for a in pretrain_args([sim_jets], out, "--max-steps",
                                                        str(steps), "--config", str(cfg))
                               if a not in ("--strategy", "supervised")]
    assert main(args(tmp_path / "straight", 10)) == 0

    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", KILLER, *args(tmp_path / "killed", 10)],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-2000:]
    ckpt = torch.load(tmp_path / "killed" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 4
    assert main(args(tmp_path / "killed", 10)) == 0

    straight, killed = _losses(tmp_path / "straight"), _losses(tmp_path / "killed")
    resumed = _losses_of_last_invocation(tmp_path / "killed")
    assert min(resumed) == 4, "the resumed run starts with the step after the checkpoint"
    assert sorted(straight) == list(range(10))
    for step in range(10):   # bit for bit: same batches, same dropout, same optimiser state
        assert killed[step] == straight[step], (step, killed[step], straight[step])
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "killed" / "checkpoints" / "last.ckpt", weights_only=False)
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k


def _losses_of_last_invocation(run) -> dict[int, float]:
    log = csv_logs(run)[-1]
    return {int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(log.open())
            if r.get("train/loss")}


# --- checkpoints that cannot be trusted -----------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickle"])
def test_a_bad_checkpoint_is_one_clear_error(trained_run, sim_jets, tmp_path, capsys, damage):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    last = run / "checkpoints" / "last.ckpt"
    if damage == "truncated":
        last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    elif damage == "garbage":
        last.write_bytes(b"\x00" * 1000)
    else:   # a pickle that would run code when loaded without weights_only
        torch.save({"state_dict": {}, "global_step": 1, "loops": {}, "evil": os.system}, last)
    cfg = yaml.safe_load((run / "config.yaml").read_text())["train"]
    assert main(pretrain_args(cfg["data"], run, "--max-steps", "8")) == 2
    one_error_line(capsys, "last.ckpt", "cannot resume")


# --- tracebacks that are now one line ----------------------------------------------------------

def test_impossible_settings_are_one_line(trained_run, sim_jets, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    cases = [
        (pretrain_args([sim_jets], tmp_path / "file", "--max-steps", "2"), "file"),
        (["inspect", str(sim_jets), "--out", str(tmp_path / "file")], "not a folder"),
        (["quickstart", "--out", str(tmp_path / "file")], "not a folder"),
        (["quickstart", "--workers", "0", "--out", str(tmp_path / "qs")], "--workers"),
        (["evaluate", str(trained_run), "--out", str(tmp_path / "file")], "not a folder"),
        (["evaluate", str(tmp_path), "--out", str(tmp_path / "e")], "config.yaml"),
    ]
    if not torch.cuda.is_available():
        cases.append((pretrain_args([sim_jets], tmp_path / "g", "--max-steps", "2",
                                    "--accelerator", "gpu"), "no CUDA GPU"))
    for argv, needle in cases:
        assert main(argv) == 2, argv
        one_error_line(capsys, needle)
    assert not (tmp_path / "qs").exists() and not (tmp_path / "g").exists()


def test_evaluate_with_one_jet_or_one_label(trained_run, tmp_path, capsys):
    assert main(["evaluate", str(trained_run), "--out", str(tmp_path / "one"), "--max-jets",
                 "1", "--no-progress"]) == 0
    assert "macro AUC -" in capsys.readouterr().out
    res = json.loads((tmp_path / "one" / "results.json").read_text())
    assert res["n_jets"] == 1 and res["auc_macro"] is None


@pytest.mark.parametrize("command", ["generate", "inspect", "evaluate", "export", "pretrain"])
def test_out_inside_a_read_only_folder(trained_run, sim_jets, tmp_path, capsys, command):
    ro = tmp_path / "ro"
    argv = {"generate": ["generate", "--sample", "qcd", "--jets", "5", "--out", str(ro / "x")],
            "inspect": ["inspect", str(sim_jets), "--out", str(ro / "x")],
            "evaluate": ["evaluate", str(trained_run), "--out", str(ro / "x"), "--no-progress"],
            "export": ["export", str(trained_run), "--out", str(ro / "x.onnx")],
            "pretrain": pretrain_args([sim_jets], ro / "x", "--max-steps", "2")}[command]
    with read_only(ro):
        assert main(argv) == 2
        one_error_line(capsys, "not writable")
    assert not list(ro.iterdir())


def test_run_files_are_world_readable_like_everything_else(trained_run):
    umask = os.umask(0)
    os.umask(umask)
    want = 0o666 & ~umask
    for name in ("model.safetensors", "config.yaml"):
        assert stat.S_IMODE((trained_run / name).stat().st_mode) == want, name


def test_nan_model_outputs_name_the_files(trained_run, tmp_path, capsys):
    from jetfm.models.export import save_checkpoint
    from jetfm.pretrained import open_run
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    loaded = open_run(run)
    model, config = loaded.model, loaded.config
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    save_checkpoint(model, config, run / "model.safetensors")
    assert main(["evaluate", str(run), "--out", str(tmp_path / "e"), "--no-progress"]) == 2
    test_file = yaml.safe_load((run / "config.yaml").read_text())["splits"]["test"][0]
    one_error_line(capsys, "NaN/inf class probabilities", "jet #0", test_file)
    assert not (tmp_path / "e").exists()


def test_a_diverging_run_is_one_line_and_leaves_nothing(sim_jets, tmp_path, capsys):
    """--lr 1e30 used to end in a FloatingPointError traceback."""
    out = tmp_path / "nan"
    assert main(pretrain_args([sim_jets], out, "--max-steps", "20", "--lr", "1e30")) == 2
    err = one_error_line(capsys, "try a lower learning rate", "1e+30")
    assert "became nan" in err or "became inf" in err
    assert not out.exists()


def test_a_resumed_run_keeps_its_splits_and_settings(sim_jets, tmp_path, capsys, caplog):
    """Files added to --data after the first start used to move files between splits on
    resume; a changed --batch-size or strategy option used to rewrite config.yaml first."""
    import shutil
    data = tmp_path / "data"
    shutil.copytree(sim_jets, data)
    out = tmp_path / "run"
    assert main(pretrain_args([data], out, "--max-steps", "4")) == 0
    before = yaml.safe_load((out / "config.yaml").read_text())["splits"]
    shutil.copy(data / "qcd" / "qcd_00000.parquet", data / "qcd" / "qcd_00009.parquet")
    with caplog.at_level("WARNING", logger="jetfm.pretrain.run"):
        assert main(pretrain_args([data], out, "--max-steps", "8")) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["splits"] == before
    assert any("are ignored" in r.getMessage() and "qcd_00009" in r.getMessage()
               for r in caplog.records)
    config = (out / "config.yaml").read_text()
    for extra in (["--batch-size", "8"], ["--set", "seed=2"]):
        args = [a for a in pretrain_args([data], out, "--max-steps", "12", *extra)]
        if extra[0] == "--batch-size":
            i = args.index("--batch-size")
            del args[i:i + 2]
            args += extra
        assert main(args) == 2
        assert (out / "config.yaml").read_text() == config
        one_error_line(capsys, "different")
