"""Shared pieces of the strategies, each against a direct formula on a hand-made example:
InfoNCE, NT-Xent, the variance/covariance terms, the EMA and explicit pairs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jetfm.data.features import FlatJets
from jetfm.data.pairs import pair_by_group
from jetfm.pretrain.heads import EMA, mlp
from jetfm.pretrain.losses import alignment, info_nce, nt_xent, variance_covariance


def _unit(x):
    return x / x.norm(dim=1, keepdim=True)


def test_info_nce_equals_the_direct_formula():
    torch.manual_seed(0)
    a, b, t = torch.randn(4, 3), torch.randn(4, 3), 0.5
    s = _unit(a) @ _unit(b).T / t
    rows = [-math.log(math.exp(s[i, i]) / sum(math.exp(s[i, j]) for j in range(4))) for i in range(4)]
    cols = [-math.log(math.exp(s[i, i]) / sum(math.exp(s[j, i]) for j in range(4))) for i in range(4)]
    assert info_nce(a, b, t).item() == pytest.approx(0.5 * (np.mean(rows) + np.mean(cols)), rel=1e-5)


def test_nt_xent_equals_the_direct_formula_and_drops_same_group_negatives():
    torch.manual_seed(1)
    z1, z2, t = torch.randn(3, 4), torch.randn(3, 4), 0.1
    z = _unit(torch.cat([z1, z2]))
    s = (z @ z.T / t).tolist()
    groups = torch.tensor([7, 7, 9])           # pairs 0 and 1 come from one shower

    def direct(grouped: bool):
        g = [7, 7, 9, 7, 7, 9]
        losses = []
        for i in range(6):
            pos = (i + 3) % 6
            negs = [j for j in range(6) if j != i and j != pos and not (grouped and g[j] == g[i])]
            denom = math.exp(s[i][pos]) + sum(math.exp(s[i][j]) for j in negs)
            losses.append(-math.log(math.exp(s[i][pos]) / denom))
        return np.mean(losses)
    assert nt_xent(z1, z2, t).item() == pytest.approx(direct(False), rel=1e-5)
    assert nt_xent(z1, z2, t, groups).item() == pytest.approx(direct(True), rel=1e-5)


def test_alignment_is_the_mean_squared_distance_of_unit_vectors():
    a = torch.tensor([[3.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, -5.0]])          # same direction, opposite direction
    assert alignment(a, b).item() == pytest.approx((0.0 + 4.0) / 2)


def test_variance_covariance_terms():
    e = torch.tensor([[0.0, 0.0], [2.0, 2.0], [0.0, 0.0], [2.0, 2.0]])   # std 1.155, cov 1.333
    var, cov = variance_covariance(e, eps=0.0)
    assert var.item() == pytest.approx(0.0)
    assert cov.item() == pytest.approx(2 * (4 / 3) ** 2 / 2, rel=1e-6)
    var, _ = variance_covariance(torch.ones(5, 3), eps=0.0)          # collapsed: full penalty
    assert var.item() == pytest.approx(1.0)


def test_ema_is_exact_and_ramps():
    ema = EMA(0.9, 1.0, total=10)
    assert ema.momentum(0) == pytest.approx(0.9) and ema.momentum(10) == pytest.approx(1.0)
    online, target = mlp([2, 3]), mlp([2, 3])
    before = [p.detach().clone() for p in target.parameters()]
    m = ema.update(target, online, step=0)
    for t, b, o in zip(target.parameters(), before, online.parameters()):
        assert torch.allclose(t, m * b + (1 - m) * o)
        assert not t.requires_grad or t.grad is None


def test_pairs_are_formed_within_groups_and_carry_the_group():
    counts = np.array([1, 2, 1, 3, 1, 2])
    groups = np.array([5, 9, 5, 9, 9, -1])      # group 9 has 3 jets: 3 pairs; -1: no group
    feats = np.repeat(np.arange(6, dtype=np.float32), counts)[:, None]
    flat = FlatJets(feats, np.zeros((counts.sum(), 4), np.float32), counts,
                    {"resim_group": groups, "label": np.arange(6)})
    pairs = pair_by_group(flat, "resim_group")
    got = sorted(zip(pairs.a.jets["label"].tolist(), pairs.b.jets["label"].tolist()))
    assert got == [(0, 2), (1, 3), (1, 4), (3, 4)]
    assert (pairs.a.jets["resim_group"] == pairs.b.jets["resim_group"]).all()
    shuffled = pairs.take(np.array([3, 0, 2, 1]))
    assert (shuffled.a.jets["resim_group"] == shuffled.b.jets["resim_group"]).all()
    padded = shuffled.pad(8)
    assert {"x", "x2", "mask", "mask2", "resim_group"} <= set(padded)
    # the particles travel with their jet: feature value == the jet's own label
    for view, key in ((shuffled.a, "x"), (shuffled.b, "x2")):
        x = shuffled.pad(8)[key]
        assert (x[:, 0, 0] == view.jets["label"]).all()
