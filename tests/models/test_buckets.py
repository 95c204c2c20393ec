"""Length bucketing (ParTConfig.length_buckets) must not change the model's function.

The other model tests use batches too small to bucket (< 32 jets), so these use 80 jets
of varied lengths, including an empty jet and a jet with a hole in its mask.
"""
import pytest
import torch

from jetfm.models import build_model


def _batch(jets, n=80, p=40):
    g = torch.Generator().manual_seed(3)
    lengths = torch.randint(1, p + 1, (n,), generator=g).tolist()
    x, v, mask = jets(lengths, p, seed=3)
    mask[0] = 0  # an empty jet
    mask[1, 0, 2] = 0  # padding between real particles
    return x, v, mask


def _pair(overrides=None):
    """Same weights, buckets on (8) and off (0)."""
    torch.manual_seed(0)
    on = build_model("small", length_buckets=8, **(overrides or {}))
    off = build_model("small", length_buckets=0, **(overrides or {}))
    off.load_state_dict(on.state_dict())
    return on, off


@pytest.mark.parametrize("overrides", [{}, {"pair_input_dim": 0}, {"trim": False}])
def test_eval_outputs_match(jets, overrides):
    on, off = _pair(overrides)
    assert on._num_buckets(80) == 5 and off._num_buckets(80) == 0
    x, v, mask = _batch(jets)
    with torch.no_grad():
        a, b = on.eval()(x, v, mask), off.eval()(x, v, mask)
    assert a.particle_embeddings.shape == b.particle_embeddings.shape == (80, 40, 64)
    assert torch.equal(a.mask, b.mask)
    for name in ("logits", "embedding", "particle_embeddings"):
        diff = (getattr(a, name) - getattr(b, name)).abs().max()
        assert diff <= 1e-5, (name, diff)
    assert a.particle_embeddings[~a.mask].abs().max() == 0


def test_training_gradients_match(jets):
    on, off = _pair(dict(dropout=0.0, attn_dropout=0.0, activation_dropout=0.0))
    x, v, mask = _batch(jets)
    y = torch.randint(0, 10, (80,), generator=torch.Generator().manual_seed(1))
    for model in (on, off):
        out = model.train()(x, v, mask)
        # the particle embeddings get a loss term too, so their scatter-back is checked
        loss = torch.nn.functional.cross_entropy(out.logits, y)
        (loss + out.particle_embeddings.square().mean()).backward()
    # floor: biases feeding a BatchNorm have an exactly-zero true gradient (rounding only)
    floor = 1e-5 * max(p.grad.abs().max() for p in off.parameters())
    for (name, pa), pb in zip(on.named_parameters(), off.parameters()):
        tol = 1e-3 * pb.grad.abs().max() + floor
        assert (pa.grad - pb.grad).abs().max() <= tol, name
    # BatchNorm running statistics are taken over the whole batch either way
    for ba, bb in zip(on.buffers(), off.buffers()):
        assert torch.allclose(ba.float(), bb.float(), atol=1e-6)


def test_small_batches_and_dense_mode_do_not_bucket():
    assert build_model("tiny")._num_buckets(31) == 1
    assert build_model("tiny", length_buckets=1)._num_buckets(256) == 1
    assert build_model("tiny", pair_mode="dense")._num_buckets(256) == 1
    assert build_model("tiny")._num_buckets(256) == 8
