"""Random but physical jets for the model tests: tiny, right-padded, variable length."""
import pytest
import torch

from jetfm.models.export import random_inputs


def random_jets(lengths, num_particles, input_dim=17, seed=0):
    """x (N, C, P), v (N, 4, P) massive 4-vectors around a jet axis, mask (N, 1, P) float."""
    return random_inputs(lengths, num_particles, n_features=input_dim, seed=seed)


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
