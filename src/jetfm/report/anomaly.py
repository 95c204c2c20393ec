"""The report's anomaly section: one table per `jetfm anomaly cwola | iad | autoencoder` result,
with the figures the run wrote next to its results.json (embedded, so the page stays
self-contained)."""
from __future__ import annotations

from pathlib import Path

from ..anomaly.cwola import best_hunt


def _z(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def cwola_table(data: dict):
    effs = [s["efficiency"] for s in next(iter(data["inputs"].values()))["hunts"][0]["selections"]]
    truth = bool(data.get("injected"))
    headers = ["Inputs", "SR [GeV]", "S in SR", "B in SR"] + \
        [f"Z{' / SIC' if truth else ''} (ε={e:g})" for e in effs]
    rows = []
    for label, r in data["inputs"].items():
        h = best_hunt(r["hunts"])
        lo, hi = h["signal_region"]
        rows.append([label, f"{lo:.0f}–{hi:.0f}", h.get("signal_events_in_sr", "–"),
                     h.get("background_events_in_sr", "–")] +
                    [_z(s.get("z")) + (f" / {_z(s.get('sic'))}" if truth else "")
                     for s in h["selections"]])
    note = (f"CWoLa hunting, {data.get('n_data_events', '?')} data events, "
            f"{data.get('injected', 0)} injected signal events; Z = √q0 of the signal region "
            "(profile likelihood, fit uncertainty as a constrained nuisance), at the signal "
            "region with the largest Z." + (" SIC = ε_S/√ε_B of the selection on the injected "
                                            "signal and the background in the signal region "
                                            "(below 1: the selection removes signal)."
                                            if truth else ""))
    return headers, rows, note


def iad_table(data: dict):
    first = next(iter(data["inputs"].values()))
    injections = [r["injected"] for r in first["injections"]]
    headers = ["Inputs"] + [f"max SIC, N_S={n}" for n in injections]
    rows = []
    for label, r in data["inputs"].items():
        cells = []
        for row in r["injections"]:
            m = row.get("max_sic_median")
            cells.append("–" if m is None else
                         f"{m:.2f} [{row['max_sic_lo']:.2f}, {row['max_sic_hi']:.2f}]")
        rows.append([label] + cells)
    lo, hi = data.get("signal_region", ("?", "?"))
    note = (f"Idealised AD in {lo:.0f}–{hi:.0f} GeV: median [16 %, 84 %] over runs of the "
            "maximum SIC = ε_S/√ε_B with ε_B > 1/(N_B·0.2²).")
    return headers, rows, note


def ae_table(data: dict):
    headers = ["Inputs", "Signal model", "AUC autoencoder", "AUC supervised"]
    rows = [[label, name, f"{m['auc_autoencoder']:.3f}", f"{m['auc_supervised']:.3f}"]
            for label, r in data["inputs"].items() for name, m in r["models"].items()]
    return headers, rows, ("Autoencoder trained on SM jets only, score log(1 − cos(x, x̂)); "
                           "supervised: a classifier on the same inputs with signal labels.")


TABLES = {"jetfm.anomaly.cwola": ("CWoLa hunting", cwola_table),
          "jetfm.anomaly.iad": ("Idealised anomaly detection", iad_table),
          "jetfm.anomaly.autoencoder": ("Autoencoder anomaly score", ae_table)}
FIGURES = {"jetfm.anomaly.cwola": "spectra_*.png", "jetfm.anomaly.iad": "max_sic.png",
           "jetfm.anomaly.autoencoder": "roc_*.png"}


def sections(results) -> list[dict]:
    """[{title, headers, rows, note, figures: [(name, png bytes)], path}] per result."""
    out = []
    for r in results:
        title, table = TABLES[r.kind]
        headers, rows, note = table(r.data)
        figs = [(p.name, p.read_bytes()) for p in sorted(Path(r.path).parent.glob(FIGURES[r.kind]))]
        out.append({"title": f"{title} ({r.name})", "headers": headers, "rows": rows,
                    "note": note, "figures": figs, "path": r.path})
    return out
