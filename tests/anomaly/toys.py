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
