"""Report figures as PNG bytes (embedded in the HTML as base64; nothing touches the disk).

Figures are :class:`matplotlib.figure.Figure` objects on an Agg canvas (no pyplot, so no global
figure registry or backend change), drawn in mplhep's ROOT style when mplhep imports.
"""
from __future__ import annotations

import contextlib
import io
import math

import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import signal_background
from .collect import lpc_key

__all__ = ["png_figure", "all_figures", "accuracy_vs_labels", "roc_curves", "loss_curves", "probe_curves",
           "probe_caption"]

_DPI = 80
_MODE_STYLE = {"finetune": ("-", "D"), "linear": ("--", "o"), "frozen": ("-.", "s"),
               "lora": ((0, (6, 2)), "^"), "knn": ((0, (3, 1, 1, 1, 1, 1)), "v"),
               "scratch": (":", "x")}
_LEGEND = {"fontsize": "x-small", "loc": "upper left", "bbox_to_anchor": (1.02, 1.0),
           "borderaxespad": 0}   # right of the axes: inside, it would hide some curve
_MAX_POINTS = 300   # training losses are averaged over windows of steps down to this many


@contextlib.contextmanager
def png_figure(**kw):
    """Yield (fig, axes) in mplhep style; the PNG bytes are put in the list it also yields."""
    try:
        import mplhep as hep
        style = matplotlib.style.context(hep.style.ROOT)
    except ImportError:   # plain matplotlib is fine
        style = contextlib.nullcontext()
    png: list[bytes] = []
    with style:
        fig = Figure(figsize=kw.pop("figsize", (9, 6.5)))
        FigureCanvasAgg(fig)
        axes = fig.subplots(**kw)
        yield fig, axes, png
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
        png.append(buf.getvalue())


def _colors(names):
    import matplotlib
    names = list(dict.fromkeys(names))
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {n: cmap(i % cmap.N) for i, n in enumerate(names)}


def _positions(lpcs) -> tuple[dict, list, list]:
    """x position of each labels-per-class on a log axis: "all" half a decade right of the
    largest count (or at 1 when it is alone); plus ticks and their labels."""
    ints = sorted(int(v) for v in lpcs if v != "all")
    pos = {v: float(v) for v in ints}
    if "all" in lpcs:
        pos["all"] = ints[-1] * 10 ** 0.5 if ints else 1.0
    order = sorted(pos, key=lpc_key)
    return pos, [pos[v] for v in order], [str(v) for v in order]


def accuracy_vs_labels(task: str, series) -> bytes | None:
    """Accuracy vs labels per class (log x, "all" at the right), one line per (strategy,
    mode), band = mean ± std over seeds."""
    lpcs = {lpc for s in series for lpc in s.points}
    if not lpcs:
        return None
    pos, ticks, labels = _positions(lpcs)
    colors = _colors(s.strategy for s in series)
    with png_figure(figsize=(12, 6.5)) as (fig, ax, png):
        for s in series:
            xs, ms, sd = [], [], []
            for lpc in s.lpcs():
                mean, std, _ = s.get(lpc)
                if mean is not None:
                    xs.append(pos[lpc])
                    ms.append(mean)
                    sd.append(std or 0.0)
            if not xs:
                continue
            ls, marker = _MODE_STYLE.get(s.mode, ("-", "o"))
            c = colors[s.strategy]
            ax.plot(xs, ms, linestyle=ls, marker=marker, color=c, label=s.label)
            ms, sd = np.array(ms), np.array(sd)
            ax.fill_between(xs, ms - sd, ms + sd, color=c, alpha=0.15, linewidth=0)
        ax.set_xscale("log")
        ax.set_xticks(ticks, labels)
        ax.minorticks_off()
        if len(ticks) == 1:
            ax.set_xlim(ticks[0] / 3, ticks[0] * 3)
        ax.set_xlabel("Labelled jets per class")
        ax.set_ylabel("Accuracy")
        ax.set_title(task, fontsize="medium")
        ax.grid(True, alpha=0.3)
        ax.legend(**_LEGEND)
    return png[0]


