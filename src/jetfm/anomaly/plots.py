"""Anomaly-search figures (mplhep style, atomic PNGs): m_JJ spectra with the sideband fit and its
band before and after the CWoLa selection, IAD SIC curves and max SIC against the injected
signal, autoencoder ROC curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics.plots import _colors, _figure, plot_roc


def plot_spectra(hunt: dict, edges, path, title: str = "") -> Path:
    """Counts per m_JJ bin at each selection efficiency with the fit (±1σ band)."""
    edges = np.asarray(edges)
    lo, hi = hunt["signal_region"]
    with _figure(path, margins={"right": 0.7}, figsize=(12, 6.5)) as (fig, ax):
        for row, color in zip(hunt["selections"], _colors(len(hunt["selections"]))):
            c = np.asarray(row["counts"])
            centres = np.sqrt(edges[1:] * edges[:-1])
            label = f"ε = {row['efficiency']:g}" + \
                (f", Z = {row['z']:.2f}" if row.get("z") is not None else "")
            ax.errorbar(centres, c, yerr=np.sqrt(c), fmt="o", color=color, ms=4, label=label)
            if row.get("expected") is not None:
                exp, err = np.asarray(row["expected"]), np.asarray(row["expected_error"])
                ax.stairs(exp, edges, color=color)
                ax.stairs(exp + err, edges, baseline=np.maximum(exp - err, 1e-3), fill=True,
                          color=color, alpha=0.25)
        ax.axvspan(lo, hi, color="0.85", zorder=0, label="signal region")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.3)        # below one event per bin only the fit band is drawn
        ax.set_xlabel(r"$m_{JJ}$ [GeV]")
        ax.set_ylabel("Events / bin")
        ax.legend(fontsize=11, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        if title:
            ax.set_title(title, fontsize="medium")
    return Path(path)


def _labels(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title, fontsize="medium")


def plot_sic_curves(iad: dict, path, title: str = "") -> Path:
    grid = np.asarray(iad["eff_s_grid"])
    with _figure(path) as (fig, ax):
        rows = iad["injections"]
        for row, color in zip(rows, _colors(len(rows))):
            band = {k: np.array([np.nan if v is None else v for v in a], float)
                    for k, a in row["sic_curve"].items()}
            ax.plot(grid, band["median"], color=color, label=f"$N_S$ = {row['injected']}")
            ax.fill_between(grid, band["lo"], band["hi"], color=color, alpha=0.2)
        _labels(ax, r"Signal efficiency $\varepsilon_S$", "SIC = ε$_S$/√ε$_B$", title)
    return Path(path)


def plot_max_sic(curves: dict[str, dict], path, title: str = "") -> Path:
    """Max SIC (median, 16–84 % band) vs injected signal events, one line per input set."""
    with _figure(path) as (fig, ax):
        for (name, iad), color in zip(curves.items(), _colors(len(curves))):
            rows = [r for r in iad["injections"] if r["max_sic_median"] is not None]
            n = np.array([r["injected"] for r in rows])
            med = np.array([r["max_sic_median"] for r in rows])
            ax.plot(n, med, "o-", color=color, label=name)
            ax.fill_between(n, [r["max_sic_lo"] for r in rows], [r["max_sic_hi"] for r in rows],
                            color=color, alpha=0.2)
        ax.axhline(1.0, color="0.5", ls="--", lw=1)
        _labels(ax, r"Injected signal events $N_S$", "max SIC", title)
    return Path(path)


def plot_ae_roc(ae: dict, path, title: str = "") -> Path:
    curves = {}
    for name, m in ae["models"].items():
        for kind in ("autoencoder", "supervised"):
            r = m[f"roc_{kind}"]
            curves[f"{name} {kind}"] = (np.asarray(r["tpr"]), np.asarray(r["fpr"]),
                                        m[f"auc_{kind}"])
    return plot_roc(curves, path, title=title or "dark jets vs SM")
