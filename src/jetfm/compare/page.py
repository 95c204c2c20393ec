"""`compare.html`: one self-contained page (inline CSS, figures as base64 PNGs, no script, no
external resource): the matching, the jet-level measures, the KS table and the overlaid,
normalised distributions, reference vs simulated. The table and figure helpers are
`jetfm report`'s, so both pages look alike."""
from __future__ import annotations

import datetime as _dt
from html import escape

import numpy as np

from ..report.html import PAGE_CSS, figure_html, html_table
from ..report.plots import png_figure
from .jets import FLAGS, MATCH_VARS, TYPES, feature_names
from .measures import multiplicity_columns, response

REF = {"color": "black", "linestyle": "-"}
SIM = {"color": "tab:red", "linestyle": "--"}
SIM_ALL = {"color": "tab:blue", "linestyle": ":"}
_LABELS = {"log_pt": r"$\log(p_T/\mathrm{GeV})$", "msd_over_pt": r"$m_{SD}/p_T$",
           "abs_eta": r"$|\eta|$"}
_SAMPLE = 200_000    # values used to choose a histogram's binning


def _edges(arrays, bins: int = 40) -> tuple[np.ndarray, bool]:
    """(common bin edges, discrete): about `bins` bins over the central 99 % of all values,
    whole numbers (counts, flags) each in one bin."""
    pooled = np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])
    pooled = pooled[np.isfinite(pooled)]
    if not len(pooled):
        return np.linspace(0.0, 1.0, bins + 1), False
    if len(pooled) > _SAMPLE:
        pooled = np.random.default_rng(0).choice(pooled, _SAMPLE, replace=False)
    lo, hi = np.percentile(pooled, [0.5, 99.5])
    if np.all(pooled == np.round(pooled)):    # bins of whole numbers: no aliasing
        width = max(1.0, np.ceil((hi - lo + 1) / bins))
        return np.arange(np.floor(lo) - 0.5, np.ceil(hi) + width, width), True
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1), False


def _hist(ax, series, edges, xlabel: str, log: bool = False) -> None:
    """Normalised step histograms (density); values outside fold into the edge bins."""
    for label, x, style in series:
        x = np.asarray(x, np.float64).ravel()
        x = x[np.isfinite(x)]
        if not len(x):
            continue
        h = np.histogram(np.clip(x, edges[0], np.nextafter(edges[-1], edges[0])), edges)[0]
        ax.stairs(h / len(x) / np.diff(edges), edges, label=label, linewidth=1.6, **style)
    ax.set_xlabel(xlabel, fontsize="small")
    ax.set_ylabel("normalised", fontsize="small")
    ax.tick_params(labelsize="x-small")
    if log:
        ax.set_yscale("log")


def _grid(panels, ncols: int, width: float = 4.2, height: float = 3.4) -> bytes | None:
    """One figure of `panels`: (xlabel, series or a function returning them, log) each,
    overlaid in the same style; the legend gets the cell after the last panel (inside a panel
    it hides a curve). `log` applies to continuous values only (a flag's two bins read better
    on a linear axis)."""
    if not panels:
        return None
    nrows = -(-(len(panels) + 1) // ncols)
    with png_figure(figsize=(width * ncols, height * nrows), nrows=nrows, ncols=ncols,
                 squeeze=False) as (fig, axes, png):
        cells = axes.ravel()
        for ax, (xlabel, series, log) in zip(cells, panels):
            series = series() if callable(series) else series   # one panel's values at a time
            edges, discrete = _edges([x for _, x, _ in series])
            _hist(ax, series, edges, xlabel, log and not discrete)
        key = cells[len(panels)]
        key.axis("off")
        key.legend(*cells[0].get_legend_handles_labels(), loc="center", fontsize="small")
        for ax in cells[len(panels) + 1:]:
            ax.set_visible(False)
    return png[0]


def _pair(samples, get):
    """The matched samples' values as a panel's series, gathered only when it is drawn."""
    return lambda: [("reference (matched)", get(samples["reference_matched"]), REF),
                    ("simulated (matched)", get(samples["simulated_matched"]), SIM)]


def figures(samples: dict) -> dict[str, bytes | None]:
    ref, sim = samples["reference"], samples["simulated"]
    kin = [(_LABELS[v], [("reference (all read)", ref.matching_space()[:, i], REF),
                         ("simulated (all read)", sim.matching_space()[:, i], SIM_ALL),
                         ("simulated (matched)",
                          samples["simulated_matched"].matching_space()[:, i], SIM)], False)
           for i, v in enumerate(MATCH_VARS)]
    names = feature_names()
    feats = [(n, _pair(samples, lambda j, i=i: j.values("features", i)), True)
             for i, n in enumerate(names)]
    shares = [(f"energy share: {t.replace('_', ' ')}", _pair(samples, lambda j, t=t:
                                                             j.jet[f"e_{t}"]), False)
              for t in TYPES]
    mult = [(f"multiplicity: {t.replace('_', ' ')}",
             _pair(samples, lambda j, t=t: multiplicity_columns(j)[t]), False)
            for t in multiplicity_columns(ref)]
    truth = [(f"aux_genpart {f} per jet", _pair(samples, lambda j, f=f: j.jet[f]), False)
             for f in FLAGS]
    return {"kinematics": _grid(kin, 4),
            "response": _grid([(r"jet response $p_T/p_T^{gen}$", _pair(samples, response),
                                False)], 2, 6, 4.2),
            "shares": _grid(shares, 3), "multiplicities": _grid(mult, 4),
            "truth": _grid(truth, 3), "features": _grid(feats, 4)}


def _num(v, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}g}"


def _pm(pair) -> str:
    value, err = pair
    return "-" if value is None else f"{value:.4g}" + ("" if err is None else f" ± {err:.2g}")


