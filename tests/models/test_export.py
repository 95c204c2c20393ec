"""ONNX export in the Sophon convention and safetensors checkpoints (jetfm.models.export)."""
import json

import numpy as np
import pytest
import torch

from jetfm.errors import ConfigError, DataError
from jetfm.models import build_model, preset_config
from jetfm.models import export as export_mod
from jetfm.models.export import (
    INPUT_NAMES,
    OUTPUT_NAMES,
    ExportCheckError,
    export_onnx,
    load_checkpoint,
    save_checkpoint,
)

import onnxruntime as ort  # noqa: E402

TINY_DIM = preset_config("tiny").embed_dim


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model("tiny", num_classes=6)
    # non-trivial BatchNorm statistics, so eval-mode export exercises them
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.3)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
    return model.train()  # export must not depend on (or change) the caller's mode


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped: runs before the autouse single_thread fixture
    try:
        info = export_onnx(tiny, path)
    finally:
        torch.set_num_threads(before)
    return path, info


def test_export_is_checked_against_pytorch(exported, tiny):
    path, info = exported
    assert path.is_file() and info["path"] == str(path)
    assert len(info["shapes_tested"]) == 2 and len(set(info["shapes_tested"])) == 2
    assert info["max_abs_diff_probs"] <= 1e-4 and info["max_abs_diff_embedding"] <= 1e-4
    assert tiny.training  # the caller's model is left as it was
    assert not list(path.parent.glob(".*tmp-*"))  # atomic write left no temporary file


def test_onnx_io_names_and_dynamic_axes(exported):
    import onnx

    graph = onnx.load(str(exported[0])).graph
    assert [i.name for i in graph.input] == list(INPUT_NAMES)
    assert [o.name for o in graph.output] == list(OUTPUT_NAMES)
    for inp in graph.input:
        dims = inp.type.tensor_type.shape.dim
        assert dims[0].dim_param == "N" and dims[2].dim_param == "n_pf"
    for out in graph.output:
        assert out.type.tensor_type.shape.dim[0].dim_param == "N"


def test_onnx_output_widths_are_numbers(exported, tiny):
    """Every output axis but the batch is a fixed number (consumers size buffers from it)."""
    import onnxruntime as ort
    widths = {"softmax": tiny.config.num_classes, "embedding": tiny.config.embed_dims[-1]}
    for out in ort.InferenceSession(str(exported[0])).get_outputs():
        assert out.shape[0] == "N" and out.shape[1:] == [widths[out.name]], out.shape


@pytest.mark.parametrize("lengths,p", [([3, 40, 1], 40), ([7] * 9, 7), ([30, 2], 64)])
def test_onnx_runs_at_other_shapes(exported, tiny, jets, lengths, p):
    x, v, mask = jets(lengths, p, seed=p)
    session = ort.InferenceSession(str(exported[0]), providers=["CPUExecutionProvider"])
    probs, emb = session.run(None, dict(zip(INPUT_NAMES, (x.numpy(), v.numpy(), mask.numpy()))))
    assert probs.shape == (len(lengths), 6) and emb.shape == (len(lengths), TINY_DIM)
    assert np.all(probs >= 0) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    model = tiny.train(False)
    try:
        with torch.no_grad():
            out = model(x, v, mask)  # trimmed, sparse-pair PyTorch path
    finally:
        tiny.train(True)
    assert np.abs(probs - torch.softmax(out.logits, 1).numpy()).max() < 1e-4
    assert np.abs(emb - out.embedding.numpy()).max() < 1e-4


def test_failed_check_raises_and_leaves_no_file(tiny, tmp_path, monkeypatch):
    real = export_mod._reference_outputs
    monkeypatch.setattr(
        export_mod, "_reference_outputs", lambda *a: [t + 0.01 for t in real(*a)]
    )
    path = tmp_path / "new" / "folders" / "bad.onnx"
    with pytest.raises(ExportCheckError, match="disagrees with PyTorch"):
        export_onnx(tiny, path)
    assert list(tmp_path.iterdir()) == []  # not even the folders made for it


def test_a_backbone_without_head_exports_its_embedding(tmp_path):
    import onnxruntime as ort
    model = build_model("tiny", num_classes=None, fc_params=())
    info = export_onnx(model, tmp_path / "emb.onnx")
    assert info["max_abs_diff_probs"] is None and info["max_abs_diff_embedding"] < 1e-4
    outputs = ort.InferenceSession(str(tmp_path / "emb.onnx")).get_outputs()
    assert [(o.name, o.shape[1]) for o in outputs] == [("embedding", 32)]


