"""`jetfm report`: one self-contained HTML page (and a Markdown summary) that answers "which
pre-training helps, where, and by how much" from pretrain runs, `jetfm evaluate` and
`jetfm transfer` results.

    build_report(["runs/", "transfer/"], "report.html")   # also writes report.md

Nothing is written unless every input is read and every figure drawn; both files are written
atomically.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io import check_writable_folder, write_text_atomic
from .collect import METRICS, Inputs, TransferResult, collect, lpc_key, short_names

__all__ = ["build_report", "Series", "task_series", "headline", "scratch_reference"]


@dataclass
class Series:
    """One (strategy, mode) of a task: metric -> (mean, std, n_seeds) per labels-per-class."""
    strategy: str              # display name (backbone folder added when a strategy repeats)
    mode: str
    result: TransferResult
    points: dict               # lpc -> {metric: (mean | None, std | None, n)}

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
    """task -> its series, pre-trained strategies (alphabetical) first, scratch last."""
    tasks: dict[str, list[TransferResult]] = {}
    for r in inputs.transfer:
        tasks.setdefault(r.task, []).append(r)
    out = {}
    for task in sorted(tasks):
        results = tasks[task]
        backbones: dict[str, set] = {}
        for r in results:
            backbones.setdefault(r.strategy, set()).add(r.backbone)
        series = []
        for r in results:
            name = r.strategy
            if len(backbones[r.strategy]) > 1:   # two runs of one strategy: tell them apart
                others = sorted(backbones[r.strategy])
                name = f"{r.strategy} ({short_names(others)[others.index(r.backbone)]})"
            series.append(Series(name, r.mode, r, aggregate(r)))
        out[task] = sorted(series, key=lambda s: (s.is_scratch, s.strategy, s.mode_label))
    return out


def scratch_reference(series: list[Series], lpc, metric: str = "accuracy"):
    """The best baseline series (scratch network or random features): (mean, std, series) at
    `lpc` (None if no baseline result there)."""
    best = None
    for s in series:
        mean, std, _ = s.get(lpc, metric)
        if s.is_scratch and mean is not None and (best is None or mean > best[0]):
            best = (mean, std, s)
    return best


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
    from . import html, plots   # matplotlib/mplhep only once the inputs are known good
    tasks = task_series(inputs)
    heads = [h for t, s in tasks.items() if (h := headline(t, s))]
    figures = plots.all_figures(inputs, tasks)
    title = title or "jetfm report"
    page = html.render_html(title, inputs, tasks, heads, figures)
    summary = html.render_markdown(title, inputs, tasks, heads, out.name)
    write_text_atomic(out, page)
    try:
        write_text_atomic(md_path, summary)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return {"html": out, "markdown": md_path, "headlines": [h["text"] for h in heads],
            "inputs": inputs}
