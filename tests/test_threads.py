"""Threads from the CPUs a process may really use (affinity, cgroup quota), not the node's."""
import os

import pytest
import torch

from jetfm.threads import available_cpus, default_threads, set_threads

AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "max 100000\n"}, AFFINITY),                     # v2, no quota
    ({"cpu.max": "50000 100000\n"}, 1),                          # v2, half a CPU
    ({"cpu/cpu.cfs_quota_us": "100000", "cpu/cpu.cfs_period_us": "100000"}, 1),   # v1
    ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, AFFINITY),
    ({}, AFFINITY)])                                             # no cgroup files
def test_available_cpus_honours_the_cgroup_quota(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert available_cpus(tmp_path) == expected


def test_a_quota_above_the_affinity_mask_does_not_raise_it(tmp_path):
    (tmp_path / "cpu.max").write_text(f"{(AFFINITY + 8) * 100000} 100000\n")
    assert available_cpus(tmp_path) == AFFINITY


def test_dataloader_workers_get_their_cpus_and_one_thread_is_left(tmp_path):
    (tmp_path / "cpu.max").write_text("400000 100000\n")
    expect = min(AFFINITY, 4)
    assert default_threads(0, tmp_path) == expect
    assert default_threads(expect + 3, tmp_path) == 1


def test_set_threads_applies_an_explicit_number_and_never_raises_a_lower_choice(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    try:
        assert set_threads(3) == 3 and torch.get_num_threads() == 3
        assert os.environ["OMP_NUM_THREADS"] == "3"
        torch.set_num_threads(1)
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert set_threads(None) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(before)
        assert set_threads(None) == 1
    finally:
        torch.set_num_threads(before)
