"""The numbers of `jetfm compare` (docs/compare.md): kinematic matching of the reference jets
to simulated ones, then, on the matched samples, the particle-level KS statistic of the model's
input features and jet-level measures with their statistical uncertainties. Pure: `Jets` in,
JSON-ready dicts out (no files, no printing).

Uncertainties: a mean's is its standard error; a quantile's the standard deviation over
`bootstrap` resamples of the jets; a fraction's the binomial one (the standard deviation of its
Beta(k+1, n-k+1) posterior, not zero when k = 0 or n). `pull` = (simulated - reference) /
sqrt(err_ref^2 + err_sim^2): |pull| < 2 is agreement within the statistics.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..errors import ConfigError, DataError
from .jets import FLAGS, MATCH_VARS, TYPES, Jets, feature_names

KS_C95 = 1.358           # c(alpha = 0.05) of the two-sample KS test: D95 = c sqrt((n+m)/(n m))
QUANTILES = (16, 50, 84)
TOP_PIDS = 12             # pids listed per truth flag in the table (all are in the JSON)


def _f(x) -> float | None:
    """A JSON number (None for NaN / inf)."""
    return float(x) if x is not None and math.isfinite(float(x)) else None


def pull(ref: float | None, ref_err: float | None, sim: float | None,
         sim_err: float | None) -> float | None:
    if None in (ref, sim, ref_err, sim_err):
        return None
    diff, err = sim - ref, math.hypot(ref_err, sim_err)
    if err == 0:
        return 0.0 if diff == 0 else None
    return _f(diff / err)


def binomial(k: int, n: int) -> tuple[float | None, float | None]:
    """(k/n, std of the Beta(k+1, n-k+1) posterior); (None, None) for n = 0."""
    if n <= 0:
        return None, None
    return k / n, math.sqrt((k + 1) * (n - k + 1) / ((n + 2) ** 2 * (n + 3)))


def summaries(cols: dict[str, np.ndarray], bootstrap: int,
              rng: np.random.Generator) -> dict[str, dict[str, tuple]]:
    """Per column (all the same length, resampled together): mean, q16, q50, q84 and the
    half width (q84 - q16)/2, each as (value, uncertainty)."""
    names = list(cols)
    if not names or not len(cols[names[0]]):
        return {k: {} for k in names}
    m = np.stack([np.asarray(cols[k], np.float64) for k in names], axis=1)
    n = len(m)

    def stats(a):
        q = np.percentile(a, QUANTILES, axis=0)
        return np.vstack([q, (q[2] - q[0]) / 2])

    base = stats(m)
    boots = [stats(m[rng.integers(0, n, n)]) for _ in range(bootstrap)]
    err = np.std(boots, axis=0) if boots else np.full_like(base, np.nan)
    mean, sem = m.mean(axis=0), m.std(axis=0) / math.sqrt(n)
    keys = ("q16", "q50", "q84", "half_width")
    return {name: {"mean": (_f(mean[i]), _f(sem[i])),
                   **{k: (_f(base[r, i]), _f(err[r, i])) for r, k in enumerate(keys)}}
            for i, name in enumerate(names)}


def _mean(x: np.ndarray) -> tuple[float | None, float | None]:
    if not len(x):
        return None, None
    x = np.asarray(x, np.float64)
    return _f(x.mean()), _f(x.std() / math.sqrt(len(x)))


# --- matching ---

def match(ref: Jets, sim: Jets, neighbours: int = 1,
          max_distance: float = 0.2) -> tuple[np.ndarray, np.ndarray, dict]:
    """(reference rows, simulated rows, record): for each reference jet its `neighbours`
    nearest simulated jets in standardised (log pT, m_SD/pT, |eta|) (the reference's mean and
    spread); a reference jet is matched when all of them are within `max_distance`. Simulated
    jets may be picked more than once (matching with replacement)."""
    from sklearn.neighbors import NearestNeighbors
    if neighbours > len(sim):
        raise ConfigError(f"--neighbours {neighbours} exceeds the {len(sim)} simulated jets")
    xr, xs = ref.matching_space(), sim.matching_space()
    mu, sd = xr.mean(axis=0), xr.std(axis=0)
    sd[sd == 0] = 1.0
    nn = NearestNeighbors(n_neighbors=neighbours).fit((xs - mu) / sd)
    dist, idx = nn.kneighbors((xr - mu) / sd)
    ok = dist[:, -1] <= max_distance
    if not ok.any():
        raise DataError(f"no reference jet has {neighbours} simulated jet(s) within "
                        f"--max-distance {max_distance:g} in (log pT, m_SD/pT, |eta|) "
                        f"(closest: {dist[:, 0].min():.3g}): the samples cover different "
                        "kinematics; compare like with like or raise --max-distance")
    ref_rows = np.flatnonzero(ok)
    sim_rows = idx[ok].ravel()
    d = dist[ok].ravel()
    reuse = np.bincount(sim_rows)
    delta = np.abs(np.repeat(xr[ref_rows], neighbours, axis=0) - xs[sim_rows])
    record = {
        "reference_jets": len(ref), "simulated_jets": len(sim), "matched": int(ok.sum()),
        "matched_fraction": _f(ok.mean()), "neighbours": neighbours,
        "max_distance": max_distance, "variables": list(MATCH_VARS),
        "standardisation": {"mean": [_f(v) for v in mu], "std": [_f(v) for v in sd]},
        "distance": {"median": _f(np.median(d)), "q90": _f(np.percentile(d, 90)),
                     "max": _f(d.max())},
        "median_abs_difference": {v: _f(np.median(delta[:, i]))
                                  for i, v in enumerate(MATCH_VARS)},
        "distinct_simulated": int((reuse > 0).sum()), "max_reuse": int(reuse.max()),
    }
    return ref_rows, sim_rows, record


# --- the measures on the matched samples ---

def ks_features(ref: Jets, sim: Jets, n_sim_distinct: int | None = None,
                progress=None) -> dict:
    """Two-sample KS statistic of each model input feature, particle level. D95 at 95 %
    confidence from the jet counts (particles of one jet are correlated: the honest threshold
    lies between the particle and the jet one) and from the particle counts."""
    from scipy.stats import ks_2samp
    out = {}
    for j, name in enumerate(feature_names()):   # one column at a time: memory
        out[name] = _f(ks_2samp(ref.values("features", j), sim.values("features", j),
                                method="asymp").statistic)
        if progress is not None:
            progress(1)
    n, m = len(ref), n_sim_distinct or len(sim)
    pr, ps = ref.list_length("features"), sim.list_length("features")
    d95 = lambda a, b: _f(KS_C95 * math.sqrt((a + b) / (a * b)))  # noqa: E731
    return {"statistic": out, "d95_jets": d95(n, m), "d95_particles": d95(pr, ps),
            "jets": [n, m], "particles": [pr, ps]}


def _row(group: str, name: str, ref: tuple, sim: tuple) -> dict:
    return {"group": group, "name": name, "reference": list(ref), "simulated": list(sim),
            "pull": pull(ref[0], ref[1], sim[0], sim[1])}


def response(j: Jets) -> np.ndarray:
    """jet pT / GEN-jet pT of the jets that have a GEN jet (genjet_pt > 0)."""
    gen = j.jet["genjet_pt"].astype(np.float64)
    ok = gen > 0
    return j.jet["pt"][ok] / gen[ok]


def displaced(j: Jets) -> tuple[float | None, float | None]:
    """Fraction of charged candidates with |d0| > 10 mm (binomial uncertainty)."""
    return binomial(int(j.jet["n_displaced"].sum()), int(j.jet["n_charged"].sum()))


def multiplicity_columns(j: Jets) -> dict[str, np.ndarray]:
    return {"all": j.jet["n"], **{t: j.jet[f"n_{t}"] for t in TYPES}}


def pid_fractions(j: Jets, flag: str) -> dict[int, float]:
    """Signed pid -> its share of the particles carrying `flag`, most common first."""
    pids = j.values(f"pid_{flag}")
    counts = Counter(pids.tolist())
    return {int(p): c / len(pids) for p, c in counts.most_common()}


def jet_rows(ref: Jets, sim: Jets, bootstrap: int, seed: int = 0) -> list[dict]:
    """Response, energy shares, multiplicities, displaced tracks, truth counts: one row each,
    (value, uncertainty) for either side and the pull. Each side's bootstrap starts from
    `seed` (a sample compared with itself gets the same uncertainties on both sides)."""
    def rng():
        return np.random.default_rng(seed)
    rows = []
    resp = [summaries({"r": response(x)}, bootstrap, rng())["r"] for x in (ref, sim)]
    for key, label in (("q50", "median"), ("q16", "16 % quantile"), ("q84", "84 % quantile"),
                       ("half_width", "(q84 - q16) / 2")):
        rows.append(_row("jet response pT/pT_gen", label, resp[0].get(key, (None, None)),
                         resp[1].get(key, (None, None))))
    gen = [binomial(int((x.jet["genjet_pt"] > 0).sum()), len(x)) for x in (ref, sim)]
    rows.append(_row("jet response pT/pT_gen", "jets with a GEN jet", *gen))
    for t in TYPES:
        rows.append(_row("energy share (mean over jets)", t.replace("_", " "),
                         *(_mean(x.jet[f"e_{t}"]) for x in (ref, sim))))
    mult = [summaries(multiplicity_columns(x), bootstrap, rng()) for x in (ref, sim)]
    for t in mult[0]:
        for key, label in (("mean", "mean"), ("q16", "16 %"), ("q50", "median"),
                           ("q84", "84 %")):
            rows.append(_row(f"multiplicity: {t.replace('_', ' ')}", label,
                             mult[0][t].get(key, (None, None)),
                             mult[1][t].get(key, (None, None))))
    rows.append(_row("displaced tracks", "charged with |d0| > 10 mm",
                     *(displaced(x) for x in (ref, sim))))
    for flag in FLAGS:
        rows.append(_row(f"truth: aux_genpart {flag}", "per jet (mean)",
                         *(_mean(x.jet[flag]) for x in (ref, sim))))
        rows.append(_row(f"truth: aux_genpart {flag}", "jets with one or more",
                         *(binomial(int((x.jet[flag] > 0).sum()), len(x)) for x in (ref, sim))))
    return rows


def truth_pids(ref: Jets, sim: Jets) -> dict:
    """Per truth flag: the pid shares on either side and the pids only one side has."""
    out = {}
    for flag in FLAGS:
        r, s = pid_fractions(ref, flag), pid_fractions(sim, flag)
        out[flag] = {"reference": {str(k): v for k, v in r.items()},
                     "simulated": {str(k): v for k, v in s.items()},
                     "only_reference": sorted(set(r) - set(s)),
                     "only_simulated": sorted(set(s) - set(r))}
    return out


def kinematics(j: Jets) -> dict:
    """Mean and spread of the matching variables (before matching)."""
    x = j.matching_space()
    return {v: {"mean": _f(x[:, i].mean()), "std": _f(x[:, i].std())}
            for i, v in enumerate(MATCH_VARS)}


__all__ = ["match", "ks_features", "jet_rows", "truth_pids", "kinematics", "summaries",
           "binomial", "pull", "response", "displaced", "pid_fractions",
           "multiplicity_columns", "QUANTILES", "KS_C95"]
