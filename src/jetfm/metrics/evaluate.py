"""One call from a model's test-set outputs to ``results.json`` and the standard figures.

``results.json`` is strict JSON (no NaN/Infinity tokens, no numpy types). Two conventions:

* ``"inf"`` (the string) — an infinite rejection: no background jet passed the cut that keeps
  the requested signal efficiency (perfect separation or too few background jets);
* ``null`` — undefined: e.g. max SIC when no ROC point passes the ε_B floor.

Layout::

    {"n_jets", "n_classes", "label_set", "accuracy",
     "auc_per_class": {label: AUC}, "auc_macro",
     "discriminants": {name: {"signal", "background", "leptonic", "n_sig", "n_bkg", "auc",
                              "rejection": {"30": 1/ε_B at ε_S=30%, "50": .., ["99": ..]},
                              "max_sic", "max_sic_eff_s", "max_sic_eff_b", "sic_eff_b_floor"}},
     "discriminants_skipped": {name: reason},
     "confusion": {"groups", "matrix" (row-normalised), "counts"},
     "history": {"final": {key: last}, "best": {key: min loss / max acc}}   # if given
     "plots": [file names], "conventions": {...}}
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score

from jetfm import labels as L
from jetfm.io import atomic_path
from jetfm.metrics.core import (
    InvalidScoresError, accuracy, auc, check_probs, max_sic, rejection_at, roc,
)
from jetfm.metrics.discriminants import (
    Discriminant, builtin_discriminants, discriminant, label_set_of, safe_name,
)

__all__ = ["evaluate_scores", "to_jsonable", "naming_the_file", "REJECTION_POINTS",
           "LEPTONIC_POINT"]

REJECTION_POINTS = (0.3, 0.5)
LEPTONIC_POINT = 0.99
CONVENTIONS = {
    "inf": "string 'inf': infinite rejection, no background jet passed the cut",
    "null": "undefined, e.g. max_sic when no ROC point has eps_B above the floor",
    "rejection": "1/eps_B at eps_S = key percent, eps_B linearly interpolated on the ROC",
    "max_sic": "max eps_S/sqrt(eps_B) over ROC points with eps_B > 1/(n_bkg*rel_unc^2)",
    "confusion": "rows = true group, columns = predicted (argmax) group, rows sum to 1",
}


def evaluate_scores(labels, probs, label_names: Sequence[str], out_dir,
                    history: Mapping[str, Sequence[float]] | None = None, *,
                    discriminants: Sequence[Discriminant] | None = None,
                    rel_unc: float = 0.2, plots: bool = True,
                    provenance: Mapping[str, object] | None = None) -> dict:
    """Compute every docs/design.md tagging metric, write ``out_dir/results.json`` and the figures.

    ``labels`` (N,) true class indices into ``label_names``; ``probs`` (N, C) softmax outputs;
    ``history`` optional training curves, e.g. ``{"train_loss": [...], "val_loss": [...],
    "train_acc": [...], "val_acc": [...]}`` per epoch or step. ``discriminants`` overrides the
    built-ins (:func:`~jetfm.metrics.discriminants.builtin_discriminants`). Raises
    :class:`~jetfm.metrics.core.InvalidScoresError` (a ``DataError`` and a ``ValueError``) on
    inconsistent inputs. ``provenance`` (e.g. run directory, input files) is stored as is.
    Returns the results dict (as written).

    Nothing is replaced until every file is complete: the figures and results.json are
    written to temporary names first and renamed at the end, results.json (the file readers
    trust) last; a failure (a full disk) leaves no new file and no folder it made."""
    label_names = [str(n) for n in label_names]
    y, p = _validate(labels, probs, label_names)
    hist = _validate_history(history) if history is not None else None
    out_dir = Path(out_dir)

    res: dict = {"n_jets": len(y), "n_classes": len(label_names),
                 "label_set": label_set_of(label_names), "accuracy": accuracy(y, p)}
    res["auc_per_class"] = _per_class_auc(y, p, label_names)
    vals = list(res["auc_per_class"].values())
    res["auc_macro"] = float(np.mean(vals)) if vals else None

    discs = builtin_discriminants(label_names) if discriminants is None else list(discriminants)
    res["discriminants"], res["discriminants_skipped"], curves = {}, {}, {}
    for d in discs:
        out = _evaluate_discriminant(d, y, p, label_names, rel_unc)
        if isinstance(out, str):
            res["discriminants_skipped"][d.name] = out
            continue
        res["discriminants"][d.name], curves[d.name] = out
    groups, g_true, g_pred = _groups(y, p.argmax(axis=1), label_names)
    idx = list(range(len(groups)))
    res["confusion"] = {
        "groups": groups,
        "matrix": confusion_matrix(g_true, g_pred, labels=idx, normalize="true"),
        "counts": confusion_matrix(g_true, g_pred, labels=idx),
    }
    if hist is not None:
        res["history"] = _history_summary(hist)
    with contextlib.ExitStack() as staged:     # renamed in reverse order: results.json last
        results = out_dir / "results.json"
        with naming_the_file(results):
            results_tmp = staged.enter_context(atomic_path(results))   # makes out_dir

        def draw(name: str, plot) -> str:
            """`plot(path)` draws figure `name` to a temporary name, renamed at the end."""
            with naming_the_file(out_dir / name):
                plot(staged.enter_context(atomic_path(out_dir / name)))
            return name

        res["plots"] = _plots(draw, discs, curves, res, hist) if plots else []
        res["conventions"] = CONVENTIONS
        res.update(provenance or {})
        res = to_jsonable(res)
        with naming_the_file(results):
            Path(results_tmp).write_text(json.dumps(res, indent=2) + "\n")
    return res


@contextlib.contextmanager
def naming_the_file(path):
    """An OSError while writing `path` (a full disk: ENOSPC) names `path`, not the temporary
    file it was being written to (or nothing), so the CLI's one line says which file failed."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None or exc.filename == os.fspath(path):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc


