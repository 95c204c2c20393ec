"""Weight compatibility with weaver-core's ParticleTransformer (test-only dependency)."""
import logging

import pytest
import torch

from jetfm.models import (
    PARAMETER_COUNTS,
    build_model,
    config_from_weaver_state_dict,
    convert_weaver_state_dict,
    count_parameters,
    load_weaver_state_dict,
    model_from_weaver_state_dict,
    preset_config,
)

import weaver.nn.model.ParticleTransformer as weaver_part  # noqa: E402  (test extra)
logging.getLogger("weaver").setLevel(logging.WARNING)

LENGTHS = [32, 20, 7, 1]  # full, partial, short and single-particle jets


def weaver_model(name, seed=0):
    """A weaver ParT with the preset's hyper-parameters and every tensor randomised, so that
    ones/zeros initialisations (LayerNorm, c_attn, w_resid, BN stats) cannot hide a mix-up."""
    torch.manual_seed(seed)
    ref = weaver_part.ParticleTransformer(**preset_config(name).weaver_kwargs())
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for key, t in ref.state_dict().items():
            if not t.is_floating_point():
                continue
            if key.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            else:
                t.add_(0.1 * torch.randn(t.shape, generator=g))
    return ref.eval()


@pytest.fixture(scope="module", params=["default", "sophon"])
def pair(request):
    ref = weaver_model(request.param)
    ours = build_model(request.param)
    load_weaver_state_dict(ours, {"mod." + k: t for k, t in ref.state_dict().items()})
    return request.param, ref, ours.eval()


def test_parameter_count_matches_weaver(pair):
    name, ref, ours = pair
    assert count_parameters(ours) == count_parameters(ref) == PARAMETER_COUNTS[name]
    assert ours.state_dict().keys() == ref.state_dict().keys()


def test_default_is_the_2p14m_jetclass_part():
    assert 2.13e6 < PARAMETER_COUNTS["default"] < 2.15e6


@pytest.mark.parametrize("overrides", [{}, {"trim": False}, {"pair_mode": "dense"}])
def test_logits_match_weaver(pair, jets, overrides):
    name, ref, ours = pair
    if overrides:
        model = build_model(name, **overrides)
        model.load_state_dict(ours.state_dict())
        ours = model.eval()
    x, v, mask = jets(LENGTHS, 32)
    # compare like with like: weaver evaluates its pair embedding densely on request too
    dense = overrides.get("pair_mode") == "dense"
    ref.pair_embed.sparse_eval = (not dense, not dense)
    try:
        with torch.no_grad():
            expected = ref(x, v, mask)
            got = ours(x, v, mask)
    finally:
        ref.pair_embed.sparse_eval = (True, True)
    delta = (got.logits - expected).abs().max().item()
    print(f"{name} {overrides}: max|Δlogits| = {delta:.2e}")
    assert got.logits.shape == expected.shape
    # float32 noise only (its size depends on the CPU's kernels); a wrong layer is >> 1e-3
    torch.testing.assert_close(got.logits, expected, rtol=1e-5, atol=1e-5)


def test_embedding_matches_sophon_latent(pair, jets):
    """Sophon exports weaver's aggregator output (class token after the final norm)."""
    _, ref, ours = pair
    x, v, mask = jets(LENGTHS, 32, seed=3)
    with torch.no_grad():
        h, padding = ref._forward_encoder(x, v=v, mask=mask)
        latent = ref._forward_aggregator(h, padding)
        out = ours(x, v, mask)
    assert (out.embedding - latent).abs().max().item() <= 1e-5
    real = mask.squeeze(1).bool()
    assert (out.particle_embeddings - h)[real].abs().max().item() <= 1e-4


def test_old_weaver_key_names_load():
    """weaver < 0.5 used nn.MultiheadAttention: attn.in_proj_weight / in_proj_bias."""
    ref = weaver_model("default")
    old = {}
    for k, t in ref.state_dict().items():
        k = k.replace("attn.in_proj.weight", "attn.in_proj_weight")
        old["module.mod." + k.replace("attn.in_proj.bias", "attn.in_proj_bias")] = t
    assert any(k.endswith("in_proj_weight") for k in old)
    assert convert_weaver_state_dict(old).keys() == ref.state_dict().keys()
    assert config_from_weaver_state_dict(old) == preset_config("default")
    model = model_from_weaver_state_dict(old).eval()
    assert torch.equal(model.state_dict()["blocks.3.attn.in_proj.weight"],
                       ref.state_dict()["blocks.3.attn.in_proj.weight"])


def test_training_mode_matches_weaver(jets):
    """With dropout and (weaver's random) trimming off, a training-mode forward is the same
    function as weaver's: BatchNorm batch statistics see the same entries (zero-padded
    particle inputs; real pairs only in the pair embedding)."""
    cfg = dict(dropout=0.0, attn_dropout=0.0, activation_dropout=0.0, trim=False)
    torch.manual_seed(0)
    ref = weaver_part.ParticleTransformer(**preset_config("default", **cfg).weaver_kwargs())
    ours = build_model("default", **cfg)
    load_weaver_state_dict(ours, ref.state_dict())
    x, v, mask = jets(LENGTHS, 32, seed=5)
    ref.train(), ours.train()
    delta = (ours(x, v, mask).logits - ref(x, v, mask)).abs().max().item()
    assert delta <= 1e-5
    ours_sd = ours.state_dict()
    for key, t in ref.state_dict().items():
        if "running_" in key:
            assert torch.allclose(ours_sd[key], t, atol=1e-6), key
