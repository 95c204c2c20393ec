"""Metric figures (ROC, discriminant shapes, confusion matrix, training history) in mplhep style.

Figures are built with :class:`matplotlib.figure.Figure` (not pyplot) inside a temporary
``mplhep.style.ROOT`` context, so nothing global — rcParams, pyplot's figure registry, the
backend — is changed. PNGs are written through :func:`jetfm.io.atomic_path`.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.style
import mplhep as hep
import numpy as np
from matplotlib.figure import Figure

from jetfm.io import atomic_path
from jetfm.metrics.core import rejection_at

__all__ = ["plot_roc", "plot_discriminant", "plot_confusion", "plot_history"]

_DPI = 100
# ε_S grid for drawing: the full curve of a million jets is far too many points for a PNG.
_EFF_GRID = np.linspace(0.002, 1.0, 500)


@contextlib.contextmanager
def _figure(path, tight: bool = False, margins: dict | None = None, **subplots_kw):
    """Yield (fig, axes) in mplhep style and save the figure atomically as PNG on exit.

    Single-axes figures get fixed margins: tight_layout costs an extra full draw, and an
    evaluation writes a couple of dozen figures."""
    with matplotlib.style.context(hep.style.ROOT):
        fig = Figure(figsize=subplots_kw.pop("figsize", (8, 6.5)))
        axes = fig.subplots(**subplots_kw)
        yield fig, axes
        if tight:
            fig.tight_layout()
        else:
            fig.subplots_adjust(**{"left": 0.17, "right": 0.96, "bottom": 0.13, "top": 0.93,
                                   **(margins or {})})
        with atomic_path(path) as tmp:
            # The temporary name has no .png suffix, so the format must be explicit.
            fig.savefig(tmp, format="png", dpi=_DPI)


def plot_roc(curves: Mapping[str, tuple], path, title: str | None = None) -> Path:
    """Rejection 1/ε_B (log) versus ε_S for several discriminants.

    ``curves`` maps a legend label to ``(eff_s, eff_b)`` or ``(eff_s, eff_b, auc)``. Points with
    ε_B = 0 (infinite rejection) cannot be drawn on a log axis and are left out."""
    # The legend sits right of the axes: inside, it would hide some curve whatever the corner.
    with _figure(path, margins={"left": 0.11, "right": 0.6}, figsize=(13, 6.5)) as (fig, ax):
        colors = _colors(len(curves))
        for (label, curve), color in zip(curves.items(), colors):
            eff_s, eff_b = curve[0], curve[1]
            rej = rejection_at(_EFF_GRID, eff_s, eff_b)
            ok = np.isfinite(rej)
            if len(curve) > 2 and curve[2] is not None:
                label = f"{label} (AUC {curve[2]:.4f})"
            ax.plot(_EFF_GRID[ok], rej[ok], color=color, label=label)
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
        ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=12, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        if title:
            ax.set_title(title, fontsize="medium")
    return Path(path)


def plot_discriminant(d_sig, d_bkg, path, name: str, bins: int = 50) -> Path:
    """Unit-normalised distributions of a discriminant for signal and background jets."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    with _figure(path) as (fig, ax):
        for values, label, color in ((d_sig, "signal", "C3"), (d_bkg, "background", "C0")):
            counts, _ = np.histogram(np.clip(values, 0.0, 1.0), edges)
            if counts.sum() > 0:
                hep.histplot(counts, edges, density=True, ax=ax, label=f"{label} ({len(values)})",
                             color=color, flow=None)
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"{name} discriminant")
        ax.set_ylabel("Normalised to unit area")
        ax.legend(fontsize="small")
    return Path(path)


def plot_confusion(matrix, names: Sequence[str], path, title: str = "") -> Path:
    """Row-normalised confusion matrix (rows: true group, columns: predicted group)."""
    m = np.asarray(matrix, dtype=float)
    n = len(names)
    size = max(6.0, 0.6 * n + 3)
    with _figure(path, tight=True, figsize=(size + 1, size)) as (fig, ax):
        im = ax.imshow(m, vmin=0, vmax=1, cmap="Blues")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Fraction of true")
        ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize="small")
        ax.set_yticks(range(n), names, fontsize="small")
        ax.minorticks_off()
        ax.set_xlabel("Predicted")
        ax.set_ylabel("True")
        if n <= 20:  # beyond that the numbers would be unreadable
            for i in range(n):
                for j in range(n):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize="x-small",
                            color="white" if m[i, j] > 0.5 else "black")
        if title:
            ax.set_title(title, fontsize="medium")
    return Path(path)


def plot_history(history: Mapping[str, Sequence[float]], path) -> Path:
    """Loss (left) and accuracy (right) curves: keys containing "loss" / "acc".

    Series of different lengths (per-step training, per-epoch validation) are drawn on a common
    axis by stretching each to the longest: point i of a series of length n sits at
    (i + 1)·L/n, so the end of epoch k lines up with its last step. If ``history`` has an
    "epoch" or "step" list matching the longest series, it labels that axis."""
    series = {k: np.asarray(v, dtype=float) for k, v in history.items()
              if k not in ("epoch", "step") and len(v) > 0}
    longest = max((len(v) for v in series.values()), default=1)
    xkey = next((k for k in ("step", "epoch") if len(history.get(k, ())) == longest), None)
    xaxis = np.asarray(history[xkey], dtype=float) if xkey else np.arange(1, longest + 1)
    with _figure(path, tight=True, ncols=2, figsize=(14, 6)) as (fig, (ax_loss, ax_acc)):
        for ax, kind in ((ax_loss, "loss"), (ax_acc, "acc")):
            for key, y in series.items():
                if kind not in key.lower():
                    continue
                pos = (np.arange(1, len(y) + 1) * longest / len(y)).round().astype(int) - 1
                ax.plot(xaxis[np.clip(pos, 0, longest - 1)], y, label=key,
                        marker="o" if len(y) < 30 else None, markersize=4)
            ax.set_xlabel(xkey or "index")
            ax.set_ylabel("Loss" if kind == "loss" else "Accuracy")
            if ax.lines:
                ax.legend(fontsize="small")
    return Path(path)


def _colors(n: int):
    import matplotlib
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
