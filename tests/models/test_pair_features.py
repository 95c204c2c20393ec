import math

import pytest
import torch

from jetfm.models import pair_features
from jetfm.models.embedding import PairEmbed


def four_vector(pt, y, phi, m):
    mt = math.hypot(pt, m)
    p4 = [pt * math.cos(phi), pt * math.sin(phi), mt * math.sinh(y), mt * math.cosh(y)]
    return torch.tensor(p4, dtype=torch.float64)


def test_features_match_textbook_formulae():
    a, b = four_vector(50.0, 0.3, 0.1, 0.14), four_vector(20.0, -0.1, 6.1, 0.0)
    feats = pair_features(a.view(1, 4, 1), b.view(1, 4, 1)).view(4)
    dphi = (0.1 - 6.1 + math.pi) % (2 * math.pi) - math.pi  # wraps across 2π
    dr = math.hypot(0.3 + 0.1, dphi)
    s = a + b
    m2 = float(s[3] ** 2 - s[:3].square().sum())
    expected = [math.log(20.0 * dr), math.log(20.0 / 70.0), math.log(dr), math.log(m2)]
    assert feats.tolist() == pytest.approx(expected, rel=1e-9)


def test_symmetric_and_self_pairs_finite():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(2, 4, 5, generator=g)
    v[:, 3] = v[:, :3].norm(dim=1) + 0.1
    f = pair_features(v.unsqueeze(-1), v.unsqueeze(-2))  # (2, 4, 5, 5)
    assert torch.allclose(f, f.transpose(-1, -2), atol=1e-5)
    assert torch.isfinite(f).all()
    assert torch.allclose(f[:, 2].diagonal(dim1=-2, dim2=-1), torch.tensor(math.log(1e-8)))


def test_sparse_and_dense_pair_embeddings_agree(jets):
    torch.manual_seed(0)
    sparse = PairEmbed(4, (8, 8, 4)).eval()
    dense = PairEmbed(4, (8, 8, 4), mode="dense").eval()
    dense.load_state_dict(sparse.state_dict())
    _, v, mask = jets([6, 3, 1], 6)
    mask = mask.bool()
    with torch.no_grad():
        a, b = sparse(v, mask), dense(v, mask)
    assert a.shape == (3, 4, 6, 6)
    assert torch.allclose(a, b, atol=1e-6)
    pairs = mask.squeeze(1)[:, :, None] & mask.squeeze(1)[:, None, :]
    assert a.permute(0, 2, 3, 1)[~pairs].abs().max() == 0
    assert torch.allclose(a, a.transpose(-1, -2))