def test_export_rejects_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="n_features"):
        export_onnx(build_model("tiny"), tmp_path / "a.onnx", n_features=12)
    for opset in (5, 99):
        with pytest.raises(ConfigError, match="--opset must be in"):
            export_onnx(build_model("tiny"), tmp_path / "c.onnx", opset=opset)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        export_onnx(build_model("tiny"), tmp_path / "folder")
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


# ------------------------------------------------------------------ checkpoints
@pytest.fixture
def trained_tiny(jets):
    """A tiny model with fc layers, some optimiser steps (BN statistics move)."""
    torch.manual_seed(1)
    model = build_model("tiny", num_classes=7, fc_params=((24, 0.1),), dropout=0.05)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, v, mask = jets([10, 6, 3, 1], 10, seed=2)
    for _ in range(3):
        loss = model(x, v, mask).logits.logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_checkpoint_round_trip(trained_tiny, jets, tmp_path):
    run_config = {"strategy": "supervised", "lr": 5e-4, "data": {"files": [tmp_path / "a"]},
                  "model": {"preset": "tiny"}}
    path = save_checkpoint(trained_tiny, run_config, tmp_path / "run" / "model.safetensors")
    model, config = load_checkpoint(path)
    assert config == json.loads(json.dumps(run_config, default=str))
    assert model.config == trained_tiny.config
    assert not model.training
    for key, t in trained_tiny.state_dict().items():
        assert torch.equal(model.state_dict()[key], t), key
    x, v, mask = jets([12, 5, 1], 12, seed=3)
    with torch.no_grad():
        a, b = trained_tiny(x, v, mask), model(x, v, mask)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.embedding, b.embedding)


def test_checkpoint_of_compiled_style_wrapper(trained_tiny, tmp_path):
    class Wrapped(torch.nn.Module):  # what torch.compile / DDP look like
        def __init__(self, m):
            super().__init__()
            self._orig_mod = m

    path = save_checkpoint(Wrapped(trained_tiny), None, tmp_path / "w.safetensors")
    model, config = load_checkpoint(path)
    assert config == {} and model.config == trained_tiny.config


