"""`inspect_files`: the first look a physicist takes at a jet sample.

Streams Parquet (JetClass-II) and/or JetClass ROOT files batch by batch, fills fixed-binning
histograms per sample and writes four normalised plots -- soft-drop mass, jet pT, number of
constituents, tau21, one curve per sample -- plus `summary.json`, and prints where they went.
The sample of a jet is the `sample` column jetfm writes (`jetfm generate --sample wplus`: W+
jets, although their labels are Res2P ones); files without it (published JetClass-II, JetClass
ROOT) fall back to the label family (res2p / res34p / qcd). Memory stays at one batch plus the
histograms, whatever the sample size. It is also the check a user runs
on their files: every page of every column (particle lists too) is read, its checksum verified
(`inspect_read.py`); a damaged file is a DataError naming it and the column. With `--max-jets`
only what is read is verified (`files_verified` in the summary says how many files in full).

Values outside a histogram's range are folded into its first/last bin (so nothing silently
disappears from the normalisation); the true ranges are in the summary. tau21 = tau2/tau1 is
filled only for tau1 > 0; the number of jets with tau1 <= 0 is reported.

Re-simulated files (`jetfm generate --resim R`: a `resim_group` ≥ 0) also get the positive
pairs a pretraining run would form from them (`data/pairs.py`: jets sharing a group, never two
of one event), counted file by file (group ids are unique per run, so per file is exact) and
printed as `clean pairs: N (P % of jets)`, P the share of all jets read that are in a pair.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ..errors import ConfigError, DataError
from ..io import atomic_path
from ..outdir import OutputFolder
from ..schema import JETCLASS2_COLUMNS
from .files import UNLABELLED, check_batch, check_footer
from .inspect_read import read_every_column
from .label_spaces import label_families, label_names
from .pairs import EVENT_COLUMN, count_pairs
from .parquet import open_parquet
from .paths import PathsLike, expand_paths, format_of

UNLABELLED_NAME = "(unlabelled: -1)"
COLUMNS = ["jet_pt", "jet_sdmass", "jet_tau1", "jet_tau2", "jet_nparticles", "jet_label"]
GROUP_COLUMN = "resim_group"
SAMPLE_COLUMN = "sample"     # jetfm's own files: the --sample that made the jet
FAMILIES = ("res2p", "res34p", "qcd")
# name -> (bin edges, x label, file name); fixed so per-batch histograms can be summed.
HISTS: dict[str, tuple[np.ndarray, str, str]] = {
    "sdmass": (np.linspace(0.0, 400.0, 81), "Soft-drop mass [GeV]", "sdmass.png"),
    "pt": (np.linspace(0.0, 3000.0, 121), r"Jet $p_{T}$ [GeV]", "jet_pt.png"),
    "nparticles": (np.arange(-0.5, 201.0, 2.0), "Number of constituents", "nparticles.png"),
    "tau21": (np.linspace(0.0, 1.2, 61), r"$\tau_{21} = \tau_{2}/\tau_{1}$", "tau21.png"),
}
TOP_LABELS = 10


def _fill(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    # Fold over/underflow into the edge bins: clip just inside the last edge.
    x = np.clip(x, edges[0], np.nextafter(edges[-1], edges[0]))
    return np.histogram(x, bins=edges)[0]


class _Accumulator:
    def __init__(self) -> None:
        self.hists: dict[str, dict[str, np.ndarray]] = {}   # sample -> histogram -> counts
        self.sample_jets: dict[str, int] = {}                # in order of first appearance
        self.from_family: set[str] = set()   # samples named after a label family (no column)
        self.family_jets = dict.fromkeys(FAMILIES, 0)
        self.unassigned = 0                  # jets in no sample: no column and no family
        self.labels: dict[str, int] = {}
        self.nconst = np.zeros(1, np.int64)  # exact multiplicity counts -> mean and median
        self.ranges = {"jet_pt": [np.inf, -np.inf], "jet_sdmass": [np.inf, -np.inf]}
        self.tau1_zero = 0
        self.jets = 0
        self.resim_pairs: int | None = None    # None: no re-simulated file read
        self.resim_paired_jets = 0

    def add_pairs(self, groups: list[np.ndarray], events: list[np.ndarray]) -> None:
        """One file's `resim_group` (and `event_id`) values; nothing if it is no resim file."""
        g = np.concatenate(groups) if groups else np.zeros(0, np.int64)
        if not (g >= 0).any():
            return
        pairs, jets = count_pairs(g, np.concatenate(events) if events else None)
        self.resim_pairs = (self.resim_pairs or 0) + pairs
        self.resim_paired_jets += jets

    def add(self, b: dict[str, np.ndarray], names: tuple[str, ...],
            family_of: np.ndarray, path: Path, samples: np.ndarray | None = None) -> None:
        """One batch; `samples`: its `sample` column (None: the file has none)."""
        lab = b["jet_label"]
        if lab.size and (lab.min() < UNLABELLED or lab.max() >= len(names)):
            raise DataError(f"{path}: column 'jet_label' has values outside "
                            f"[-1, {len(names) - 1}] (min {lab.min()}, max {lab.max()})")
        labelled = lab >= 0
        for i, c in enumerate(np.bincount(lab[labelled], minlength=len(names))):
            if c:
                self.labels[names[i]] = self.labels.get(names[i], 0) + int(c)
        if not labelled.all():   # tau / dark-jet samples: no JetClass-II label
            self.labels[UNLABELLED_NAME] = self.labels.get(UNLABELLED_NAME, 0) + int((~labelled).sum())
        npart = b["jet_nparticles"]
        if npart.size and npart.min() < 0:
            raise DataError(f"{path}: column 'jet_nparticles' has negative values")
        counts = np.bincount(npart)
        if counts.size > self.nconst.size:
            self.nconst = np.pad(self.nconst, (0, counts.size - self.nconst.size))
        self.nconst[:counts.size] += counts
        for col, r in self.ranges.items():
            if b[col].size:
                r[0], r[1] = min(r[0], float(b[col].min())), max(r[1], float(b[col].max()))
        ok = b["jet_tau1"] > 0
        self.tau1_zero += int((~ok).sum())
        tau21 = np.divide(b["jet_tau2"], b["jet_tau1"], out=np.zeros_like(b["jet_tau2"]),
                          where=ok)
        values = {"sdmass": b["jet_sdmass"], "pt": b["jet_pt"], "nparticles": npart}
        fam = np.where(labelled, family_of[np.maximum(lab, 0)], -1)
        for fi, f in enumerate(FAMILIES):
            self.family_jets[f] += int((fam == fi).sum())
        if samples is None:     # published files: the label family stands in for the sample
            samples = np.where(fam >= 0, np.array(FAMILIES)[np.maximum(fam, 0)], "")
            self.from_family.update(FAMILIES[i] for i in np.unique(fam[fam >= 0]))
        self.unassigned += int((samples == "").sum())
        found, first = np.unique(samples, return_index=True)
        for name in map(str, found[np.argsort(first)]):     # first appearance first
            if not name:
                continue
            sel = samples == name
            if name not in self.hists:
                self.hists[name] = {k: np.zeros(len(e) - 1, np.int64)
                                    for k, (e, _, _) in HISTS.items()}
                self.sample_jets[name] = 0
            self.sample_jets[name] += int(sel.sum())
            h = self.hists[name]
            for k, x in values.items():
                h[k] += _fill(HISTS[k][0], x[sel])
            h["tau21"] += _fill(HISTS["tau21"][0], tau21[sel & ok])
        self.jets += len(lab)


