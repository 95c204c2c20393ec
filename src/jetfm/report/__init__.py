"""`jetfm report`: one self-contained HTML page (and a Markdown summary) that answers "which
pre-training helps, where, and by how much" from pretrain runs, `jetfm evaluate` and
`jetfm transfer` results.

    build_report(["runs/", "transfer/"], "report.html")   # also writes report.md

Nothing is written unless every input is read and every figure drawn; both files are written
atomically, and only over files an earlier `jetfm report` wrote (never over an input or a file
of someone else's). Transfer results measured on different test jets are shown as separate
groups with a warning, never ranked side by side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io import atomic_path, check_writable_folder
from .collect import (BUILTIN_BACKBONES, METRICS, Inputs, TransferResult, collect, input_files,
                      lpc_key, short_names)
from .groups import by_test_set
from .output import check_outputs

__all__ = ["build_report", "Series", "task_series", "headline", "scratch_reference",
           "signal_background", "baseline_description", "delta_note"]


@dataclass
class Series:
    """One (strategy, mode) of a task: metric -> (mean, std, n_seeds) per labels-per-class."""
    strategy: str              # display name (backbone folder added when a strategy repeats)
    mode: str
    result: TransferResult
    points: dict               # lpc -> {metric: (mean | None, std | None, n)}
    run: str = "-"             # the backbone's run folder (shortest unique); "-": a baseline

    @property
    def mode_label(self) -> str:
        """The mode, with a non-cls representation or an LP-FT schedule when the file has one."""
        return self.result.mode_label

    @property
    def label(self) -> str:
        return f"{self.strategy} / {self.mode_label}"

    @property
    def is_scratch(self) -> bool:
        return self.result.is_scratch

    def lpcs(self) -> list:
        return sorted(self.points, key=lpc_key)

    def get(self, lpc, metric: str = "accuracy"):
        return self.points.get(lpc, {}).get(metric, (None, None, 0))


def aggregate(result: TransferResult) -> dict:
    """Mean and std (ddof 0) over seeds of every metric per labels-per-class; the file's own
    ``summary`` takes precedence where it has the value."""
    by_lpc: dict = {}
    for r in result.runs:
        by_lpc.setdefault(r["labels_per_class"], []).append(r["metrics"])
    points = {}
    for lpc, runs in by_lpc.items():
        summ = result.summary.get(lpc, {})
        points[lpc] = {}
        for m in METRICS:
            vals = np.array([r[m] for r in runs if r[m] is not None], dtype=float)
            mean = float(np.mean(vals)) if vals.size else None
            std = float(np.std(vals)) if vals.size and np.all(np.isfinite(vals)) else None
            if summ.get(f"{m}_mean") is not None:
                mean = summ[f"{m}_mean"]
                std = summ.get(f"{m}_std")
            points[lpc][m] = (mean, std, len(runs))
    return points


def task_series(inputs: Inputs) -> dict[str, list[Series]]:
    """task (with its test-set settings when a task has several, see groups.py) -> its series,
    pre-trained strategies (alphabetical) first, scratch last."""
    out = {}
    runs = _run_names(inputs.transfer)
    for task, results in by_test_set(inputs.transfer)[0].items():
        names = _display_names(results)
        series = [Series(names[i], r.mode, r, aggregate(r), runs.get(r.backbone, "-"))
                  for i, r in enumerate(results)]
        out[task] = sorted(series, key=lambda s: (s.is_scratch, s.strategy, s.mode_label))
    return out


def _run_names(results: list[TransferResult]) -> dict[str, str]:
    """backbone -> the fewest trailing parts of its run folder that tell it from the other
    runs of the report; "not recorded" for an older file without a backbone (none for a
    baseline: it has no pre-training run)."""
    recorded = sorted({r.backbone for r in results if not r.is_scratch and "backbone" in r.data})
    names = dict(zip(recorded, short_names(recorded)))
    names.update({r.backbone: "not recorded" for r in results
                  if not r.is_scratch and "backbone" not in r.data})
    return names


def _display_names(results: list[TransferResult]) -> list[str]:
    """The strategy, with its backbone's folder where that is needed to tell it apart: two
    runs of one strategy, or a pre-trained run whose strategy is also a built-in baseline's
    name (the built-in `random` / `scratch` keeps the bare name)."""
    backbones: dict[str, set] = {}
    for r in results:
        backbones.setdefault(r.strategy, set()).add(r.backbone)
    names = []
    for r in results:
        # a pre-trained result must not read like the baseline of the same name
        looks_builtin = r.strategy in BUILTIN_BACKBONES and not r.is_scratch
        if r.backbone in BUILTIN_BACKBONES or (len(backbones[r.strategy]) == 1
                                               and not looks_builtin):
            names.append(r.strategy)
            continue
        # the bare strategy name among them: a run folder never shortens to it
        others = sorted(b for b in backbones[r.strategy] if b not in BUILTIN_BACKBONES)
        short = short_names(others + [r.strategy])[others.index(r.backbone)]
        names.append(f"{r.strategy} ({short})")
    return names


def scratch_reference(series: list[Series], lpc, metric: str = "accuracy"):
    """The best baseline series (scratch network or random features): (mean, std, series) at
    `lpc` (None if no baseline result there)."""
    best = None
    for s in series:
        mean, std, _ = s.get(lpc, metric)
        if s.is_scratch and mean is not None and (best is None or mean > best[0]):
            best = (mean, std, s)
    return best


def signal_background(result: TransferResult) -> str | None:
    """"signal: Hbb vs background: QCD": the two classes behind a result's ROC and rejection
    (the task's signal class against the first; a task without one: the second class against
    the first, scored p_S/(p_S + p_B)); None where the file does not say."""
    classes, sig = result.data.get("classes"), result.data.get("signal_class")
    if not (isinstance(classes, list) and len(classes) >= 2
            and all(isinstance(c, str) and c for c in classes)):
        return None
    if sig is None:
        sig = 1
    if isinstance(sig, bool) or not isinstance(sig, int) or not 0 < sig < len(classes):
        return None
    text = f"signal: {classes[sig]} vs background: {classes[0]}"
    if len(classes) > 2:    # a multi-class task: the other classes are not in the ROC
        others = len(classes) - 2
        text += (f" (score p_S/(p_S + p_B); the other {others} "
                 f"class{'es' if others > 1 else ''} left out)")
    return text


def baseline_description(s: Series) -> str:
    """"random / linear (frozen random features, cls)", "scratch (network trained from
    scratch)": which baseline a Δ is measured against."""
    r = s.result
    kind = r.data.get("baseline")     # recorded by transfer; older files: from the names
    if kind is None and "baseline" not in r.data:
        kind = ("scratch" if r.mode == "scratch" else
                "random-features" if r.backbone == "random" or r.strategy == "random" else None)
    if kind == "scratch":
        what = "network trained from scratch"
    elif kind == "random-features":
        what = f"frozen random features, {r.representation or 'cls'}"
    else:
        what = "no pre-training"
    name = s.strategy if s.strategy == s.mode_label else s.label
    return f"{name} ({what})"