def test_missing_and_corrupt_checkpoints_raise_data_error(trained_tiny, tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(DataError, match="nope.safetensors"):
        load_checkpoint(missing)

    good = save_checkpoint(trained_tiny, {}, tmp_path / "good.safetensors")
    blob = good.read_bytes()

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(blob[: len(blob) // 2])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all" * 4)
    flipped = tmp_path / "flipped.safetensors"
    data = bytearray(blob)
    data[-5] ^= 0xFF  # inside the last tensor's bytes: only the checksum can tell
    flipped.write_bytes(bytes(data))
    for bad in (truncated, garbage, flipped):
        with pytest.raises(DataError, match=bad.name):
            load_checkpoint(bad)


def test_foreign_safetensors_file_is_rejected(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(DataError, match="not a jetfm checkpoint"):
        load_checkpoint(path)


def test_unserialisable_config_is_a_config_error(trained_tiny, tmp_path):
    with pytest.raises(ConfigError, match="JSON"):
        save_checkpoint(trained_tiny, {"f": object()}, tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ representation heads
def _heads(d):
    from jetfm.models.heads import MLPHead
    torch.manual_seed(4)
    return {"projection": MLPHead([d, 16, 8], normalize=True), "bottleneck": MLPHead([d, 5])}


def _tensor_offset(path, key):
    """Byte offset of tensor `key`'s data inside a safetensors file."""
    blob = path.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    return 8 + n + header[key]["data_offsets"][0]


def test_checkpoint_with_heads_round_trips(trained_tiny, jets, tmp_path):
    from safetensors import safe_open

    heads = _heads(TINY_DIM)
    path = save_checkpoint(trained_tiny, {"representation": "projection"},
                           tmp_path / "h.safetensors", heads=heads)
    model, config, loaded = load_checkpoint(path, with_heads=True)
    assert config == {"representation": "projection"} and set(loaded) == set(heads)
    assert all(not h.training for h in loaded.values())
    assert loaded["projection"].spec() == {"dims": [TINY_DIM, 16, 8], "normalize": True}
    x, v, mask = jets([12, 5, 1], 12, seed=3)
    with torch.no_grad():
        a, b = trained_tiny(x, v, mask), model(x, v, mask)
        assert torch.equal(a.logits, b.logits) and torch.equal(a.embedding, b.embedding)
        for name, head in heads.items():
            assert torch.equal(head(a.embedding), loaded[name](b.embedding)), name
    # the 2-tuple for existing callers; the ParT got exactly its own keys (strict)
    model2, config2 = load_checkpoint(path)
    assert set(model2.state_dict()) == set(trained_tiny.state_dict())
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["jetfm.format_version"] == "2"
        assert sum(k.startswith("heads.projection.") for k in f.keys()) == 4


def test_checkpoint_without_heads_stays_version_1_and_loads_with_no_heads(trained_tiny,
                                                                         tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(trained_tiny, {}, tmp_path / "plain.safetensors")
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["jetfm.format_version"] == "1" and "jetfm.heads" not in f.metadata()
    _, _, heads = load_checkpoint(path, with_heads=True)
    assert heads == {}


def test_tampered_head_tensor_is_refused(trained_tiny, tmp_path):
    path = save_checkpoint(trained_tiny, {}, tmp_path / "h.safetensors",
                           heads=_heads(TINY_DIM))
    data = bytearray(path.read_bytes())
    data[_tensor_offset(path, "heads.bottleneck.net.0.weight") + 1] ^= 0xFF
    bad = tmp_path / "tampered.safetensors"
    bad.write_bytes(bytes(data))
    for with_heads in (False, True):   # the backbone alone is refused too: one digest
        with pytest.raises(DataError, match="checksum mismatch"):
            load_checkpoint(bad, with_heads=with_heads)


def test_head_that_does_not_fit_its_spec_or_belongs_to_none_is_refused(trained_tiny, tmp_path):
    from safetensors.torch import save_file

    from jetfm.models.checkpoint import _META_DIGEST, _digest, _metadata_digest

    path = save_checkpoint(trained_tiny, {}, tmp_path / "h.safetensors",
                           heads=_heads(TINY_DIM))
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    for change, match in ((lambda m, t: m.update({"jetfm.heads": json.dumps(
                               {"projection": {"dims": [TINY_DIM, 3]}, "bottleneck":
                                {"dims": [TINY_DIM, 5]}})}), "does not fit"),
                          (lambda m, t: t.update({"heads.other.w": torch.zeros(2)}),
                           "belong to no stored representation head")):
        m, t = dict(meta), dict(tensors)
        change(m, t)
        m["jetfm.sha256"] = _digest(t)
        m[_META_DIGEST] = _metadata_digest(m)    # a forged file that passes both checksums
        bad = tmp_path / "bad.safetensors"
        save_file(t, str(bad), metadata=m)
        with pytest.raises(DataError, match=match):
            load_checkpoint(bad)


def test_bad_heads_are_a_config_error(trained_tiny, tmp_path):
    from jetfm.models.heads import MLPHead
    with pytest.raises(ConfigError, match="without dots"):
        save_checkpoint(trained_tiny, {}, tmp_path / "a.safetensors",
                        heads={"a.b": MLPHead([TINY_DIM, 2])})
    with pytest.raises(ConfigError, match="MLPHead"):
        save_checkpoint(trained_tiny, {}, tmp_path / "b.safetensors",
                        heads={"p": torch.nn.Linear(TINY_DIM, 2)})
    assert list(tmp_path.iterdir()) == []


def test_an_edited_header_setting_is_refused(trained_tiny, tmp_path):
    """The JSON header is covered too: a hand-edited stored setting (here a feature scale in
    the run config) changes results as surely as a flipped weight."""
    good = save_checkpoint(trained_tiny, {"data": {"scale": 0.5}},
                           tmp_path / "good.safetensors")
    blob = good.read_bytes()
    assert blob.count(b'"scale\\": 0.5') == 1     # JSON inside the JSON header: escaped quotes
    edited = tmp_path / "edited.safetensors"
    edited.write_bytes(blob.replace(b'"scale\\": 0.5', b'"scale\\": 0.7'))
    with pytest.raises(DataError, match="edited.safetensors.*header settings"):
        load_checkpoint(edited)
    load_checkpoint(good)


def test_a_file_from_before_the_header_checksum_loads_with_a_warning(trained_tiny, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    good = save_checkpoint(trained_tiny, {}, tmp_path / "good.safetensors")
    with safe_open(str(good), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    del meta["jetfm.metadata_sha256"]
    old = tmp_path / "old.safetensors"
    save_file(tensors, str(old), metadata=meta)
    with pytest.warns(UserWarning, match="older jetfm"):
        model, _ = load_checkpoint(old)
    assert model.config == trained_tiny.config
