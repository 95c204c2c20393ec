"""Why an input of the W′ search works or sculpts, on a `sophon-search` study's files.

For each input set, on the same events and with the same PCA as `jetfm anomaly cwola`:
- R²(ln m_JJ): how much of the background's m_JJ the event inputs predict (5-fold
  cross-validated, gradient-boosted regression, the CWoLa fit range);
- AUC SR vs SB: a classifier of signal-region against sideband *background* events (the
  CWoLa regions at the centre). 0.5: the input knows nothing of m_JJ and a CWoLa selection
  cannot sculpt; above it, what CWoLa learns with no signal at all;
- AUC W′ vs QCD: signal against background in the signal region, with labels (5-fold
  cross-validated): the best any weakly supervised selection on these inputs could reach;
  and the same with the two jets' soft-drop masses added (a learned input that was trained
  flat in m_SD may leave the mass out; high-level features have it).

    python bench/search_diagnostics.py --study search     # after `jetfm study sophon-search`
    python bench/search_diagnostics.py --study search --null   # the background-only scan, summed up

Embeddings come from jetfm's cache when the study has run (the same files, rows and runs).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from jetfm.anomaly.cwola import CwolaConfig
from jetfm.anomaly.inputs import load_events, reduce_dimensions
from jetfm.anomaly.run import InputSpec, input_labels

RUNS = ("supervised", "jepa", "before-supervised", "before-jepa")


def plan_inputs(study: Path) -> list[str]:
    """The sophon-search plan's input sets."""
    sup = study / "runs" / "supervised"
    return (["highlevel", f"discriminants:{sup}", f"scores:{sup}"] +
            [f"embedding:{study / 'runs' / r}" for r in RUNS])