def _lpc_list(lpcs) -> str:
    shown = [str(v) for v in sorted(lpcs, key=lpc_key)]
    return (", ".join(shown[:-1]) + " and " if len(shown) > 1 else "") + shown[-1] + \
        " labels/class"


def delta_note(series: list[Series]) -> str:
    """What the Δ column of a task's table is measured against: the baseline actually used at
    each labels per class (the best one there), and where there is none."""
    used: dict[int, tuple[Series, list]] = {}
    missing = []
    for lpc in sorted({lpc for s in series if not s.is_scratch for lpc in s.points},
                      key=lpc_key):
        ref = scratch_reference(series, lpc)
        if ref is None:
            missing.append(lpc)
        else:
            used.setdefault(id(ref[2]), (ref[2], []))[1].append(lpc)
    if not used:
        return ("Δ: no baseline (a network trained from scratch or frozen random features) "
                "among these results, so no Δ ('-').")
    if len(used) == 1 and not missing:
        (ref, _), = used.values()
        text = f"Δ vs {baseline_description(ref)}"
    else:
        text = "Δ vs the best baseline at each labels per class: " + "; ".join(
            f"{baseline_description(ref)} at {_lpc_list(lpcs)}" for ref, lpcs in used.values())
    text += (": accuracy minus the baseline's at the same labels per class, in percentage "
             "points; 'baseline' marks the row compared against.")
    if missing:
        text += f" No baseline result at {_lpc_list(missing)}: Δ '-' there."
    return text


