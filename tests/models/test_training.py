"""Gradients flow: a tiny ParT memorises a tiny random batch."""
import torch
import torch.nn.functional as F

from jetfm.models import build_model


def test_every_parameter_gets_a_gradient(jets):
    torch.manual_seed(0)
    model = build_model("tiny", num_classes=3).train()
    x, v, mask = jets([8, 5, 2, 8], 8)
    F.cross_entropy(model(x, v, mask).logits, torch.tensor([0, 1, 2, 0])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing, missing


def test_tiny_model_overfits_tiny_batch(jets):
    torch.manual_seed(0)
    model = build_model("tiny", num_classes=4, dropout=0.0, attn_dropout=0.0,
                        activation_dropout=0.0).train()
    x, v, mask = jets([12, 9, 4, 12, 7, 2, 10, 5, 12, 3, 8, 6, 11, 1, 9, 4], 12, seed=1)
    y = torch.arange(16) % 4
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = F.cross_entropy(model(x, v, mask).logits, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])