def cv_auc(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Cross-validated AUC of a class-balanced gradient-boosted classifier."""
    clf = HistGradientBoostingClassifier(max_iter=200, early_stopping=True,
                                         class_weight="balanced", random_state=seed)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    p = cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))


def cv_r2(x: np.ndarray, target: np.ndarray, seed: int = 0) -> float:
    reg = HistGradientBoostingRegressor(max_iter=200, early_stopping=True, random_state=seed)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)   # strata: target quintiles
    strata = np.searchsorted(np.quantile(target, [0.2, 0.4, 0.6, 0.8]), target)
    pred = cross_val_predict(reg, x, target, cv=folds.split(x, strata))
    return float(r2_score(target, pred))


def diagnose(study: Path, inputs: list[str], centre: float, pca: int) -> list[dict]:
    cfg = CwolaConfig()
    window = (float(cfg.edges[0]), float(cfg.edges[-1]))
    sr_bins, sb_bins = cfg.regions(cfg.centre_of(centre))
    specs = [InputSpec.parse(s) for s in inputs]
    files = [study / "data" / "dijet"], [study / "data" / "wprime"]
    # the jets' m_SD (the first high-level input of each jet), in the events' order
    masses = [load_events(f, "highlevel", None, False, window) for f in files]
    rows = []
    for spec, label in zip(specs, input_labels(specs)):
        t0 = time.time()
        backbone = spec.load()
        bkg, sig = (load_events(f, spec.kind, backbone, False, window) for f in files)
        if not all(np.array_equal(ev.mjj, m.mjj) for ev, m in zip((bkg, sig), masses)):
            raise SystemExit(f"{label}: events not in the high-level inputs' order")
        m_j = [m.x[:, [0, len(m.names) // 2]] for m in masses]
        n_b = len(bkg)
        # PCA fitted on the background alone: the search's data are (almost) all background
        x = reduce_dimensions(np.concatenate([bkg.x, sig.x]), pca, fit_on=np.arange(n_b))
        xb, xs = x[:n_b], x[n_b:]
        b_bin = np.searchsorted(cfg.edges, bkg.mjj, side="right") - 1
        s_bin = np.searchsorted(cfg.edges, sig.mjj, side="right") - 1
        in_sr, in_sb = sr_bins[b_bin], sb_bins[b_bin]
        both = in_sr | in_sb
        sig_sr = sr_bins[s_bin]
        y = np.r_[np.ones(sig_sr.sum(), bool), np.zeros(in_sr.sum(), bool)]
        rows.append({
            "inputs": label,
            "r2_ln_mjj": cv_r2(xb, np.log(bkg.mjj)),
            "auc_sr_vs_sb": cv_auc(xb[both], in_sr[both]),
            "auc_signal": cv_auc(np.concatenate([xs[sig_sr], xb[in_sr]]), y),
            "auc_signal_with_mass": cv_auc(np.concatenate([
                np.c_[xs[sig_sr], m_j[1][sig_sr]], np.c_[xb[in_sr], m_j[0][in_sr]]]), y),
            "n": f"{in_sr.sum()} B + {sig_sr.sum()} S in SR, {in_sb.sum()} B in SB",
            "seconds": round(time.time() - t0, 1)})
        print(f"{label}: {rows[-1]}", flush=True)
    return rows


def null_summary(study: Path) -> None:
    """Per input set of the background-only CWoLa scan: the largest Z (all selections, and
    those keeping >= 1 % of the events, where the asymptotic Z holds: docs/anomaly.md), its
    global Z, and the sculpting over the signal-region centres."""
    res = json.loads((study / "anomaly" / "cwola-null" / "results.json").read_text())
    le = next(iter(res["inputs"].values()))["look_elsewhere"]
    print(f"background only, {res['n_data_events']} events; {le['tests']} tests: expected "
          f"largest local Z {le['expected_max_z_median']:.2f} (median), P(> 2) = "
          f"{100 * le['p_max_z_above_2']:.0f} %\n")
    print("| inputs | max Z, local (global) | max Z, ε ≥ 1 % | sculpting at ε = 10 %, min–max "
          "over centres | at ε = 1 % | selections flagged |")
    print("|---|---|---|---|---|---|")
    for label, r in res["inputs"].items():
        sel = [s for h in r["hunts"] for s in h["selections"]]
        big = [s["z"] for s in sel if s["efficiency"] >= 0.01 and s.get("z") is not None]

        def span(eff):
            v = [s["sculpting"] for s in sel if s["efficiency"] == eff and s["sculpting"]]
            return f"{min(v):.2f}–{max(v):.2f}"
        g = r["look_elsewhere"]
        print(f"| {label} | {g['observed_max_z']:.2f} ({g['global_z']:.2f}) | {max(big):.2f} | "
              f"{span(0.1)} | {span(0.01)} | {r['sculpted_selections']} of {len(sel)} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--study", type=Path, required=True,
                    help="the study folder of `jetfm study sophon-search`")
    ap.add_argument("--inputs", nargs="+", help="input sets (default: the plan's)")
    ap.add_argument("--centre", type=float, default=2800.0, help="signal-region centre, GeV")
    ap.add_argument("--pca", type=int, default=8, help="as the plan's searches (0: off)")
    ap.add_argument("--null", action="store_true",
                    help="only sum up the background-only scan's results.json")
    args = ap.parse_args(argv)
    null = args.study / "anomaly" / "cwola-null" / "results.json"
    needed = null if args.null else args.study / "data" / "dijet"
    if not needed.exists():
        ap.error(f"--study {args.study}: no {needed.relative_to(args.study)}; run "
                 f"`jetfm study sophon-search --out {args.study}` first")
    if args.null:
        null_summary(args.study)
        return 0
    rows = diagnose(args.study, args.inputs or plan_inputs(args.study), args.centre, args.pca)
    print("\n| inputs | R²(ln m_JJ), background | AUC SR vs SB, background | AUC W′ vs QCD in "
          "SR | the same, with both jets' m_SD |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['inputs']} | {r['r2_ln_mjj']:.3f} | {r['auc_sr_vs_sb']:.3f} | "
              f"{r['auc_signal']:.3f} | {r['auc_signal_with_mass']:.3f} |")
    print(f"\nevents: {rows[0]['n']}" if rows else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