def roc_curves(task: str, series) -> bytes | None:
    """Background rejection vs signal efficiency, one curve per (strategy, mode) at its largest
    labels per class, first seed."""
    curves = []
    for s in series:
        lpc = s.lpcs()[-1]
        runs = [r for r in s.result.runs if r["labels_per_class"] == lpc and r["roc"]]
        if runs:
            curves.append((s, lpc, min(runs, key=lambda r: r["seed"])))
    if not curves:
        return None
    same = len({lpc for _, lpc, _ in curves}) == 1
    colors = _colors(s.strategy for s, _, _ in curves)
    # which class is signal: in the title when every curve has the same, else in each label
    signals = {s.label: signal_background(s.result) for s, _, _ in curves}
    one_signal = len(set(signals.values())) == 1
    with png_figure(figsize=(12, 6.5)) as (fig, ax, png):
        for s, lpc, run in curves:
            fpr, tpr = np.asarray(run["roc"]["fpr"]), np.asarray(run["roc"]["tpr"])
            ok = (fpr > 0) & (tpr > 0)
            ls, _ = _MODE_STYLE.get(s.mode, ("-", "o"))
            label = s.label + ("" if same else f" ({lpc}/class)")
            if not one_signal:
                label += f" [{signals[s.label] or 'signal not recorded'}]"
            ax.plot(tpr[ok], 1.0 / fpr[ok], linestyle=ls, color=colors[s.strategy], label=label)
        grid = np.linspace(0.01, 1, 100)
        # not "random": that is also the name of the random-features baseline; black, as
        # tab10's 8th colour (a curve of the quickstart's scratch arm) is this grey
        ax.plot(grid, 1 / grid, color="black", linewidth=1, linestyle=":", label="random guess")
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
        ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
        lpc = curves[0][1]
        at = ("" if not same else ", all labels" if lpc == "all" else f", {lpc} labels/class")
        which = next(iter(signals.values())) if one_signal else None
        title = f"{task}{at}, first seed"
        if which:
            # a multi-class task's note on a line of its own, from the axes' left edge: as
            # one centred line it ran off the figure and cut "signal: ..." away
            head, sep, rest = which.partition(" (")
            title += f"\n{head}" + (f"\n({rest}" if sep else "")
        ax.set_title(title, fontsize="medium", loc="left")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(**_LEGEND)
    return png[0]


def _smoothed(points):
    if len(points) <= _MAX_POINTS:
        return [p[0] for p in points], [p[1] for p in points]
    steps = np.array([p[0] for p in points], dtype=float)
    vals = np.array([p[1] for p in points], dtype=float)
    edges = np.linspace(steps.min(), steps.max() + 1, _MAX_POINTS + 1)
    idx = np.clip(np.digitize(steps, edges) - 1, 0, _MAX_POINTS - 1)
    keep = np.bincount(idx, minlength=_MAX_POINTS) > 0
    mean_s = np.bincount(idx, steps, _MAX_POINTS)[keep] / np.bincount(idx)[keep]
    mean_v = np.bincount(idx, vals, _MAX_POINTS)[keep] / np.bincount(idx)[keep]
    return list(mean_s), list(mean_v)


def _run_label(run, runs) -> str:
    same = sum(r.strategy == run.strategy for r in runs) > 1
    return f"{run.strategy} ({run.name})" if same else run.strategy