def _required_columns(path: Path) -> list[str]:
    """Every JetClass-II column (JetClass ROOT files: the part_*/jet_* ones they have)."""
    if format_of(path) == "root":
        from .root import JETCLASS_COLUMNS
        return list(JETCLASS_COLUMNS)
    return list(JETCLASS2_COLUMNS)


def _pair_columns(path: Path) -> list[str]:
    """[resim_group, event_id] as far as a Parquet file has them (none without resim_group)."""
    if format_of(path) != "parquet":
        return []
    with open_parquet(path) as pf:
        names = pf.schema_arrow.names
    if GROUP_COLUMN not in names:
        return []
    return [GROUP_COLUMN] + ([EVENT_COLUMN] if EVENT_COLUMN in names else [])


def _has_sample_column(path: Path) -> bool:
    if format_of(path) != "parquet":
        return False
    with open_parquet(path) as pf:
        return SAMPLE_COLUMN in pf.schema_arrow.names


def _family_lookup(path: Path, n_labels: int) -> np.ndarray:
    """label index -> family index in FAMILIES (-1: in no family)."""
    out = np.full(n_labels, -1, np.int64)
    for name, idx in label_families(path).items():
        if name in FAMILIES:
            out[np.asarray(list(idx), np.int64)] = FAMILIES.index(name)
    return out


def _batch_numpy(batch: ak.Array) -> dict[str, np.ndarray]:
    out = {c: ak.to_numpy(batch[c]) for c in COLUMNS}
    out["jet_label"] = out["jet_label"].astype(np.int64)
    out["jet_nparticles"] = out["jet_nparticles"].astype(np.int64)
    return out


