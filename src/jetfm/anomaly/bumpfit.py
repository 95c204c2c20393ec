"""Bump-hunt statistics on a binned m_JJ spectrum, as CWoLa hunting did it.

- The background is the dijet function f(x) = p1 (1−x)^p2 x^(−p3), x = m_JJ/√s, fitted to the
  sideband bin counts by a binned Poisson likelihood, signal-region bins masked; the
  covariance is the inverse of its Fisher information. The model of a bin is f averaged over
  the bin (Gauss–Legendre), so the predicted counts are the fitted integral, not a bin-centre
  approximation. Why not least squares: a CWoLa selection at ε ≤ 1 % leaves tens of events,
  and a χ² fit with σ = √(N+1) pulls the steep function towards its empty high-mass bins,
  predicts ≈ 0 in a signal region holding a few events, and calls them 5σ (on toys of 66
  background events, P(Z > 3) was 5.8 % instead of 0.13 %: bench/bumpfit_calibration.py).
  The least-squares fit of the densities is only the likelihood fit's starting point.
- The signal region is summed into one counting bin. The predicted background b̂ has the fit's
  uncertainty σ_b (covariance propagated), included as a Gaussian-constrained nuisance θ:
  L(s, θ) = Pois(n | s + θ) · Gauss(b̂ | θ, σ_b). q0 = −2 ln λ(0) with s ≥ 0 (q0 = 0 for a
  deficit) and Z = √q0. The simple Z = √(2((s+b)ln(1+s/b) − s)) with s = n − b̂ is also given.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit, minimize

from ..errors import ConfigError, DataError
from ..io import read_text
from ..metrics.core import significance as simple_significance

SQRT_S = 13000.0            # GeV
MIN_FIT_EVENTS = 20         # below this a 3-parameter fit predicts ~0 from empty sidebands
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(5)


def dijet_function(x, p1, p2, p3):
    return p1 * (1.0 - x) ** p2 * x ** (-p3)


def _log_density(x, log_p1, p2, p3):
    return log_p1 + p2 * np.log1p(-x) - p3 * np.log(x)


@dataclass(frozen=True)
class Spectrum:
    """Counts in bins [edges[i], edges[i+1]) of m_JJ in GeV."""
    edges: np.ndarray
    counts: np.ndarray

    def __post_init__(self):
        e, c = np.asarray(self.edges, float), np.asarray(self.counts, float)
        if e.ndim != 1 or len(e) < 2 or c.shape != (len(e) - 1,):
            raise DataError("spectrum: need n+1 bin edges for n counts")
        if not (np.all(np.isfinite(e)) and np.all(np.diff(e) > 0) and e[0] > 0):
            raise DataError("spectrum: bin edges must be finite, positive and increasing")
        if not (np.all(np.isfinite(c)) and np.all(c >= 0)):
            raise DataError("spectrum: counts must be finite and >= 0")
        object.__setattr__(self, "edges", e)
        object.__setattr__(self, "counts", c)

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)


def log_bins(lo: float = 2001.0, hi: float = 4350.0, n: int = 15) -> np.ndarray:
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi and n >= 1):
        raise ConfigError(f"m_JJ binning: need 0 < LO < HI and >= 1 bin, got {lo}, {hi}, {n}")
    return np.geomspace(lo, hi, n + 1)


def check_sqrt_s(sqrt_s: float) -> None:
    """--sqrt-s must be a finite, positive energy (inf would put every bin at x = 0)."""
    if not (math.isfinite(sqrt_s) and sqrt_s > 0):
        raise ConfigError(f"--sqrt-s {sqrt_s:g}: give the collision energy in GeV, a finite "
                          "number > 0 (default 13000)")


def read_counts(path) -> Spectrum:
    """A text file with one bin per line: low edge, high edge, count (commas or whitespace; '#'
    comments). Bins must be contiguous."""
    path = Path(path)
    text = read_text(path, "--counts")   # one bin per line: low edge, high edge, count
    rows = []
    for k, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].replace(",", " ").strip()
        if not line:
            continue
        parts = line.split()
        try:
            vals = [float(v) for v in parts]
        except ValueError:
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise DataError(f"{path}:{k}: expected 'low high count', got {shown!r}") from None
        if len(vals) != 3:
            raise DataError(f"{path}:{k}: expected 3 numbers (low edge, high edge, count), "
                            f"got {len(vals)}")
        rows.append(vals)
    if len(rows) < 4:
        raise DataError(f"{path}: {len(rows)} bin(s); the fit needs at least 4")
    rows = np.asarray(rows)
    if not np.allclose(rows[1:, 0], rows[:-1, 1], rtol=1e-9, atol=1e-6):
        raise DataError(f"{path}: bins are not contiguous (a bin's low edge must equal the "
                        "previous bin's high edge)")
    try:
        return Spectrum(np.append(rows[:, 0], rows[-1, 1]), rows[:, 2])
    except DataError as e:
        raise DataError(f"{path}: {e}") from None


@dataclass
class FitResult:
    theta: np.ndarray             # ln p1, p2, p3 (p1: density per GeV); the fit's parameters
    cov: np.ndarray               # their covariance
    edges: np.ndarray
    counts: np.ndarray
    fit_mask: np.ndarray          # bins used in the fit
    sqrt_s: float
    chi2: float
    ndof: int

    @property
    def params(self) -> np.ndarray:
        return np.array([math.exp(self.theta[0]), self.theta[1], self.theta[2]])

    @property
    def errors(self) -> np.ndarray:
        """σ of p1, p2, p3 (σ_p1 = p1·σ_ln p1)."""
        err = np.sqrt(np.clip(np.diag(self.cov), 0, None))
        return np.array([self.params[0] * err[0], err[1], err[2]])

    def expected(self, theta=None) -> np.ndarray:
        """Predicted counts per bin."""
        t = self.theta if theta is None else theta
        ex = self.edges / self.sqrt_s
        return _bin_avg(ex[:-1], ex[1:], *t) * np.diff(self.edges)

    def expected_band(self) -> tuple[np.ndarray, np.ndarray]:
        """(predicted counts, their 1σ uncertainty from the fit covariance) per bin."""
        jac = self._jacobian(self.expected)
        return self.expected(), np.sqrt(np.einsum("ij,jk,ik->i", jac, self.cov, jac))

    def predicted(self, in_region: np.ndarray) -> tuple[float, float]:
        """(b̂, σ_b) summed over the bins in `in_region`."""
        jac = self._jacobian(lambda t: self.expected(t)[in_region].sum()[None])
        b = float(self.expected()[in_region].sum())
        return b, float(np.sqrt(max((jac @ self.cov @ jac.T)[0, 0], 0.0)))

    def _jacobian(self, fn) -> np.ndarray:
        t0 = np.asarray(self.theta, float)
        steps = 1e-6 * np.maximum(np.abs(t0), 1.0)
        cols = []
        for k in range(len(t0)):
            up, dn = t0.copy(), t0.copy()
            up[k] += steps[k]
            dn[k] -= steps[k]
            cols.append((fn(up) - fn(dn)) / (2 * steps[k]))
        return np.stack(cols, axis=-1)


def fit_background(spec: Spectrum, mask_region: np.ndarray | None = None,
                   sqrt_s: float = SQRT_S) -> FitResult:
    """Fit f to the bin densities outside `mask_region` (bool per bin). A fit that diverges
    (parameters or predictions beyond the floating-point range) is a DataError saying so."""
    check_sqrt_s(sqrt_s)
    if not sqrt_s > spec.edges[-1]:
        raise ConfigError(f"--sqrt-s {sqrt_s:g} GeV must exceed the last bin edge "
                          f"{spec.edges[-1]:g} GeV")
    use = np.ones(len(spec.counts), bool) if mask_region is None else ~np.asarray(mask_region)
    if use.sum() < 4:
        raise ConfigError(f"the background fit needs >= 4 bins outside the signal region, "
                          f"has {int(use.sum())}")
    if spec.counts[use].sum() < MIN_FIT_EVENTS:
        raise DataError(f"the fitted bins hold {spec.counts[use].sum():g} events; the fit "
                        f"needs at least {MIN_FIT_EVENTS}")
    ex = spec.edges / sqrt_s
    dens = spec.counts / spec.widths
    sigma = np.sqrt(spec.counts + 1.0) / spec.widths
    lo, hi = ex[:-1][use], ex[1:][use]
    xc = 0.5 * (lo + hi)

    def model(_, log_p1, p2, p3):      # bin-averaged density; ln p1 keeps the scale well posed
        return _bin_avg(lo, hi, log_p1, p2, p3)

    # overflow on the way is judged by the result below, not printed as warnings
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            # start from the weighted linear fit of ln density (exact for a line in the logs),
            # then the least-squares fit of the densities, then the Poisson likelihood
            a = np.stack([np.ones_like(xc), np.log1p(-xc), -np.log(xc)], axis=1)
            y = np.log(np.maximum(dens[use], 0.5 / spec.widths[use]))
            w = np.sqrt(np.maximum(spec.counts[use], 1.0))
            start = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)[0]
            popt, _ = curve_fit(model, xc, dens[use], p0=start, sigma=sigma[use],
                                absolute_sigma=True, maxfev=20000)
            _check_diverged(popt)
            popt, pcov = _poisson_fit(popt, lo, hi, spec.widths[use], spec.counts[use])
        except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError) as e:
            raise DataError(f"the background fit failed: it did not converge ({e})") from None
        _check_diverged(popt)
        if not np.all(np.isfinite(pcov)):
            raise DataError("the background fit failed: degenerate (infinite covariance): too "
                            "few populated sideband bins")
        mu = model(xc, *popt) * spec.widths[use]
        chi2 = float((((spec.counts[use] - mu) ** 2) / mu).sum())    # Pearson, on the counts
        fit = FitResult(np.asarray(popt, float), pcov, spec.edges, spec.counts, use, sqrt_s,
                        chi2, int(use.sum() - 3))
        exp, err = fit.expected_band()
        if not (np.isfinite(fit.chi2) and np.all(np.isfinite(exp)) and np.all(np.isfinite(err))
                and np.all(np.isfinite(fit.errors))):
            _check_diverged(popt, force=True)
    return fit


def _poisson_fit(theta0, lo, hi, widths, counts) -> tuple[np.ndarray, np.ndarray]:
    """Maximum of the binned Poisson likelihood of `counts` in bins [lo, hi] (in x) from
    `theta0`, and its covariance (inverse Fisher information, Σ_i ∇μ_i ∇μ_iᵀ / μ_i)."""
    def mu_and_jac(theta):
        x = _gl_points(lo, hi)
        term = 0.5 * np.exp(_log_density(x, *theta)) * _GL_WEIGHTS[None, :] * widths[:, None]
        jac = np.stack([term.sum(1), (term * np.log1p(-x)).sum(1),
                        -(term * np.log(x)).sum(1)], axis=1)
        return term.sum(1), jac

    def nll(theta):
        mu, jac = mu_and_jac(theta)
        if not np.all(np.isfinite(mu)) or np.any(mu <= 0):
            return np.inf, np.zeros(3)
        return float((mu - counts * np.log(mu)).sum()), (1.0 - counts / mu) @ jac

    res = minimize(nll, np.asarray(theta0, float), jac=True, method="BFGS",
                   options={"gtol": 1e-8, "maxiter": 2000})
    theta = res.x if np.isfinite(res.fun) else np.asarray(theta0, float)
    mu, jac = mu_and_jac(theta)
    return theta, np.linalg.inv((jac / mu[:, None]).T @ jac)


_MAX_LOG = math.log(np.finfo(float).max)


def _check_diverged(theta, force: bool = False) -> None:
    """DataError unless the fitted ln p1, p2, p3 are finite and p1 = e^(ln p1) is a
    representable positive number."""
    t = np.asarray(theta, float)
    if force or not (np.all(np.isfinite(t)) and abs(t[0]) < _MAX_LOG):
        raise DataError(f"the background fit failed: it diverged (ln p1 = {t[0]:.4g}, "
                        f"p2 = {t[1]:.4g}, p3 = {t[2]:.4g}: beyond the floating-point range); "
                        "the spectrum does not follow the dijet function (check --counts, "
                        "the binning and --sqrt-s)")


def _gl_points(lo, hi) -> np.ndarray:
    """(bins, 5) Gauss–Legendre points of each bin [lo, hi]."""
    return 0.5 * (hi - lo)[:, None] * _GL_NODES[None, :] + 0.5 * (hi + lo)[:, None]


def _bin_avg(lo, hi, log_p1, p2, p3):
    """The density averaged over each bin [lo, hi] in x (5-point Gauss–Legendre)."""
    x = _gl_points(lo, hi)
    return 0.5 * (np.exp(_log_density(x, log_p1, p2, p3)) * _GL_WEIGHTS[None, :]).sum(axis=1)


def profile_q0(n: float, b: float, sigma_b: float) -> float:
    """−2 ln λ(s=0) for one counting bin with a Gaussian-constrained background (s ≥ 0)."""
    if not (b > 0 and sigma_b >= 0 and n >= 0):
        raise DataError(f"significance: need b > 0, σ_b >= 0, n >= 0; got {b}, {sigma_b}, {n}")
    if n <= b:
        return 0.0
    if sigma_b == 0:
        theta = b
    else:   # θ̂̂ maximises Pois(n|θ)·Gauss(b|θ,σ): θ² + θ(σ²−b) − nσ² = 0
        s2 = sigma_b**2
        theta = 0.5 * ((b - s2) + math.sqrt((b - s2) ** 2 + 4 * n * s2))
    q0 = 2 * (n * math.log(n / theta) - (n - theta))
    if sigma_b > 0:
        q0 += (theta - b) ** 2 / sigma_b**2
    return max(q0, 0.0)


@dataclass
class BumpResult:
    fit: FitResult
    signal_region: np.ndarray     # bool per bin
    observed: float
    predicted: float
    predicted_error: float
    z: float                      # √q0, profile likelihood with the fit uncertainty
    z_simple: float               # √(2((s+b)ln(1+s/b) − s)), no uncertainty

    def as_dict(self) -> dict:
        f = self.fit
        return {"params": {"p1": f.params[0], "p2": f.params[1], "p3": f.params[2]},
                "param_errors": {"p1": f.errors[0], "p2": f.errors[1], "p3": f.errors[2]},
                "chi2": f.chi2, "ndof": f.ndof, "observed": self.observed,
                "predicted": self.predicted, "predicted_error": self.predicted_error,
                "z": self.z, "z_simple": self.z_simple}


def bump_hunt(spec: Spectrum, signal_region: np.ndarray, sqrt_s: float = SQRT_S) -> BumpResult:
    """Fit the sidebands, predict the signal region, and test it as one counting bin."""
    sr = np.asarray(signal_region, bool)
    if sr.shape != spec.counts.shape or not sr.any():
        raise ConfigError("the signal region must contain at least one bin of the spectrum")
    fit = fit_background(spec, sr, sqrt_s)
    with np.errstate(all="ignore"):
        b, sb = fit.predicted(sr)
    n = float(spec.counts[sr].sum())
    if not (math.isfinite(b) and math.isfinite(sb)):
        raise DataError(f"the background fit failed: its prediction in the signal region "
                        f"overflows ({b:g} +- {sb:g} events)")
    if not b > 0:
        raise DataError(f"the fit predicts {b:g} background events in the signal region")
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            z = math.sqrt(profile_q0(n, b, sb))
            zs = float(simple_significance(max(n - b, 0.0), b))
    except (ArithmeticError, ValueError) as e:
        raise DataError(f"the significance of n = {n:g} over b = {b:g} +- {sb:g} cannot be "
                        f"computed in floating point ({e})") from None
    if not (math.isfinite(z) and math.isfinite(zs)):
        raise DataError(f"the significance of n = {n:g} over b = {b:g} +- {sb:g} is not finite")
    return BumpResult(fit, sr, n, b, sb, z, zs)


EDGE_TOLERANCE = 0.05    # a --signal-region edge snaps to a bin edge this close (× bin width)


def _snap(e: np.ndarray, x: float, lo: float, hi: float) -> int:
    """Index of the bin edge `x` means: the nearest one, if within EDGE_TOLERANCE of the
    neighbouring bin's width; an edge inside a bin is refused, naming that bin."""
    k = int(np.argmin(np.abs(e - x)))
    width = e[min(k + 1, len(e) - 1)] - e[max(k - 1, 0)]
    width = width / (2 if 0 < k < len(e) - 1 else 1)
    if abs(e[k] - x) > EDGE_TOLERANCE * width:
        inner = np.searchsorted(e, x) - 1
        where = (f"inside the bin {e[inner]:g}-{e[inner + 1]:g} GeV" if 0 <= inner < len(e) - 1
                 else f"outside the spectrum ({e[0]:g}-{e[-1]:g} GeV)")
        raise ConfigError(f"--signal-region {lo:g} {hi:g}: {x:g} lies {where}; give bin "
                          "edges (the spectrum's edges are the first two columns of --counts)")
    return k


