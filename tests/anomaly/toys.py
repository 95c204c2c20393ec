"""Toy dijet spectra for the anomaly tests: m_JJ drawn from the dijet function, features
independent of m_JJ for the background; an optional planted signal (narrow in m_JJ, shifted in
two of the features)."""
import numpy as np

from jetfm.anomaly.bumpfit import SQRT_S, dijet_function


def draw_mjj(rng, n, params=(1.0, 10.0, 5.0), lo=2001.0, hi=4350.0, asimov=False):
    """n masses from f(x) on [lo, hi] by inverse-CDF sampling on a fine grid; `asimov`:
    stratified quantiles, so the binned spectrum follows f without Poisson fluctuations."""
    grid = np.linspace(lo, hi, 20001)
    pdf = dijet_function(grid / SQRT_S, *params)
    cdf = np.concatenate([[0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    u = rng.permutation((np.arange(n) + 0.5) / n) if asimov else rng.random(n)
    return np.interp(u, cdf / cdf[-1], grid)


def toy_events(seed=0, n_bkg=30000, n_sig=0, dim=4, mass=3000.0, width=60.0, shift=2.5,
               asimov=False):
    rng = np.random.default_rng(seed)
    mjj = draw_mjj(rng, n_bkg, asimov=asimov)
    x = rng.normal(size=(n_bkg, dim))
    truth = np.zeros(n_bkg, bool)
    if n_sig:
        ms = rng.normal(mass, width, n_sig)
        xs = rng.normal(size=(n_sig, dim))
        xs[:, :2] = rng.normal(shift, 0.4, size=(n_sig, 2))
        mjj, x = np.concatenate([mjj, ms]), np.concatenate([x, xs])
        truth = np.concatenate([truth, np.ones(n_sig, bool)])
    return mjj, x.astype(np.float32), truth


def write_dijet_parquet(path, n_events=400, seed=0, weight=1.0, lo=2001.0, hi=4350.0):
    """A Parquet file of `n_events` synthetic dijet events (two rows each) with just the columns
    the high-level inputs read, m_JJ from the dijet function on [lo, hi]; `weight`: every
    event's event_weight (≠ 1: a pT-hat-biased sample). 0 events: an empty file (schema only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jetfm.schema import OUTPUT_SCHEMA, TRUTH_COLUMNS
    types = {f.name: f.type for f in list(OUTPUT_SCHEMA) + list(TRUTH_COLUMNS)}
    rng = np.random.default_rng(seed)
    n = 2 * n_events
    tau1 = rng.uniform(0.2, 0.6, n)
    cols = {"jet_sdmass": rng.uniform(10, 250, n), "jet_tau1": tau1,
            "jet_tau2": tau1 * rng.uniform(0.2, 1, n), "jet_tau3": tau1 * rng.uniform(0.1, 0.5, n),
            "jet_tau4": tau1 * rng.uniform(0.05, 0.3, n),
            "jet_nparticles": rng.integers(5, 80, n), "jet_pt": rng.uniform(800, 2000, n),
            "event_id": np.repeat(np.arange(n_events), 2), "jet_index": np.tile([0, 1], n_events),
            "event_mjj": np.repeat(draw_mjj(rng, n_events, lo=lo, hi=hi) if n_events else
                                   np.zeros(0), 2),
            "event_weight": np.full(n, weight)}
    table = pa.table({k: pa.array(np.asarray(v).astype(types[k].to_pandas_dtype()), types[k])
                      for k, v in cols.items()})
    pq.write_table(table, path)
    return path
