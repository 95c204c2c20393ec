"""`jetfm pretrain --strategy supervised` end to end on simulated jets: outputs, resume after a
kill, clear errors for bad data and bad settings; then evaluate and export of the run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from jetfm.cli import main
from jetfm.errors import ConfigError
from jetfm.pretrain.config import load_train_config

torch.set_num_threads(1)


def _args(data, out, *extra):
    return ["pretrain", "--strategy", "supervised", "--data", *map(str, data), "--preset",
            "tiny", "--batch-size", "16", "--out", str(out), "--no-progress",
            "--val-every-steps", "4", "--checkpoint-every-steps", "2", "--data-config",
            "jetclass2", *extra]


@pytest.fixture(scope="module")
def run_dir(sim_jets, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(_args([sim_jets / "qcd", sim_jets / "res2p"], out, "--max-steps", "6")) == 0
    return out


def test_run_dir_holds_config_weights_checkpoint_and_logs(run_dir):
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert cfg["train"]["strategy"] == "supervised" and cfg["train"]["max_steps"] == 6
    assert cfg["model"]["num_classes"] == 188 and len(cfg["label_names"]) == 188
    assert cfg["splits"]["train"] and cfg["splits"]["val"] and cfg["splits"]["test"]
    assert set(cfg["splits"]["train"]).isdisjoint(cfg["splits"]["test"])
    assert (run_dir / "model.safetensors").is_file()
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 6
    assert (run_dir / "logs" / "csv-0" / "metrics.csv").is_file()


def test_rerun_resumes_and_continues_the_step_count(run_dir, sim_jets):
    assert main(_args([sim_jets / "qcd", sim_jets / "res2p"], run_dir, "--max-steps", "8")) == 0
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 8


# Resume after kill -9 (bit-for-bit equal to an unbroken run): tests/reliability/test_run_faults.py


def test_changing_the_model_of_an_existing_run_is_refused(run_dir, sim_jets, capsys):
    assert main(_args([sim_jets / "qcd", sim_jets / "res2p"], run_dir, "--max-steps", "8",
                      "--seed", "5")) == 2
    assert "different seed" in capsys.readouterr().err


def test_nan_input_gives_a_clear_error(sim_jets, tmp_path, capsys):
    data = tmp_path / "bad"
    data.mkdir()
    for i, f in enumerate(sorted((sim_jets / "qcd").glob("*.parquet"))):
        t = pq.read_table(f)
        if i == 0:
            px = t.column("part_px").combine_chunks()
            vals = px.values.to_numpy(zero_copy_only=False).copy()
            vals[3] = float("nan")
            t = t.set_column(t.schema.get_field_index("part_px"), "part_px",
                             pa.ListArray.from_arrays(px.offsets, pa.array(vals)))
        pq.write_table(t, data / f.name)
    rc = main(_args([data], tmp_path / "out" / "run", "--max-steps", "3"))
    err = capsys.readouterr().err
    assert rc == 2 and "part_px" in err and "qcd_00000.parquet" in err
    assert not (tmp_path / "out").exists()  # failed before any checkpoint: nothing left


def test_wrong_schema_gives_a_clear_error(sim_jets, tmp_path, capsys):
    data = tmp_path / "bad"
    data.mkdir()
    for f in sorted((sim_jets / "qcd").glob("*.parquet")):
        pq.write_table(pq.read_table(f).drop(["part_d0val"]), data / f.name)
    rc = main(_args([data], tmp_path / "run", "--max-steps", "3"))
    err = capsys.readouterr().err
    assert rc == 2 and "part_d0val" in err
    assert not (tmp_path / "run").exists()


def test_a_bad_validation_or_test_file_is_refused_before_training(sim_jets, tmp_path, capsys):
    bad = tmp_path / "extra.parquet"
    first = sorted((sim_jets / "res2p").glob("*.parquet"))[0]
    pq.write_table(pq.read_table(first).drop(["part_energy"]), bad)
    rc = main(_args([sim_jets / "qcd", sim_jets / "res2p", bad], tmp_path / "run",
                    "--max-steps", "3"))
    assert rc == 2 and "extra.parquet: column 'part_energy' is missing" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_too_few_jets_for_a_batch_names_the_batch_size(sim_jets, tmp_path, capsys):
    rc = main(_args([sim_jets / "qcd", sim_jets / "res2p"], tmp_path / "run", "--max-steps",
                    "3", "--batch-size", "100000"))
    err = capsys.readouterr().err
    assert rc == 2 and "--batch-size 100000" in err and "training jets" in err
    assert not (tmp_path / "run").exists()


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="max_steps"):
        load_train_config(data=["x"], max_steps=0)
    with pytest.raises(ConfigError, match="optimizer.name"):
        load_train_config(data=["x"], **{"optimizer.name": "sgd-ish"})
    for key, value in (("devices", 0), ("accelerator", "tpu"), ("seed", -1)):
        with pytest.raises(ConfigError, match=key):
            load_train_config(data=["x"], **{key: value})
    with pytest.raises(ConfigError, match="--lr"):
        load_train_config(data=["x"], **{"optimizer.lr": -1.0})
    bad = tmp_path / "c.yaml"
    bad.write_text("strategy: supervised\nlearning_rate: 3\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_train_config(bad, data=["x"])


def test_ranger_optimizer_trains(sim_jets, tmp_path):
    out = tmp_path / "run"
    assert main(_args([sim_jets / "qcd", sim_jets / "res2p"], out, "--max-steps", "7",
                      "--optimizer", "ranger", "--reweight")) == 0
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 7


def test_evaluate_and_export_the_run(run_dir, sim_jets, tmp_path):
    ev = tmp_path / "eval"
    assert main(["evaluate", str(run_dir), "--data", str(sim_jets / "qcd"), str(sim_jets / "res2p"),
                 "--out", str(ev), "--no-progress"]) == 0
    res = json.loads((ev / "results.json").read_text())
    assert 0.0 <= res["accuracy"] <= 1.0 and "Xbb_vs_QCD" in res["discriminants"]
    assert (ev / "roc_res2p_hadronic.png").is_file() and (ev / "history.png").is_file()
    onnx_path = tmp_path / "model.onnx"
    assert main(["export", str(run_dir), "--out", str(onnx_path)]) == 0
    assert onnx_path.stat().st_size > 10_000


def _published_layout(src: Path, dst: Path) -> None:
    """Rewrite jetfm files the way another JetClass-II writer could: only the JetClass-II
    columns (jetfm's extras dropped), in reverse order, 64-bit floats/ints for some columns,
    large_list offsets, one row group per file."""
    from jetfm.schema import JETCLASS2_COLUMNS

    dst.mkdir()
    for path in sorted(src.glob("*.parquet")):
        table = pq.read_table(path, columns=JETCLASS2_COLUMNS[::-1])
        fields = []
        for f in table.schema:
            t = f.type
            if f.name in ("jet_pt", "jet_sdmass", "jet_label", "jet_nparticles"):
                t = pa.float64() if pa.types.is_floating(t) else pa.int64()
            elif f.name in ("part_px", "part_energy"):
                t = pa.large_list(pa.float64())
            fields.append(pa.field(f.name, t))
        pq.write_table(table.cast(pa.schema(fields)), dst / path.name)


def test_evaluate_on_the_published_jetclass2_layout(run_dir, sim_jets, tmp_path):
    """Published JetClass-II Parquet carries exactly the JetClass-II columns; evaluating such
    files must give what evaluating jetfm's own files gives."""
    published = tmp_path / "published"
    _published_layout(sim_jets / "res2p", published)
    assert not {"event_id", "sample"} & set(pq.read_schema(next(published.glob("*"))).names)
    results = {}
    for name, data in (("ours", sim_jets / "res2p"), ("published", published)):
        assert main(["evaluate", str(run_dir), "--data", str(data), "--out",
                     str(tmp_path / f"eval-{name}"), "--no-progress"]) == 0
        results[name] = json.loads((tmp_path / f"eval-{name}" / "results.json").read_text())
    ours, theirs = results["ours"], results["published"]
    assert theirs["n_jets"] == ours["n_jets"] > 0
    assert theirs["accuracy"] == ours["accuracy"]
    assert theirs["auc_per_class"] == pytest.approx(ours["auc_per_class"], abs=1e-6)


def test_ddp_with_torchrun_on_cpu(sim_jets, tmp_path):
    """Two CPU ranks (gloo) under torchrun: no code change, each rank reads its own files."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "-m", "jetfm.cli", *_args([sim_jets / "qcd", sim_jets / "res2p"], out,
                                     "--max-steps", "4", "--accelerator", "cpu", "--devices", "2")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("run ") == 1, "one summary for the job, not one per rank"
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 4


def test_validation_mixes_the_val_files_and_is_the_same_jets_each_time(tmp_path):
    """Capped at val_batches, validation read in file order saw only the first file (one
    sample: a full-range JetClass-II run validated on QCD jets alone)."""
    from jetfm.data.config import load_data_config
    from jetfm.pretrain.config import load_train_config
    from jetfm.pretrain.run import validation_loader
    from jetfm.pretrain.registry import REGISTRY
    from tests.data.fixtures import write_jetclass2_parquet
    files = [write_jetclass2_parquet(tmp_path / f"v{i}.parquet", n_jets=300, seed=i,
                                     labels=[lab] * 300) and tmp_path / f"v{i}.parquet"
             for i, lab in enumerate((0, 20, 100))]
    d = load_data_config("jetclass2").to_dict()
    d["selection"] = []
    cfg = load_train_config(data=["x"], batch_size=32, val_batches=3)
    loader = validation_loader(files, load_data_config(d), cfg, REGISTRY["supervised"])
    first = [b["label"] for _, b in zip(range(cfg.val_batches), loader)]
    assert len(set(torch.cat(first).tolist())) == 3          # every file, not only the first
    again = [b["label"] for _, b in zip(range(cfg.val_batches), loader)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
