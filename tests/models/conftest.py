"""Random but physical jets for the model tests: tiny, right-padded, variable length."""
import pytest
import torch


def random_jets(lengths, num_particles, input_dim=17, seed=0):
    """x (N, C, P), v (N, 4, P) massive 4-vectors around a jet axis, mask (N, 1, P) float.

    Padded slots are zero, like weaver's padded arrays."""
    g = torch.Generator().manual_seed(seed)
    n = len(lengths)
    shape = (n, 1, num_particles)
    pt = torch.exp(torch.randn(shape, generator=g))
    eta = 0.5 + 0.3 * torch.randn(shape, generator=g)
    phi = 1.0 + 0.3 * torch.randn(shape, generator=g)
    mass = 0.2 * torch.rand(shape, generator=g)
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    energy = torch.sqrt(px**2 + py**2 + pz**2 + mass**2)
    v = torch.cat((px, py, pz, energy), dim=1)
    x = torch.randn(n, input_dim, num_particles, generator=g)
    lengths = torch.as_tensor(lengths)
    mask = (torch.arange(num_particles)[None] < lengths[:, None]).unsqueeze(1).float()
    return x * mask, v * mask, mask


@pytest.fixture
def jets():
    return random_jets


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny tensors on 2 shared cores: intra-op threading only adds contention (≈7× slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
