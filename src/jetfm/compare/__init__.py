"""`jetfm compare REFERENCE SIMULATED --out DIR`: how close simulated jets are to a reference
set of JetClass-II jets, at the same kinematics (docs/compare.md).

    result = compare("jetclass2/*.parquet", "generated/", "cmp")   # cmp/compare.{json,html}

read (a seeded sample of each side, reduced to per-jet numbers) -> measures (matching, KS,
jet-level measures with uncertainties) -> page (the HTML). Nothing is written unless both sides
were read and measured; both files are written atomically (the HTML first, compare.json, which
readers trust, last) into a folder claimed with `OutputFolder`.
"""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ..errors import ConfigError
from ..io import write_json, write_text_atomic
from ..outdir import OutputFolder
from . import measures
from .jets import feature_names
from .read import read_side, side_files

JSON_NAME, HTML_NAME = "compare.json", "compare.html"


def _check(max_jets: int, neighbours: int, max_distance: float, bootstrap: int) -> None:
    if max_jets < 1:
        raise ConfigError(f"--max-jets must be >= 1, got {max_jets}")
    if neighbours < 1:
        raise ConfigError(f"--neighbours must be >= 1, got {neighbours}")
    if not max_distance > 0:
        raise ConfigError(f"--max-distance must be > 0, got {max_distance}")
    if bootstrap < 0:
        raise ConfigError(f"--bootstrap must be >= 0, got {bootstrap}")


def measure(ref, sim, neighbours: int = 1, max_distance: float = 0.2, bootstrap: int = 100,
            seed: int = 0, progress: bool = False) -> tuple[dict, dict]:
    """(result, matched samples) for two `Jets`: everything compare.json holds but the
    inputs, and the matched `Jets` the page draws."""
    ref_rows, sim_rows, matching = measures.match(ref, sim, neighbours, max_distance)
    ref_m, sim_m = ref.take(ref_rows), sim.take(sim_rows)
    with tqdm(total=len(feature_names()), desc="KS per feature", disable=not progress,
              dynamic_ncols=True) as bar:
        ks = measures.ks_features(ref_m, sim_m, matching["distinct_simulated"], bar.update)
    result = {"matching": matching,
              "kinematics": {"reference": measures.kinematics(ref),
                             "simulated": measures.kinematics(sim)},
              "ks": ks, "measures": measures.jet_rows(ref_m, sim_m, bootstrap, seed),
              "truth_pids": measures.truth_pids(ref_m, sim_m)}
    return result, {"reference": ref, "simulated": sim, "reference_matched": ref_m,
                    "simulated_matched": sim_m}


def compare(reference, simulated, out, max_jets: int = 100_000, seed: int = 0,
            neighbours: int = 1, max_distance: float = 0.2, bootstrap: int = 100,
            progress: bool = True) -> dict:
    """Measure, write OUT/compare.json and OUT/compare.html, return the result dict."""
    from .page import render_html
    _check(max_jets, neighbours, max_distance, bootstrap)
    settings = {"max_jets": max_jets, "seed": seed, "neighbours": neighbours,
                "max_distance": max_distance, "bootstrap": bootstrap}
    ref_files, sim_files = side_files(reference, "reference"), side_files(simulated, "simulated")
    folder = OutputFolder(out, "compare", {"reference": [str(f) for f in ref_files[0]],
                                           "simulated": [str(f) for f in sim_files[0]],
                                           **settings})
    folder.check()    # a user's folder or another job's: refused before anything is read
    ref, ref_in = read_side(*ref_files, "reference", max_jets, seed, progress)
    sim, sim_in = read_side(*sim_files, "simulated", max_jets, seed, progress)
    result, samples = measure(ref, sim, neighbours, max_distance, bootstrap, seed, progress)
    result = {"inputs": {"reference": ref_in, "simulated": sim_in}, "settings": settings,
              **result}
    html = render_html(result, samples)
    out = Path(out)
    with folder:
        write_text_atomic(out / HTML_NAME, html)
        write_json(out / JSON_NAME, result)
    result["written"] = [str(out / HTML_NAME), str(out / JSON_NAME)]
    return result


def _cell(v) -> str:
    value, err = v
    if value is None:
        return "-"
    return f"{value:.4g}" + ("" if err is None else f" ± {err:.2g}")


def format_table(result: dict) -> str:
    """The result as the table `jetfm compare` prints."""
    m = result["matching"]
    lines = [f"matched {m['matched']} of {m['reference_jets']} reference jets "
             f"({100 * m['matched_fraction']:.1f} %) to {m['neighbours']} of "
             f"{m['simulated_jets']} simulated jets each within {m['max_distance']:g} "
             f"(standardised log pT, m_SD/pT, |eta|): distance median "
             f"{m['distance']['median']:.3g}, 90 % {m['distance']['q90']:.3g}; "
             f"{m['distinct_simulated']} distinct simulated jets (most reused "
             f"{m['max_reuse']}x)", "",
             f"{'quantity':<52}{'reference':>22}{'simulated':>22}{'pull':>8}"]
    group = None
    for row in result["measures"]:
        if row["group"] != group:
            group = row["group"]
            lines.append(group)
        p = "-" if row["pull"] is None else f"{row['pull']:+.1f}"
        lines.append(f"  {row['name']:<50}{_cell(row['reference']):>22}"
                     f"{_cell(row['simulated']):>22}{p:>8}")
    ks = result["ks"]
    lines += ["", f"KS statistic per model input feature, particle level (D95: "
                  f"{ks['d95_jets']:.3g} from the jet counts, {ks['d95_particles']:.3g} from "
                  f"the particle counts)"]
    for name, d in ks["statistic"].items():
        flag = "  above D95 (jets)" if d is not None and d > ks["d95_jets"] else ""
        lines.append(f"  {name:<50}{'-' if d is None else f'{d:.4f}':>10}{flag}")
    lines += ["", "truth pids (aux_genpart, signed pid: share of the flagged particles)"]
    for flag, t in result["truth_pids"].items():
        if not t["reference"] and not t["simulated"]:
            lines.append(f"  {flag:<16} none on either side")
            continue
        diff = []
        if t["only_reference"]:
            diff.append(f"only reference {t['only_reference']}")
        if t["only_simulated"]:
            diff.append(f"only simulated {t['only_simulated']}")
        top = ", ".join(f"{p} {100 * s:.0f}%" for p, s in
                        list(t["reference"].items())[:measures.TOP_PIDS])
        lines.append(f"  {flag:<16} {'; '.join(diff) or 'same pids'} (reference: "
                     f"{top or 'none'})")
    return "\n".join(lines)


__all__ = ["compare", "measure", "format_table", "JSON_NAME", "HTML_NAME"]
