"""The report's anomaly section: one table per `jetfm anomaly cwola | iad | autoencoder` result,
with the figures the run wrote next to its results.json (embedded, so the page stays
self-contained)."""
from __future__ import annotations

from pathlib import Path

from ..anomaly.cwola import best_hunt
from ..anomaly.sculpting import SCULPTING_FLAG, describe_look_elsewhere, is_sculpted
from .checks import number

INF = float("inf")


def _z(v, field: str) -> str:
    """Z or SIC (>= 0, null: undefined) as shown; anything else is a ValueError naming it."""
    v = number(v, field, 0.0, INF)
    return "–" if v is None else f"{v:.2f}"


def _count(v, field: str):
    """An event count as shown ("–" when absent)."""
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{field} = {v!r} is not a count of events")
    return v


def _region(v, field: str) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ValueError(f"{field} is not a [low, high] mass window: {v!r}")
    lo, hi = (number(x, field, 0.0, 1e9, none=False) for x in v)
    return lo, hi


def _sculpting(s: dict, field: str) -> str:
    """' · ratio' (⚠ when flagged), or '' for results written before it was measured."""
    v = number(s.get("sculpting"), field, 0.0, INF)
    return "" if v is None else f" · {v:.2f}{' ⚠' if is_sculpted(v) else ''}"


def _global_z(r: dict, label: str) -> str:
    le = r.get("look_elsewhere")
    if not le:
        return "–"
    local = _z(le.get("observed_max_z"), f"inputs.{label}.look_elsewhere.observed_max_z")
    glob = _z(le.get("global_z"), f"inputs.{label}.look_elsewhere.global_z")
    return f"{local} ({glob})"


def cwola_table(data: dict):
    effs = [number(s["efficiency"], "efficiency", 0.0, 1.0, none=False)
            for s in next(iter(data["inputs"].values()))["hunts"][0]["selections"]]
    injected = _count(data.get("injected"), "injected")
    truth = injected not in ("–", 0)
    headers = ["Inputs", "SR [GeV]", "S in SR", "B in SR"] + \
        [f"Z{' / SIC' if truth else ''} · sculpting (ε={e:g})" for e in effs]
    # results written before the look-elsewhere statement have no global Z
    has_le = any(r.get("look_elsewhere") for r in data["inputs"].values())
    headers += ["max Z, local (global)"] if has_le else []
    rows = []
    for label, r in data["inputs"].items():
        for hunt in r["hunts"]:   # best_hunt ranks every hunt by Z: check them all
            for s in hunt["selections"]:
                _z(s.get("z"), f"inputs.{label} z")
        h = best_hunt(r["hunts"])
        lo, hi = _region(h["signal_region"], f"inputs.{label}.signal_region")
        rows.append([label, f"{lo:.0f}–{hi:.0f}",
                     _count(h.get("signal_events_in_sr"), f"inputs.{label}.signal_events_in_sr"),
                     _count(h.get("background_events_in_sr"),
                            f"inputs.{label}.background_events_in_sr")] +
                    [_z(s.get("z"), f"inputs.{label} z") +
                     (f" / {_z(s.get('sic'), f'inputs.{label} sic')}" if truth else "") +
                     _sculpting(s, f"inputs.{label} sculpting")
                     for s in h["selections"]] + ([_global_z(r, label)] if has_le else []))
    n_data = _count(data.get("n_data_events"), "n_data_events")
    note = (f"CWoLa hunting, {'?' if n_data == '–' else n_data} data events, "
            f"{0 if injected == '–' else injected} injected signal events; Z = √q0 of the "
            "signal region (profile likelihood, fit uncertainty as a constrained nuisance), at the signal "
            "region with the largest Z." + (" SIC = ε_S/√ε_B of the selection on the injected "
                                            "signal and the background in the signal region "
                                            "(below 1: the selection removes signal)."
                                            if truth else ""))
    note += (" Sculpting: the background's selection efficiency in the signal region over "
             f"that in the sidebands (1: none; ⚠ above {SCULPTING_FLAG:g}: the selection "
             "makes a bump of its own).")
    le = next((r.get("look_elsewhere") for r in data["inputs"].values()
               if r.get("look_elsewhere")), None)
    if le:
        checked = {k: _count(le.get(k), f"look_elsewhere.{k}")
                   for k in ("tests", "centres", "efficiencies")}
        checked["expected_max_z_median"] = number(
            le.get("expected_max_z_median"), "look_elsewhere.expected_max_z_median", 0.0, INF,
            none=False)
        checked["p_max_z_above_2"] = number(le.get("p_max_z_above_2"),
                                            "look_elsewhere.p_max_z_above_2", 0.0, 1.0, none=False)
        note += (" Look-elsewhere: " + describe_look_elsewhere(checked) +
                 "; global Z in brackets.")
    if any("–" in str(c) for row in rows for c in row[4:4 + len(effs)]):
        note += (" '–': Z: no sideband fit of the selected spectrum (too few events, or it "
                 "did not converge: fit_error in results.json says which)" +
                 ("; SIC: no background event of the signal region was selected, or no "
                  "injected event fell in it" if truth else "") + ".")
    return headers, rows, note


def iad_table(data: dict):
    first = next(iter(data["inputs"].values()))
    injections = [_count(r["injected"], "injected") for r in first["injections"]]
    headers = ["Inputs"] + [f"max SIC, N_S={n}" for n in injections]
    rows = []
    for label, r in data["inputs"].items():
        cells = []
        for row in r["injections"]:
            m, lo, hi = (_z(row.get(k), f"inputs.{label}.{k}")
                         for k in ("max_sic_median", "max_sic_lo", "max_sic_hi"))
            flag = ""
            if row.get("sculpting"):
                worst = max((number(v, f"inputs.{label}.sculpting", 0.0, INF)
                             for v in row["sculpting"].values() if v is not None), default=None)
                flag = f" ⚠ {worst:.2f}" if is_sculpted(worst) else ""
            cells.append(("–" if m == "–" else f"{m} [{lo}, {hi}]") + flag)
        rows.append([label] + cells)
    lo, hi = _region(data.get("signal_region"), "signal_region")
    note = (f"Idealised AD in {lo:.0f}–{hi:.0f} GeV: median [16 %, 84 %] over runs of the "
            "maximum SIC = ε_S/√ε_B with ε_B > 1/(N_B·0.2²).")
    if any(r["injections"][0].get("sculpting") for r in data["inputs"].values()):
        note += (" ⚠ x: the selection sculpts the background, x = the largest of its "
                 "background efficiency in the signal region over that in the sidebands "
                 f"(median over runs, at ε_B = 0.1, 0.01, 0.001) above {SCULPTING_FLAG:g}.")
    if any(c == "–" for row in rows for c in row[1:]):
        note += (" '–': no run had a point with ε_B above that floor (too few background "
                 "events in the test set).")
    return headers, rows, note


def ae_table(data: dict):
    headers = ["Inputs", "Signal model", "AUC autoencoder", "AUC supervised"]
    def auc(m, key, where):
        return f"{number(m[key], f'{where}.{key}', 0.0, 1.0, none=False):.3f}"
    rows = [[label, name, auc(m, "auc_autoencoder", f"inputs.{label}.models.{name}"),
             auc(m, "auc_supervised", f"inputs.{label}.models.{name}")]
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
