import torch

from jetfm.models import trim_padding
from jetfm.models.padding import pad_particles


def test_trim_cuts_to_longest_real_jet(jets):
    x, v, mask = jets([5, 9, 2], 16)
    tx, tv, tm = trim_padding(x, v, mask)
    assert tx.shape == (3, 17, 9) and tv.shape == (3, 4, 9) and tm.shape == (3, 1, 9)
    assert tm.dtype == torch.bool and int(tm.sum()) == 16
    assert torch.equal(tx, x[..., :9]) and torch.equal(tv, v[..., :9])


def test_trim_keeps_real_particles_after_holes():
    mask = torch.zeros(2, 1, 10)
    mask[0, 0, [0, 6]] = 1  # a hole: 2 real particles, last one at index 6
    mask[1, 0, :3] = 1
    x = torch.randn(2, 3, 10)
    tx, tv, tm = trim_padding(x, None, mask)
    assert tx.shape[-1] == 7 and tv is None and int(tm.sum()) == 5


def test_trim_noop_and_all_padding():
    x = torch.randn(2, 3, 4)
    assert trim_padding(x)[0] is x  # no mask: nothing to trim
    tx, _, tm = trim_padding(x, None, torch.zeros(2, 1, 4))
    assert tx.shape[-1] == 1 and not tm.any()  # never cut to length 0


def test_pad_particles_restores_length():
    t = torch.ones(2, 3, 5)
    assert pad_particles(t, 7, dim=1).shape == (2, 7, 5)
    assert pad_particles(t, 3, dim=1) is t
    assert pad_particles(torch.ones(2, 3, dtype=torch.bool), 6, dim=1).shape == (2, 6)
