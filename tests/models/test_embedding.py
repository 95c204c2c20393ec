"""The fast embedding paths compute weaver's functions: row-layout pair MLP, BatchNorm folding
in eval, packed particle MLP, chunked inference."""
import pytest
import torch

from jetfm.models import ParticleTransformer, preset_config
from jetfm.models._runtime import map_rows
from jetfm.models.embedding import PairEmbed, ParticleEmbed


def _randomise_batchnorms(module: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial running statistics and affine parameters, so folding has work to do."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in module.modules():
            if isinstance(bn, torch.nn.BatchNorm1d):
                bn.running_mean.normal_(0, 1, generator=g)
                bn.running_var.uniform_(0.2, 3.0, generator=g)
                bn.weight.normal_(1, 0.3, generator=g)
                bn.bias.normal_(0, 0.3, generator=g)


def _conv_layout(embed: PairEmbed, rows: torch.Tensor) -> torch.Tensor:
    """weaver's layout: the Sequential of Conv1d/BatchNorm on a (1, C, M) sequence."""
    return embed.embed(rows.T.unsqueeze(0)).squeeze(0).T


@pytest.mark.parametrize("pre_activation", [False, True])
def test_eval_folded_pair_mlp_equals_the_conv_sequence(pre_activation):
    torch.manual_seed(0)
    embed = PairEmbed(4, (16, 16, 8), pre_activation=pre_activation)
    _randomise_batchnorms(embed)
    embed.eval()
    rows = 2.0 * torch.randn(3000, 4)
    layers = embed.folded_layers()
    assert len(layers) == 3 and all(w.dtype == torch.float32 for w, _, _ in layers)
    assert (layers[-1][2] is None) == pre_activation  # un-activated last layer stays so
    with torch.no_grad():
        expected = _conv_layout(embed, rows)
        got = embed.embed_rows(rows)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_training_row_layout_keeps_batchnorm_statistics():
    torch.manual_seed(1)
    rows_layout = PairEmbed(4, (16, 8))
    conv_layout = PairEmbed(4, (16, 8))
    conv_layout.load_state_dict(rows_layout.state_dict())
    rows = torch.randn(500, 4) * 3 + 1
    got, expected = rows_layout.embed_rows(rows), _conv_layout(conv_layout, rows)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(rows_layout.buffers(), conv_layout.buffers()):  # running stats updated alike
        torch.testing.assert_close(a, b)
    got.square().mean().backward()  # and gradients flow to every parameter
    assert all(p.grad is not None for p in rows_layout.parameters())


@pytest.mark.parametrize("training", [True, False])
def test_packed_particle_embedding_matches_every_slot_evaluation(jets, training):
    torch.manual_seed(2)
    embed = ParticleEmbed(17, (32, 64, 32))
    _randomise_batchnorms(embed)
    embed.train(training)
    x, _, mask = jets([9, 4, 1], 9)
    real = mask.squeeze(1).bool()
    state = {k: t.clone() for k, t in embed.state_dict().items()}
    packed = embed(x, real)
    embed.load_state_dict(state)  # same BatchNorm state for the second call
    everything = embed(x)
    assert packed.shape == everything.shape == (3, 9, 32)
    torch.testing.assert_close(packed[real], everything[real], rtol=1e-5, atol=1e-6)
    assert packed[~real].abs().max() == 0


def test_map_rows_chunks_only_without_autograd():
    calls = []

    def fn(t):
        calls.append(t.shape[0])
        return t * 2 + 1

    x = torch.randn(5, 7, 3)
    with torch.no_grad():
        out = map_rows(fn, x, chunk_rows=10)
    assert calls == [10, 10, 10, 5] and out.shape == x.shape
    torch.testing.assert_close(out, x * 2 + 1)
    calls.clear()
    map_rows(fn, x.requires_grad_(), chunk_rows=10)
    assert calls == [5]  # with autograd: one call (training memory/graph unchanged)


def test_chunked_inference_equals_autograd_forward(jets):
    """Enough particles that every chunked path (pairs, particle MLP, FFN) really splits."""
    torch.manual_seed(3)
    model = ParticleTransformer(preset_config("tiny")).eval()
    _randomise_batchnorms(model)
    x, v, mask = jets([128] * 6 + [120, 90, 64, 33, 7, 1], 128)  # 1,083 particles
    with torch.no_grad():
        chunked = model(x, v, mask)
    plain = model(x, v, mask)  # grad enabled: no chunking
    torch.testing.assert_close(chunked.logits, plain.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunked.embedding, plain.embedding, rtol=1e-5, atol=1e-5)