def _validate(labels, probs, label_names):
    if len(label_names) < 2 or len(set(label_names)) != len(label_names):
        raise InvalidScoresError(f"need >= 2 distinct label names, got {len(label_names)}")
    y = np.asarray(labels)
    if y.ndim != 1:
        raise InvalidScoresError(f"labels must be (N,), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise InvalidScoresError("labels must be integer class indices (found NaN/fractions)")
    elif y.dtype.kind not in "iu":
        raise InvalidScoresError(f"labels must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    p = np.asarray(probs)
    if p.ndim != 2 or p.shape[0] != len(y):
        raise InvalidScoresError(f"probs shape {p.shape} does not match labels shape {y.shape}")
    if len(y) == 0:
        raise InvalidScoresError("no jets to evaluate")
    p = check_probs(p, n_classes=len(label_names))
    bad = (y < 0) | (y >= len(label_names))
    if np.any(bad):
        raise InvalidScoresError(
            f"{bad.sum()} labels outside [0, {len(label_names)}), e.g. {y[bad][0]}")
    return y, p


def _validate_history(history) -> dict[str, np.ndarray]:
    if not isinstance(history, Mapping):
        raise InvalidScoresError(f"history must be a dict of lists, got {type(history).__name__}")
    out = {}
    for key, values in history.items():
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 1:
            raise InvalidScoresError(f"history[{key!r}] must be a flat list of numbers")
        out[str(key)] = arr
    return out


def _per_class_auc(y, p, label_names) -> dict[str, float]:
    """One-vs-rest AUC of each class's own probability, for classes with jets in and out."""
    out = {}
    for c, name in enumerate(label_names):
        pos = y == c
        if 0 < pos.sum() < len(y):
            out[name] = float(roc_auc_score(pos, p[:, c]))
    return out


def _evaluate_discriminant(d: Discriminant, y, p, label_names, rel_unc):
    """(metrics dict, (eff_s, eff_b, auc)) or the reason it is skipped."""
    try:
        sig_idx, bkg_idx = d.indices(label_names)
    except KeyError as e:
        return str(e.args[0])
    is_sig, is_bkg = np.isin(y, sig_idx), np.isin(y, bkg_idx)
    n_sig, n_bkg = int(is_sig.sum()), int(is_bkg.sum())
    if n_sig == 0 or n_bkg == 0:
        return f"no jets: {n_sig} signal, {n_bkg} background"
    score = discriminant(p, sig_idx, bkg_idx, d.weights)
    eff_s, eff_b, _ = roc(score[is_sig], score[is_bkg])
    points = REJECTION_POINTS + ((LEPTONIC_POINT,) if d.leptonic else ())
    rej = rejection_at(np.array(points), eff_s, eff_b)
    sic, sic_s, sic_b = max_sic(eff_s, eff_b, n_bkg, rel_unc, return_point=True)
    a = auc(score[is_sig], score[is_bkg])
    out = {
        "signal": list(d.signal), "background": list(d.background), "leptonic": d.leptonic,
        "n_sig": n_sig, "n_bkg": n_bkg, "auc": a,
        "rejection": {f"{round(100 * e)}": float(r) for e, r in zip(points, rej)},
        "max_sic": sic, "max_sic_eff_s": sic_s, "max_sic_eff_b": sic_b,
        "sic_eff_b_floor": 1.0 / (n_bkg * rel_unc**2),
        "_scores": (score[is_sig], score[is_bkg]),   # for the plots; dropped before writing
    }
    return out, (eff_s, eff_b, a)


def _groups(y_true, y_pred, label_names):
    """Confusion groups: the JetClass-II families (res2p/res34p/qcd) or else the classes."""
    if label_set_of(label_names) != "jetclass2":
        return list(label_names), y_true, y_pred
    fam = [L.family_of(L.label_index(n)) for n in label_names]
    groups = [g for g in L.FAMILIES if g in fam]
    to_group = np.array([groups.index(f) for f in fam])
    return groups, to_group[y_true], to_group[y_pred]


def _history_summary(hist: dict[str, np.ndarray]) -> dict:
    final, best = {}, {}
    for key, arr in hist.items():
        if len(arr) == 0 or key in ("epoch", "step"):
            continue
        final[key] = float(arr[-1])
        finite = arr[np.isfinite(arr)]
        if finite.size and "loss" in key.lower():
            best[key] = float(finite.min())
        elif finite.size and "acc" in key.lower():
            best[key] = float(finite.max())
    return {"final": final, "best": best}


def _plots(draw, discs, curves, res, hist) -> list[str]:
    """The figures, each through `draw(file name, plot(path))`; returns their file names."""
    from jetfm.metrics import plots as P  # mplhep is slow to import; only load it to draw

    written = []
    by_group: dict[str, dict] = {}
    for d in discs:
        if d.name in curves:
            by_group.setdefault(d.group, {})[d.name] = curves[d.name]
    for group, group_curves in by_group.items():
        written.append(draw(f"roc_{safe_name(group)}.png",
                            lambda path: P.plot_roc(group_curves, path, title=group)))
    for name, metrics in res["discriminants"].items():
        s, b = metrics["_scores"]
        written.append(draw(f"disc_{safe_name(name)}.png",
                            lambda path: P.plot_discriminant(s, b, path, name)))
    conf = res["confusion"]
    written.append(draw("confusion.png",
                        lambda path: P.plot_confusion(conf["matrix"], conf["groups"], path)))
    if hist is not None:
        written.append(draw("history.png", lambda path: P.plot_history(hist, path)))
    return written


def to_jsonable(obj):
    """Plain-JSON copy: numpy → Python, ±inf → "inf"/"-inf", NaN → None; drops "_" keys."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot write {type(obj).__name__} to results.json")
