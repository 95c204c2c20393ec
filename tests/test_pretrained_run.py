"""One seam opens a trained run: `pretrained.open_run(path)` -> `PretrainedRun`, for evaluate, export,
transfer, anomaly and the report alike."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from jetfm.cli import main
from jetfm.data.config import load_data_config
from jetfm.errors import ConfigError, DataError
from jetfm.io import write_config
from jetfm.models.export import save_checkpoint
from jetfm.models.heads import MLPHead
from jetfm.models.presets import build_model
from jetfm import pretrained
from jetfm.pretrained import PretrainedRun, open_run

SRC = Path(__file__).resolve().parents[1] / "src" / "jetfm"
HEADER = "epoch,step,train/loss,val/loss\n"


def _tiny_run(folder: Path) -> dict:
    """A run as `jetfm pretrain --strategy resim` leaves it, written directly (no training):
    config.yaml, model.safetensors with a projection head, one training log."""
    data_cfg = load_data_config("jetclass2")
    torch.manual_seed(0)
    model = build_model("tiny", input_dim=data_cfg.num_features)
    head = MLPHead([model.config.embed_dims[-1], 8], normalize=True)
    config = {"train": {"strategy": "resim", "preset": "tiny"}, "data": data_cfg.to_dict(),
              "representation": "projection", "model": model.config.to_dict(),
              "label_names": list(data_cfg.labels.names),
              "splits": {"train": [str(folder / "a.parquet")], "val": [],
                         "test": ["older/relative.parquet"]}}
    folder.mkdir(parents=True)
    write_config(folder / "config.yaml", config)
    save_checkpoint(model, config, folder / "model.safetensors", heads={"projection": head})
    (folder / "logs" / "csv-0").mkdir(parents=True)
    (folder / "logs" / "csv-0" / "metrics.csv").write_text(HEADER + "0,0,2.0,\n0,1,1.5,1.7\n")
    return {"model": model, "head": head, "config": config, "data_config": data_cfg}


def test_the_seam_loads_everything_a_reader_needs(tmp_path):
    made = _tiny_run(tmp_path / "run")
    run = open_run(tmp_path / "run")
    assert isinstance(run, PretrainedRun) and run.path == tmp_path / "run"
    assert not run.model.training and set(run.heads) == {"projection"}
    assert not run.heads["projection"].training
    for key, t in made["model"].state_dict().items():
        assert torch.equal(run.model.state_dict()[key], t), key
    assert run.config == made["config"] and run.data_config == made["data_config"]
    assert run.strategy == "resim" and run.representation == "projection"
    assert run.splits == {"train": (tmp_path / "run" / "a.parquet",), "val": (),
                          "test": (tmp_path / "run" / "older" / "relative.parquet",)}
    assert run.label_names == tuple(made["data_config"].labels.names)
    assert run.weights_path == tmp_path / "run" / "model.safetensors"
    # history is read when asked: a log written after loading is in it
    assert run.history()["train/loss"] == [(0, 2.0), (1, 1.5)]
    (tmp_path / "run" / "logs" / "csv-1").mkdir()
    (tmp_path / "run" / "logs" / "csv-1" / "metrics.csv").write_text(HEADER + "0,2,1.2,\n")
    assert run.history()["train/loss"][-1] == (2, 1.2)
    with pytest.raises(AttributeError):
        run.strategy = "clip"            # frozen


def test_a_run_whose_weights_were_edited_is_refused(tmp_path):
    _tiny_run(tmp_path / "run")
    weights = tmp_path / "run" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF                     # a byte of the last tensor's data
    weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"model.safetensors: checkpoint is corrupt"):
        open_run(tmp_path / "run")


def test_what_is_not_a_loadable_run_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such run directory"):
        open_run(tmp_path / "absent")
    _tiny_run(tmp_path / "run")
    (tmp_path / "run" / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match="has not saved weights yet"):
        open_run(tmp_path / "run")
    (tmp_path / "run" / "config.yaml").unlink()
    with pytest.raises(ConfigError, match="no config.yaml"):
        open_run(tmp_path / "run", weights=False)


def test_without_weights_the_seam_reads_config_yaml_and_never_torch(tmp_path):
    """The report opens runs that may have no weights yet, and without importing torch."""
    _tiny_run(tmp_path / "run")
    (tmp_path / "run" / "model.safetensors").write_bytes(b"")   # a run still starting
    code = ("import sys; from jetfm.pretrained import open_run; "
            f"r = open_run({str(tmp_path / 'run')!r}, weights=False); "
            "assert r.model is None and r.strategy == 'resim', r; "
            "assert r.history()['val/loss'] == [(1, 1.7)]; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _jetfm_imports(path: Path) -> set[str]:
    """The jetfm subpackages/modules `path` imports (lazy imports included)."""
    package = path.relative_to(SRC).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            parts = (*base, *(node.module or "").split("."))
            found.add(parts[0] if parts and parts[0] else "")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names]
            found |= {n.split(".")[1] for n in names if n.startswith("jetfm.")}
    return found


def test_no_module_but_the_seam_reads_a_runs_weights():
    """load_checkpoint is called only by the seam (and inside models/, which defines it);
    metrics/ loads no model; anomaly and transfer are siblings over jetfm.embeddings."""
    callers = set()
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_checkpoint":
                callers.add(rel)
    assert {c for c in callers if not c.startswith("models/")} == {"pretrained.py"}
    for path in (SRC / "metrics").glob("*.py"):
        assert not _jetfm_imports(path) & {"models", "runs", "pretrained"}, path
    for package, other in (("anomaly", "transfer"), ("transfer", "anomaly")):
        for path in (SRC / package).glob("*.py"):
            assert other not in _jetfm_imports(path), path
    assert "embeddings" in _jetfm_imports(SRC / "anomaly" / "inputs.py")
    assert "embeddings" in _jetfm_imports(SRC / "transfer" / "run.py")


# ------------------------------------------------------------------ every consumer uses it
@pytest.fixture(scope="module")
def trained(tiny_run):
    return tiny_run


@pytest.fixture
def opened(monkeypatch):
    """Every open_run call: (run folder, weights read)."""
    calls = []
    real = pretrained.open_run

    def spy(run, device="cpu", weights=True):
        calls.append((Path(getattr(run, "path", run)).absolute(), weights))
        return real(run, device, weights)
    monkeypatch.setattr(pretrained, "open_run", spy)
    return calls


def test_evaluate_export_and_the_report_open_the_run_through_the_seam(trained, tmp_path,
                                                                     opened, capsys):
    assert main(["evaluate", str(trained), "--out", str(tmp_path / "e"), "--max-jets", "20",
                 "--no-progress"]) == 0
    assert opened == [(trained, True)]
    opened.clear()
    pytest.importorskip("onnxruntime")
    assert main(["export", str(trained), "--out", str(tmp_path / "m.onnx")]) == 0
    assert opened == [(trained, True)]
    opened.clear()
    assert main(["report", str(trained), "--out", str(tmp_path / "r.html")]) == 0
    assert opened == [(trained, False)]       # config and curves only: no weights


def test_transfer_and_anomaly_open_the_run_through_the_seam(trained, sim_jets, tmp_path,
                                                           opened, monkeypatch):
    monkeypatch.setenv("JETFM_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["transfer", "--backbone", str(trained), "--task", "res2p-qcd", "--mode", "knn",
                 "--data", str(sim_jets), "--labels-per-class", "5", "--seeds", "1",
                 "--out", str(tmp_path / "t"), "--no-progress"]) == 0
    assert opened == [(trained, True)]
    opened.clear()
    from jetfm.anomaly.inputs import load_backbone, load_jets
    jets = load_jets([sim_jets / "qcd"], "embedding", load_backbone(trained), max_jets=10,
                     progress=False)
    assert jets.x.shape == (10, build_model("tiny").config.embed_dims[-1])
    assert opened == [(trained, True)]
    # both read the one embedding cache (jetfm.embeddings)
    assert len(list((tmp_path / "cache" / "embeddings").glob("*.npy"))) == 2
    assert json.loads((tmp_path / "t" / "results.json").read_text())["strategy"] == "supervised"


def test_models_load_backbone_is_the_seams_model(trained, opened):
    from jetfm.pretrained import load_backbone
    full = load_backbone(trained)
    bare = load_backbone(trained, drop_head=True)
    assert opened == [(trained, True), (trained, True)]
    assert full.config.num_classes and bare.config.num_classes is None
