"""Shapes, padding invariance and configuration of the ParT backbone (tiny presets)."""
import pytest
import torch

from jetfm.errors import ConfigError
from jetfm.models import (
    PRESETS,
    ParTConfig,
    ParticleTransformer,
    build_model,
    config_from_weaver_state_dict,
    count_parameters,
    preset_config,
)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model("tiny").eval()


def test_output_shapes(tiny, jets):
    x, v, mask = jets([12, 5, 1], 16)
    out = tiny(x, v, mask)
    assert out.logits.shape == (3, 10)
    assert out.embedding.shape == (3, 32)
    assert out.particle_embeddings.shape == (3, 16, 32)  # input length, trimming undone
    assert out.mask.shape == (3, 16) and out.mask.dtype == torch.bool
    assert torch.equal(out.mask, mask.squeeze(1).bool())
    assert torch.equal(tiny.logits(x, v, mask), out.logits)


def test_padded_particle_embeddings_are_zero(tiny, jets):
    x, v, mask = jets([12, 5, 1], 16)
    out = tiny(x, v, mask)
    assert out.particle_embeddings[~out.mask].abs().max() == 0
    assert out.particle_embeddings[out.mask].abs().min() > 0


@pytest.mark.parametrize("overrides", [{}, {"trim": False}, {"pair_mode": "dense"}])
def test_padding_invariance(jets, overrides):
    """Appending masked particles, even with garbage content, leaves the outputs unchanged."""
    torch.manual_seed(1)
    model = build_model("tiny", **overrides).eval()
    x, v, mask = jets([10, 6, 3], 10)
    pad = 7
    garbage = lambda t: torch.cat((t, 5 * torch.randn(*t.shape[:2], pad)), dim=-1)
    x2, v2 = garbage(x), garbage(v)  # random v gives E < |p|: NaN-prone if not masked
    mask2 = torch.cat((mask, torch.zeros(3, 1, pad)), dim=-1)
    with torch.no_grad():
        a, b = model(x, v, mask), model(x2, v2, mask2)
    assert (a.logits - b.logits).abs().max() <= 1e-5
    assert (a.embedding - b.embedding).abs().max() <= 1e-5
    assert torch.allclose(b.particle_embeddings[:, :10], a.particle_embeddings, atol=1e-5)
    assert b.particle_embeddings[:, 10:].abs().max() == 0


def test_mask_formats_and_defaults(tiny, jets):
    x, v, mask = jets([8, 8], 8)
    ref = tiny(x, v, mask).logits
    assert torch.equal(tiny(x, v, mask.bool()).logits, ref)
    assert torch.equal(tiny(x, v, mask.squeeze(1)).logits, ref)
    assert torch.allclose(tiny(x, v, None).logits, ref, atol=1e-6)  # all-real batch
    assert torch.isfinite(tiny(x, None, mask).logits).all()  # no pair bias


def test_empty_jet_gives_finite_outputs(tiny, jets):
    x, v, mask = jets([6, 0], 8)
    out = tiny(x, v, mask)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.embedding).all()


def test_backbone_only_and_fc_head():
    bare = ParticleTransformer(preset_config("tiny", num_classes=None))
    assert bare.fc is None
    x = torch.randn(2, 17, 4)
    assert bare(x).logits is None
    with pytest.raises(RuntimeError):
        bare.logits(x)
    head = build_model("tiny", num_classes=5, fc_params=[(24, 0.1), (16, 0.0, "gelu")])
    assert head(x).logits.shape == (2, 5)
    assert [k for k in head.state_dict() if k.startswith("fc.") and k.endswith("weight")] == [
        "fc.0.0.weight", "fc.1.0.weight", "fc.2.weight"]


def test_amp_is_requested_for_cuda_inputs_only(jets, monkeypatch):
    """`use_amp` asks for bf16 autocast, enabled only for CUDA tensors (a spy records it)."""
    calls = []
    real = torch.autocast

    class Spy(real):
        def __init__(self, device_type, dtype=None, enabled=True, **kw):
            calls.append((device_type, dtype, enabled))
            super().__init__(device_type, dtype=dtype, enabled=enabled, **kw)
    monkeypatch.setattr(torch, "autocast", Spy)
    torch.manual_seed(2)
    plain = build_model("tiny").eval()
    amp = build_model("tiny", use_amp=True).eval()
    amp.load_state_dict(plain.state_dict())
    x, v, mask = jets([5, 3], 6)
    calls.clear()
    out = amp(x, v, mask)
    assert ("cuda", torch.bfloat16, False) in calls          # CPU input: requested, not enabled
    assert not any(enabled for device, _, enabled in calls if device == "cuda")
    assert torch.equal(plain(x, v, mask).logits, out.logits)


def test_model_runs_under_bf16_autocast(jets):
    """The bf16 path (attention bias cast, float32 pair logs) works and stays close to fp32."""
    torch.manual_seed(2)
    model = build_model("tiny").eval()
    x, v, mask = jets([5, 3], 6)
    ref = model(x, v, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x, v, mask)
    assert torch.isfinite(low.logits.float()).all()
    assert (low.logits.float() - ref.logits).abs().max() < 0.1
    assert (low.embedding.float() - ref.embedding).abs().max() < 0.1


def test_presets():
    assert set(PRESETS) >= {"tiny", "small", "default", "sophon"}
    sophon = preset_config("sophon")
    assert (sophon.num_classes, sophon.fc_params, sophon.input_dim) == (188, ((512, 0.1),), 17)
    assert count_parameters(build_model("tiny")) < count_parameters(build_model("small")) < 1e6
    with pytest.raises(ConfigError):
        preset_config("huge")


def test_config_validation_and_round_trip():
    with pytest.raises(ConfigError):
        ParTConfig(embed_dims=(64, 30), num_heads=8)
    with pytest.raises(ConfigError):
        ParTConfig(pair_mode="fast")
    with pytest.raises(ConfigError):
        ParTConfig(num_classes=None, fc_params=[(8, 0.1)])
    cfg = preset_config("sophon")
    assert ParTConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError):
        ParTConfig.from_dict({"nope": 1})


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_config_inferred_from_state_dict(name):
    cfg = preset_config(name)
    assert config_from_weaver_state_dict(build_model(name).state_dict()) == cfg