def _inputs(result: dict) -> list[str]:
    rows = []
    for side in ("reference", "simulated"):
        r = result["inputs"][side]
        files = r["files"]
        rows.append([side, f"{len(files)} file(s): {files[0]}" + (" …" if len(files) > 1
                                                                   else ""),
                     str(r["jets_in_files"]), str(r["jets_read"])])
    return [html_table(["Side", "Files", "Jets in files", "Jets read (sampled)"], rows,
                   text_cols=2)]


def _matching(result: dict, figs) -> list[str]:
    m = result["matching"]
    d = m["distance"]
    text = (f"{m['matched']} of {m['reference_jets']} reference jets "
            f"({100 * m['matched_fraction']:.1f} %) have {m['neighbours']} simulated jet(s) "
            f"within {m['max_distance']:g} in (log pT, m_SD/pT, |η|), each standardised by "
            f"the reference's spread; the unmatched ones (outside what the simulated sample "
            f"covers) are left out of every number below. Distance: median {_num(d['median'], 3)}, "
            f"90 % {_num(d['q90'], 3)}, max {_num(d['max'], 3)}. {m['distinct_simulated']} "
            f"distinct simulated jets were picked (one was picked {m['max_reuse']} times).")
    diffs = [[v, _num(x, 3)] for v, x in m["median_abs_difference"].items()]
    return [f"<p>{escape(text)}</p>",
            html_table(["Matching variable", "median |reference − simulated|"], diffs),
            figure_html(figs["kinematics"], "kinematics",
                 "The matching variables of every jet read, and of the simulated jets picked "
                 "by the matching (which should follow the reference).")]


def _measures(result: dict) -> list[str]:
    rows, classes, group = [], [], None
    for r in result["measures"]:
        if r["group"] != group:
            group = r["group"]
            rows.append([group, "", "", ""])
            classes.append("scratch")
        p = r["pull"]
        rows.append([f"  {r['name']}", _pm(r["reference"]), _pm(r["simulated"]),
                     "-" if p is None else f"{p:+.1f}"])
        classes.append("loss" if p is not None and abs(p) >= 2 else "")
    return [html_table(["Quantity", "Reference", "Simulated", "Pull"], rows, row_classes=classes),
            '<p class="note">value ± statistical uncertainty (mean: standard error; quantiles: '
            'bootstrap over jets; fractions: binomial). Pull = (simulated − reference) / '
            'combined uncertainty; rows with |pull| ≥ 2 are marked.</p>']


def _ks(result: dict) -> list[str]:
    ks = result["ks"]
    rows = [[n, _num(d), "yes" if d is not None and d > ks["d95_jets"] else ""]
            for n, d in ks["statistic"].items()]
    note = (f"Two-sample KS statistic per feature over all particles of the matched jets "
            f"({ks['particles'][0]} reference, {ks['particles'][1]} simulated particles; "
            f"{ks['jets'][0]} and {ks['jets'][1]} distinct jets). Identical distributions "
            f"give values below D95 = {_num(ks['d95_jets'], 3)} (from the jet counts: "
            f"particles of one jet are correlated) or {_num(ks['d95_particles'], 3)} (from "
            f"the particle counts) 95 % of the time.")
    return [html_table(["Feature", "KS statistic", "above D95 (jets)"], rows),
            f'<p class="note">{escape(note)}</p>']


def _pids(result: dict) -> list[str]:
    out = []
    for flag, t in result["truth_pids"].items():
        pids = list(dict.fromkeys(list(t["reference"]) + list(t["simulated"])))
        if not pids:
            out.append(f"<p>{escape(flag)}: no such particle on either side.</p>")
            continue
        rows = [[p, _num(t["reference"].get(p), 3), _num(t["simulated"].get(p), 3)]
                for p in pids]
        out += [f"<h3>{escape(flag)}</h3>",
                html_table(["pid", "share (reference)", "share (simulated)"], rows)]
    return out


def render_html(result: dict, samples: dict, title: str = "jetfm compare") -> str:
    figs = figures(samples)
    sections = [("inputs", "Inputs", _inputs(result)),
                ("matching", "Kinematic matching", _matching(result, figs)),
                ("measures", "Jet-level measures", _measures(result) + [
                    figure_html(figs["response"], "response", "jet pT / GEN-jet pT (jets with a "
                                                       "GEN jet)."),
                    figure_html(figs["shares"], "energy shares", "Energy share of each constituent "
                                                          "type in the jet."),
                    figure_html(figs["multiplicities"], "multiplicities", "Constituents per jet."),
                    figure_html(figs["truth"], "truth", "aux_genpart particles per jet carrying each "
                                                 "truth flag.")]),
                ("ks", "Model input features", _ks(result) + [
                    figure_html(figs["features"], "features", "The 17 input features of the default "
                                                       "data config, per particle (log y).")]),
                ("truth", "Truth conventions (aux_genpart pids)", _pids(result))]
    p = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         f"<title>{escape(title)}</title><style>{PAGE_CSS}</style></head><body>",
         f"<h1>{escape(title)}</h1>",
         f'<p class="note">Generated {_dt.datetime.now().strftime("%Y-%m-%d %H:%M")} by '
         "<code>jetfm compare</code>; what each number means: docs/compare.md in jetfm.</p>",
         "<nav><ul>"]
    p += [f'<li><a href="#{a}">{escape(n)}</a></li>' for a, n, _ in sections] + ["</ul></nav>"]
    for anchor, name, body in sections:
        p += [f'<section id="{anchor}"><h2>{escape(name)}</h2>', *body, "</section>"]
    p.append("</body></html>\n")
    return "\n".join(p)


__all__ = ["render_html", "figures"]