def _atomic_write(path: Path, write) -> None:
    """Write via a fresh temp file + os.replace so a crash never leaves a half-written file."""
    with atomic_path(path) as tmp:
        write(tmp)


def _figure(acc: _Accumulator, key: str):
    """The normalised histogram `key`, one curve per sample (matplotlib Figure)."""
    import matplotlib
    import matplotlib.style
    import mplhep
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend

    edges, xlabel, _ = HISTS[key]
    cmap = matplotlib.colormaps["tab10" if len(acc.hists) <= 10 else "tab20"]
    # style.context == mplhep.style.use("CMS") scoped to this plot (no global rcParams change)
    with matplotlib.style.context(mplhep.style.CMS):
        fig = Figure(figsize=(10, 8))
        ax = fig.add_subplot()
        for i, (name, hists) in enumerate(acc.hists.items()):
            h = hists[key]
            n = h.sum()
            if n == 0:
                continue
            norm = n * np.diff(edges)
            family = "label family, " if name in acc.from_family else ""
            mplhep.histplot(h / norm, edges, yerr=np.sqrt(h) / norm, ax=ax, histtype="step",
                            color=cmap(i % cmap.N),
                            label=f"{name} ({family}{acc.sample_jets[name]} jets)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Normalised to unit area")
        # Zoom the x axis to the filled bins (e.g. JetClass pT stops at 1 TeV), keeping 0.
        filled = np.flatnonzero(sum((h[key] for h in acc.hists.values()),
                                    np.zeros(len(edges) - 1, np.int64)))
        hi = edges[min(filled[-1] + 2, len(edges) - 1)] if filled.size else edges[-1]
        ax.set_xlim(edges[0], hi)
        ax.set_ylim(bottom=0)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize="small" if len(acc.hists) > 4 else None)
    return fig


def _plot(acc: _Accumulator, key: str, out: Path) -> None:
    import matplotlib.style
    import mplhep
    # saved in the style it was made in: outside it the axis labels' mathtext is laid out
    # with matplotlib's default fonts, and a findfont warning is printed on every run
    with matplotlib.style.context(mplhep.style.CMS):
        fig = _figure(acc, key)
        _atomic_write(out, lambda p: fig.savefig(p, format="png", dpi=80, bbox_inches="tight"))