def loss_curves(runs) -> bytes | None:
    """train/loss (window-averaged) and val/loss per run, one panel each (the losses of
    different strategies are not on one scale)."""
    runs = [r for r in runs if r.curves.get("train/loss") or r.curves.get("val/loss")]
    if not runs:
        return None
    ncols = min(3, len(runs))
    nrows = math.ceil(len(runs) / ncols)
    with png_figure(nrows=nrows, ncols=ncols, squeeze=False,
                 figsize=(6 * ncols, 4.5 * nrows)) as (fig, axes, png):
        for ax, run in zip(axes.flat, runs):
            for key, style in (("train/loss", {"color": "C0"}),
                               ("val/loss", {"color": "C3", "marker": "o", "markersize": 4})):
                if run.curves.get(key):
                    x, y = _smoothed(run.curves[key])
                    ax.plot(x, y, label=key, **style)
            ax.set_title(_run_label(run, runs), fontsize="small")
            ax.set_xlabel("Step", fontsize="small")
            ax.set_ylabel("Loss", fontsize="small")
            ax.tick_params(labelsize="x-small")
            ax.legend(fontsize="x-small")
        for ax in list(axes.flat)[len(runs):]:
            ax.set_visible(False)
    return png[0]


def _validation_sets(runs) -> dict[str, int | None]:
    """run name -> number (1, 2, ...) of its set of validation files; None: not recorded."""
    sets: dict[tuple, int] = {}
    out = {}
    for run in runs:
        splits = run.config.get("splits")
        val = splits.get("val") if isinstance(splits, dict) else None
        if not isinstance(val, list) or not all(isinstance(f, str) for f in val):
            out[run.name] = None
            continue
        out[run.name] = sets.setdefault(tuple(sorted(val)), len(sets) + 1)
    return out


def _probed(runs) -> list:
    return [r for r in runs if r.curves.get("probe/acc")]


def probe_caption(runs) -> str:
    """Says on which jets the probe curves were measured, and when those differ by run."""
    runs = _probed(runs)
    sets = _validation_sets(runs)
    text = ("Online probe: validation jets. probe/acc, an online linear probe fitted and "
            "scored on each run's validation jets")
    numbered = sorted({k for k in sets.values() if k is not None})
    if len(numbered) > 1:
        groups = "; ".join(f"val set {k}: " + ", ".join(n for n, v in sets.items() if v == k)
                           for k in numbered)
        text += (f": {len(numbered)} different sets of jets ({groups}), so curves of "
                 "different sets are not measured on the same jets")
    elif numbered:
        text += ": the same validation files for every run"
    unknown = [n for n, v in sets.items() if v is None]
    if unknown:
        text += f" (validation files not recorded: {', '.join(unknown)})"
    return text + "."


def probe_curves(runs) -> bytes | None:
    """Online linear-probe accuracy (probe/acc) over training steps, one line per run, each
    on its run's validation jets (labelled by set where the runs' sets differ)."""
    runs = _probed(runs)
    if not runs:
        return None
    sets = _validation_sets(runs)
    several = len({v for v in sets.values() if v is not None}) > 1
    colors = _colors(_run_label(r, runs) for r in runs)
    with png_figure() as (fig, ax, png):
        for run in runs:
            x, y = zip(*run.curves["probe/acc"])
            label = _run_label(run, runs)
            shown = label + (f" · val set {sets[run.name] or '?'}" if several else "")
            ax.plot(x, y, marker="o", markersize=4, color=colors[label], label=shown)
        ax.set_xlabel("Step")
        ax.set_ylabel("Online probe accuracy")
        ax.set_title("Online probe: validation jets"
                     + ("\n(not the same jets for every run)" if several else ""),
                     fontsize="medium")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    return png[0]


def all_figures(inputs, tasks) -> dict:
    """{"tasks": {task: {"accuracy": png, "roc": png}}, "loss": png, "probe": png}; a figure
    with nothing to draw is None."""
    from .anomaly import sections
    return {"tasks": {t: {"accuracy": accuracy_vs_labels(t, s), "roc": roc_curves(t, s)}
                      for t, s in tasks.items()},
            "loss": loss_curves(inputs.pretrain), "probe": probe_curves(inputs.pretrain),
            "anomaly": sections(inputs.anomaly)}