def headline(task: str, series: list[Series]) -> dict | None:
    """Best pre-trained (strategy, mode) at the smallest labels-per-class that has a baseline
    result too, against the best baseline there (accuracy; AUC and rejection alongside)."""
    pre = [s for s in series if not s.is_scratch]
    if not pre:
        return None
    lpcs = sorted({lpc for s in pre for lpc in s.points}, key=lpc_key)
    with_scratch = [lpc for lpc in lpcs if scratch_reference(series, lpc)]
    lpc = (with_scratch or lpcs)[0]
    ranked = [s for s in pre if s.get(lpc)[0] is not None]
    if not ranked:
        return None
    best = max(ranked, key=lambda s: s.get(lpc)[0])
    h = {"task": task, "lpc": lpc, "best": best, "acc": best.get(lpc)[:2], "scratch": None}
    ref = scratch_reference(series, lpc)
    where = f"{task}, {lpc} labels/class" if lpc != "all" else f"{task}, all labels"
    text = f"{where}: best {best.label} accuracy {fmt(*h['acc'])}"
    if ref is None:
        h["text"] = text + " (no baseline)"
        return h
    h.update(scratch=ref[2], scratch_acc=ref[:2], diff=h["acc"][0] - ref[0])
    text += f" vs baseline ({ref[2].label}) {fmt(*ref[:2])}: {100 * h['diff']:+.1f} points"
    extra = []
    for m, name in (("auc", "AUC"), ("rejection_at_30", "rejection@30%")):
        a, b = best.get(lpc, m)[0], ref[2].get(lpc, m)[0]
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b):
            extra.append(f"{name} {a - b:+.3f}" if m == "auc" else
                         f"{name} x{a / b:.2f}" if b > 0 else f"{name} {a - b:+.3g}")
    h["text"] = text + (f" ({', '.join(extra)})" if extra else "")
    return h


def fmt(mean, std=None, digits: int = 3) -> str:
    """"0.812 ± 0.010"; "-" when undefined; "inf" for infinite rejection."""
    if mean is None:
        return "-"
    if math.isinf(mean):
        return "inf" if mean > 0 else "-inf"
    big = abs(mean) >= 100
    f = (lambda x: f"{x:.1f}") if big else (lambda x: f"{x:.{digits}f}")
    return f(mean) if std is None else f"{f(mean)} ± {f(std)}"


def build_report(paths, out, title: str | None = None) -> dict:
    """Read `paths`, write `out` (HTML) and its `.md` sibling; returns {"html", "markdown",
    "headlines", "inputs"}."""
    out = Path(out)
    if out.suffix.lower() == ".md":
        raise ConfigError(f"--out {out}: give the .html name; the Markdown summary is written "
                          "next to it")
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; give a file name such as report.html")
    md_path = out.with_suffix(".md")
    check_writable_folder(out.parent)
    inputs = collect(paths)
    check_outputs(out, md_path, input_files(inputs))   # before anything is drawn or written
    from . import html, plots   # matplotlib/mplhep only once the inputs are known good
    tasks = task_series(inputs)
    warnings = by_test_set(inputs.transfer)[1]
    heads = [h for t, s in tasks.items() if (h := headline(t, s))]
    figures = plots.all_figures(inputs, tasks)
    title = title or "jetfm report"
    page = html.render_html(title, inputs, tasks, heads, figures, warnings)
    summary = html.render_markdown(title, inputs, tasks, heads, out.name, warnings)
    # both or neither: the .md is renamed into place, then the HTML
    with atomic_path(out) as tmp_html, atomic_path(md_path) as tmp_md:
        Path(tmp_html).write_text(page)
        Path(tmp_md).write_text(summary)
    return {"html": out, "markdown": md_path, "headlines": [h["text"] for h in heads],
            "inputs": inputs, "warnings": warnings}