def _summary(acc: _Accumulator, files: list[Path], read: list[Path],
             plots: list[Path]) -> dict[str, Any]:
    n = int(acc.nconst.sum())
    cdf = np.cumsum(acc.nconst)
    median = float((np.searchsorted(cdf, (n - 1) // 2, side="right")
                    + np.searchsorted(cdf, n // 2, side="right")) / 2) if n else None

    def rng(col):
        lo, hi = acc.ranges[col]
        return [lo, hi] if acc.jets else None

    labels = dict(sorted(acc.labels.items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "files": [str(p) for p in files],
        "files_read": len(read),
        "jets": acc.jets,
        "jets_per_sample": dict(acc.sample_jets),    # the plots' curves
        # samples named after the label family: their files have no `sample` column
        "samples_from_label_family": [s for s in acc.sample_jets if s in acc.from_family],
        "jets_per_family": dict(acc.family_jets),
        "jets_unassigned": acc.unassigned,
        "label_counts": labels,
        "n_labels_present": len(labels),
        "constituents_mean": float((acc.nconst * np.arange(acc.nconst.size)).sum() / n)
        if n else None,
        "constituents_median": median,
        "constituents_max": int(np.flatnonzero(acc.nconst).max()) if n else None,
        "jet_pt_range": rng("jet_pt"),
        "jet_sdmass_range": rng("jet_sdmass"),
        "jets_tau1_nonpositive": acc.tau1_zero,
        "resim_pairs": acc.resim_pairs,
        "resim_paired_jets": acc.resim_paired_jets if acc.resim_pairs is not None else None,
        "plots": [str(p) for p in plots],
    }


def format_summary(s: dict[str, Any]) -> str:
    """Human-readable table of `inspect_files`' summary."""
    def fmt_range(r):
        return "-" if r is None else f"{r[0]:.1f} .. {r[1]:.1f}"
    lines = [f"files         {len(s['files'])} ({s['files_read']} read)",
             f"verified      {s['files_verified']} of {len(s['files'])} files: every page of "
             "every column" + ("" if s["files_verified"] == len(s["files"])
                               else " (--max-jets stopped the reading early)"),
             f"jets          {s['jets']} (per sample: one curve in each plot)"]
    family_named = set(s["samples_from_label_family"])
    for name, n in s["jets_per_sample"].items():
        frac = n / s["jets"] if s["jets"] else 0.0
        note = "  (label family: no sample column)" if name in family_named else ""
        lines.append(f"  {name:<22} {n:>10}  {frac:6.1%}{note}")
    if s["jets_unassigned"]:
        lines.append(f"  {'in no sample':<22} {s['jets_unassigned']:>10}  (no sample column, "
                     "no label family)")
    families = [f"{f} {n}" for f, n in s["jets_per_family"].items() if n]
    if families:
        lines.append(f"label family  {', '.join(families)}")
    lines.append(f"labels        {s['n_labels_present']} present; top {TOP_LABELS}:")
    for name, n in list(s["label_counts"].items())[:TOP_LABELS]:
        lines.append(f"  {name:<22} {n:>10}")
    mean, med = s["constituents_mean"], s["constituents_median"]
    lines += [f"constituents  mean {'-' if mean is None else f'{mean:.2f}'}, "
              f"median {'-' if med is None else f'{med:g}'}, max {s['constituents_max']}",
              f"jet pT [GeV]  {fmt_range(s['jet_pt_range'])}",
              f"m_SD [GeV]    {fmt_range(s['jet_sdmass_range'])}",
              f"tau1 <= 0     {s['jets_tau1_nonpositive']} jets (no tau21)"]
    if s.get("resim_pairs") is not None:
        share = s["resim_paired_jets"] / s["jets"] if s["jets"] else 0.0
        lines.append(f"clean pairs: {s['resim_pairs']} ({100 * share:.1f} % of jets)")
    if s["plots"]:
        folder = Path(s["plots"][0]).parent
        lines.append(f"written to    {folder}{os.sep}: "
                     + ", ".join(Path(p).name for p in s["plots"]) + ", summary.json")
    return "\n".join(lines)


def inspect_files(paths: PathsLike, out_dir, max_jets: int | None = None,
                  batch_size: int = 8192, verbose: bool = True) -> dict[str, Any]:
    """Stream `paths`, write sdmass/jet_pt/nparticles/tau21 PNGs + summary.json to `out_dir`.

    Returns the summary dict (also printed when `verbose`). `max_jets` stops after that many
    jets (the first ones in file order). Raises DataError for unreadable or invalid input.
    """
    if max_jets is not None and max_jets < 1:
        raise ConfigError(f"--max-jets must be >= 1, got {max_jets}")
    files = expand_paths(paths)
    out = Path(out_dir)
    folder = OutputFolder(out, "inspect", {"files": [str(f.resolve()) for f in files],
                                           "max_jets": max_jets})
    folder.check()      # a user's folder or another job's: refused before anything is read
    for path in files:   # the same footer checks as every command: schema, labels, not empty
        check_footer(path, _required_columns(path), label_names(path))
    acc, read, verified = _Accumulator(), [], 0
    for path in files:
        if max_jets is not None and acc.jets >= max_jets:
            break
        read.append(path)
        names = label_names(path)
        family_of = _family_lookup(path, len(names))
        pair_cols = _pair_columns(path)
        sample_cols = [SAMPLE_COLUMN] if _has_sample_column(path) else []
        groups, events = [], []
        # every page of every column is read (and its checksum verified), not only COLUMNS
        with contextlib.closing(read_every_column(path, COLUMNS + pair_cols + sample_cols,
                                                  batch_size)) as it:
            for batch, row in it:
                if max_jets is not None:
                    batch = batch[: max_jets - acc.jets]
                check_batch(batch, path, row, "jet_label", len(names), None,
                            allow_unlabelled=True)
                samples = (np.asarray(ak.to_list(batch[SAMPLE_COLUMN]), dtype=str)
                           if sample_cols else None)
                acc.add(_batch_numpy(batch), names, family_of, path, samples)
                if pair_cols:
                    groups.append(ak.to_numpy(batch[GROUP_COLUMN]))
                if len(pair_cols) == 2:
                    events.append(ak.to_numpy(batch[EVENT_COLUMN]))
                if max_jets is not None and acc.jets >= max_jets:
                    break
            else:
                verified += 1
        acc.add_pairs(groups, events)
    with folder:    # only after every input was read cleanly; a failure takes it back
        plots = [out / HISTS[k][2] for k in HISTS]
        try:
            for key, p in zip(HISTS, plots):
                _plot(acc, key, p)
            summary = _summary(acc, files, read, plots)
            summary["files_verified"] = verified
            _atomic_write(out / "summary.json",
                          lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"))
        except BaseException:   # no mix of this run's and an earlier run's plots
            for p in [*plots, out / "summary.json"]:
                p.unlink(missing_ok=True)
            raise
    if verbose:
        print(format_summary(summary))
    return summary


__all__ = ["inspect_files", "format_summary", "HISTS", "FAMILIES", "COLUMNS"]