def region_mask(edges: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Bins between the bin edges nearest to `lo` and `hi` (each must lie within
    EDGE_TOLERANCE of a bin width of an edge: a value like 2730 for an edge at 2729.9
    takes that edge, never one bin fewer)."""
    e = np.asarray(edges, dtype=float)
    i, j = _snap(e, lo, lo, hi), _snap(e, hi, lo, hi)
    if j <= i:
        raise ConfigError(f"--signal-region {lo:g} {hi:g}: contains no whole bin of the "
                          f"spectrum ({e[0]:g}-{e[-1]:g} GeV)")
    inside = np.zeros(len(e) - 1, dtype=bool)
    inside[i:j] = True
    return inside


def format_bump(res: BumpResult) -> str:
    f = res.fit
    lines = [f"fit (binned Poisson likelihood): f(x) = p1 (1-x)^p2 x^-p3, "
             f"x = m_JJ/{f.sqrt_s:g} GeV, {int(f.fit_mask.sum())} bins, "
             f"Pearson chi2/ndof = {f.chi2:.2f}/{f.ndof}"]
    for name, v, e in zip(("p1", "p2", "p3"), f.params, f.errors):
        lines.append(f"  {name} = {v:.6g} +- {e:.3g}")
    sr = res.signal_region
    lines += [f"signal region {f.edges[:-1][sr][0]:g}-{f.edges[1:][sr][-1]:g} GeV "
              f"({int(sr.sum())} bins)",
              f"  observed  = {res.observed:.0f}",
              f"  predicted = {res.predicted:.2f} +- {res.predicted_error:.2f}",
              f"Z = {res.z:.3f}",
              f"Z_simple = {res.z_simple:.3f}  (sqrt(2((s+b)ln(1+s/b)-s)), s = n - b, "
              "no fit uncertainty)"]
    return "\n".join(lines)
