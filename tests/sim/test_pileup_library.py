"""The cached minimum-bias library and its overlay (jetfm.sim.pileup_library)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from jetfm.sim import pileup_library as pl
from jetfm.sim.chunk import ChunkTask, run_chunk
from jetfm.sim.generate import GenerateConfig, generate

N_LIB = 40      # tiny library: the tests check the mechanics, not the physics


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache folder (and one tiny library in it) for the module."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JETFM_CACHE_DIR", str(folder))
        pl.load_library.cache_clear()
        pl.pileup_library_file(N_LIB)
        yield folder
    pl.load_library.cache_clear()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_library_is_built_once_and_verified(tmp_path, monkeypatch):
    builds = []
    real_build = pl._build
    monkeypatch.setattr(pl, "_build", lambda *a: (builds.append(a), real_build(*a)))
    path = pl.pileup_library_file(N_LIB, folder=tmp_path)
    assert pl.pileup_library_file(N_LIB, folder=tmp_path) == path and len(builds) == 1
    lib = pl.load_library(str(path))
    assert lib.n_events == N_LIB and len(lib.rows) > 20 * N_LIB
    eta = np.arcsinh(lib.rows["pz"] / np.hypot(lib.rows["px"], lib.rows["py"]))
    assert np.abs(eta).max() < pl.LIBRARY_ETA_MAX
    assert not np.isin(np.abs(lib.rows["pid"]), (12, 14, 16)).any()
    content = _digest(path)
    # a damaged file is rebuilt, with the same content (fixed seed)
    path.write_bytes(path.read_bytes()[:1000])
    assert pl.pileup_library_file(N_LIB, folder=tmp_path) == path and len(builds) == 2
    assert _digest(path) == content


def test_overlay_draws_poisson_rotated_displaced_interactions(cache):
    lib = pl.load_library(str(pl.pileup_library_file(N_LIB)))
    rng = np.random.default_rng(3)
    pu, n_pu = pl.overlay(lib, 400, 20.0, rng)
    assert not pu["from_pv"].any()
    assert n_pu.mean() == pytest.approx(20.0, rel=0.05) and n_pu.var() == pytest.approx(20.0, rel=0.25)
    # particles per hard event ≈ μ × mean library multiplicity
    per_event = np.bincount(pu["event"], minlength=400)
    mean_mult = len(lib.rows) / lib.n_events
    assert per_event.mean() == pytest.approx(20 * mean_mult, rel=0.1)
    # φ rotation: pT and |p| kept per particle, azimuths spread over the full circle
    assert np.sort(np.hypot(pu["px"], pu["py"]))[-1] <= np.hypot(lib.rows["px"], lib.rows["py"]).max() * (1 + 1e-5)
    phi = np.arctan2(pu["py"], pu["px"])
    assert np.histogram(phi, 8, (-np.pi, np.pi))[0].min() > 0.08 * len(phi)
    # each interaction sits at its own z from the beam spot (σ_z = 53 mm)
    prompt = np.hypot(pu["vx"], pu["vy"]) < 1e-6      # not from a displaced decay
    assert 45 < np.std(pu["vz"][prompt]) < 61
    # same generator state, same overlay
    again, _ = pl.overlay(lib, 400, 20.0, np.random.default_rng(3))
    assert all(np.array_equal(pu[k], again[k]) for k in pu)
    assert pl.overlay(lib, 5, 0.0, rng)[0] == {}


def test_overlay_rotates_vertices_with_momenta(cache):
    lib = pl.load_library(str(pl.pileup_library_file(N_LIB)))
    pu, _ = pl.overlay(lib, 1, 3.0, np.random.default_rng(0))
    displaced = np.hypot(pu["vx"], pu["vy"]) > 1e-3
    assert displaced.any()
    # a daughter flies away from its production vertex's azimuth only through the rotation:
    # the angle between p_T and the transverse vertex is invariant under a common rotation
    src = lib.rows[np.hypot(lib.rows["vx"], lib.rows["vy"]) > 1e-3]
    cross = lambda x, y, a, b: (x * b - y * a) / np.hypot(x, y) / np.hypot(a, b)
    got = np.sort(cross(pu["vx"][displaced], pu["vy"][displaced], pu["px"][displaced], pu["py"][displaced]))
    ref = cross(src["vx"].astype(float), src["vy"].astype(float), src["px"].astype(float), src["py"].astype(float))
    assert np.all(np.min(np.abs(got[:, None] - ref[None, :]), axis=1) < 1e-4)


def test_library_reused_across_chunks_and_workers(cache, tmp_path, monkeypatch):
    builds = []
    real_build = pl._build
    monkeypatch.setattr(pl, "_build", lambda *a: (builds.append(a), real_build(*a)))
    base = dict(sample="qcd", jets=16, seed=4, jets_per_file=8, chunk_events=10,
                pileup=10.0, pileup_library=N_LIB)
    library = next((cache / "pileup").glob("minbias_*.npy"))     # built by the fixture
    stamp = library.stat().st_mtime_ns
    one = generate(GenerateConfig(out=str(tmp_path / "w1"), workers=1, **base), progress=False)
    two = generate(GenerateConfig(out=str(tmp_path / "w2"), workers=2, **base), progress=False)
    assert builds == [] and library.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (cache / "pileup").iterdir()) == sorted(
        [library.name, library.name + ".sha256"])
    # same seed, same bytes, whatever the number of workers
    for a, b in zip(one["files_written"], two["files_written"]):
        assert _digest(Path(a)) == _digest(Path(b))
    # in one process the library is loaded once for all chunks
    pl.load_library.cache_clear()
    for chunk in range(2):
        run_chunk(ChunkTask("qcd", 4, 0, chunk, 5, pileup=10.0, pileup_library=str(library)))
    info = pl.load_library.cache_info()
    assert info.misses == 1 and info.hits == 1


def test_pileup_changes_the_jets_and_seed_changes_the_overlay(cache):
    lib = str(pl.pileup_library_file(N_LIB))
    task = dict(sample="qcd", seed=5, file_index=0, chunk_index=0, n_events=6,
                pileup_library=lib)
    clean = run_chunk(ChunkTask(pileup=0.0, **task)).table
    piled = run_chunk(ChunkTask(pileup=50.0, **task)).table
    again = run_chunk(ChunkTask(pileup=50.0, **task)).table
    assert piled.equals(again) and not piled.equals(clean)
    other_seed = run_chunk(ChunkTask(pileup=50.0, **{**task, "seed": 6})).table
    assert not piled.equals(other_seed)


def test_bad_library_settings_are_refused(tmp_path):
    with pytest.raises(Exception, match="--pileup-library"):
        pl.pileup_library_file(0)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(3))
    with pytest.raises(Exception, match="unknown layout"):
        pl.load_library(str(bad))
    with pytest.raises(Exception, match="--pileup-library"):
        GenerateConfig(sample="qcd", jets=1, out="x", pileup_library=0).validate()
