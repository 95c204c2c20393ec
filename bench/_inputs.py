"""Inputs for bench/part_vs_weaver.py: synthetic jets with realistic multiplicities, or real
jets from jetfm Parquet / JetClass ROOT files, padded to 128 particles as weaver's loader does."""
from __future__ import annotations

import numpy as np
import torch

MAX_PARTICLES = 128


def draw_lengths(n: int, rng: np.random.Generator, max_particles: int = MAX_PARTICLES):
    """Jet multiplicities: 20 + Gamma(2, 15), clipped to [20, max]: mean ≈ 50, long tail
    (JetClass-like; ~0.5 % of jets reach the 128 cap)."""
    return np.clip(20 + rng.gamma(2.0, 15.0, size=n), 20, max_particles).astype(int)


def synthetic_batch(lengths, n_features: int, num_classes: int, rng: np.random.Generator,
                    max_particles: int = MAX_PARTICLES):
    """x, v, mask padded to ``max_particles`` (zeros), labels. 4-vectors are massive
    particles around a jet axis, pT-ordered, so pair features look like a jet's."""
    n = len(lengths)
    shape = (n, 1, max_particles)
    pt = np.sort(np.exp(rng.normal(0.5, 1.2, size=shape)), axis=-1)[..., ::-1]
    eta = 0.4 + 0.25 * rng.standard_normal(shape)
    phi = 1.0 + 0.25 * rng.standard_normal(shape)
    mass = 0.14 * rng.random(shape)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    v = np.concatenate((px, py, pz, energy), axis=1)
    mask = (np.arange(max_particles)[None] < np.asarray(lengths)[:, None])[:, None, :]
    x = rng.standard_normal((n, n_features, max_particles))
    labels = rng.integers(0, num_classes, size=n)
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return as_t(x * mask), as_t(v * mask), as_t(mask), torch.from_numpy(labels).long()


def _read(paths, columns, n_jets, seed: int = 0):
    """``n_jets`` jets drawn evenly from every file under ``paths`` (a mix of samples, not
    the first file only), shuffled with a fixed seed."""
    import awkward as ak

    from jetfm.data.readers import expand_paths, iter_jets

    files = expand_paths(paths)
    per_file = -(-n_jets // len(files))
    parts = []
    for path in files:
        got = 0
        for _, batch in iter_jets(path, columns=columns, batch_size=per_file):
            parts.append(batch[: per_file - got])
            got += len(parts[-1])
            if got >= per_file:
                break
    jets = ak.concatenate(parts) if parts else []
    if not len(jets):
        raise SystemExit(f"--data: no jets in {paths}")
    return jets[np.random.default_rng(seed).permutation(len(jets))][:n_jets]


def _pad_to(a: np.ndarray, length: int) -> np.ndarray:
    a = a[..., :length]
    return np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, length - a.shape[-1])])


def real_jets(files, n_jets: int, num_classes: int, max_particles: int = MAX_PARTICLES):
    """(x, v, mask, labels, source, lengths) from jetfm Parquet / JetClass ROOT files via
    ``jetfm.data.features.build_inputs`` with the built-in ``jetclass2`` data config (the 17
    JetClass-II features and the 4-vectors), padded to ``max_particles`` as weaver's loader
    does."""
    from jetfm.data.config import load_data_config
    from jetfm.data.features import build_inputs

    cfg = load_data_config("jetclass2")
    jets = _read(files, cfg.required_columns(), n_jets)
    built = build_inputs(jets, cfg, path=str(files[0]))
    x = _pad_to(np.asarray(built["x"], dtype=np.float32), max_particles)
    v = _pad_to(np.asarray(built["v"], dtype=np.float32), max_particles)
    mask = _pad_to(np.asarray(built["mask"]).astype(np.float32), max_particles)
    labels = np.asarray(built["label"]).astype(np.int64) % num_classes
    x, v = x * mask, v * mask
    lengths = mask.sum(axis=(1, 2)).astype(int)
    t = torch.from_numpy
    return (t(np.ascontiguousarray(x)), t(np.ascontiguousarray(v)), t(mask), t(labels),
            "jetfm Parquet via build_inputs (jetclass2 config)", lengths)
