"""`jetfm resample`: keep a subset of jets whose (pT, η) distribution follows a reference
sample's, as the anomaly-detection studies do before comparing dark jets with QCD (so that a
tagger cannot separate them by kinematics alone).

Accept–reject per jet: with h_data and h_ref the (pT, η) histograms (log-spaced pT bins over the
common range, η bins in [−2.5, 2.5]), a jet in bin b is kept with probability
r_b / max r, r = (h_ref / N_ref) / (h_data / N_data) — the largest subset that follows the
reference shape where the data has jets (bins the data lacks cannot be filled: they are
reported). Jets outside the reference's range are dropped. Seeded. Per jet, so dijet files
(both jets of an event) are refused.

Output (`--out`, the `jetfm.outdir.OutputFolder` contract: a new or empty folder, or this same
resample's; a second live resample on it is refused with its PID): one file per input file
that keeps jets, under the input's name — inputs of the same name in different folders
(a/part_0.parquet, b/part_0.parquet) get their folders as a prefix (a_part_0.parquet,
b_part_0.parquet) — written atomically, then `resample_config.yaml`, the record, last.
An input that keeps no jet gets no file (the record lists it under `files_skipped`).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ..errors import ConfigError, DataError
from ..io import atomic_path, remove_stale_temps, write_config
from ..outdir import OutputFolder
from .files import check_footer
from .parquet import open_parquet
from .paths import PathsLike, expand_paths, format_of

KINEMATICS = ("jet_pt", "jet_eta")
GENERATE_META = b"jetfm.generate"      # a resampled file is no longer the generator's output
RECORD = "resample_config.yaml"


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    """The file (or `columns` of it), every page's checksum verified; DataError naming it."""
    with open_parquet(path) as pf:
        try:
            return pf.read(columns=columns)
        except (pa.ArrowException, OSError) as e:
            why = " ".join(str(e).split())     # one line, whatever pyarrow says
            raise DataError(f"{path}: corrupt data while reading ({why})") from e


def _kinematics(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    pts, etas = [], []
    for path in paths:
        t = _read(path, list(KINEMATICS))
        pts.append(t.column("jet_pt").to_numpy())
        etas.append(t.column("jet_eta").to_numpy())
    return np.concatenate(pts), np.concatenate(etas)


def acceptance(pt, eta, ref_pt, ref_eta, pt_bins: int = 24, eta_bins: int = 10):
    """(keep probability per bin, pT edges, η edges, bins the data cannot fill)."""
    lo, hi = max(pt.min(), ref_pt.min()), min(pt.max(), ref_pt.max())
    if not lo < hi:
        raise ConfigError(f"the data (pT {pt.min():.0f}–{pt.max():.0f} GeV) and the reference "
                          f"(pT {ref_pt.min():.0f}–{ref_pt.max():.0f} GeV) do not overlap")
    pt_edges = np.geomspace(lo, hi * (1 + 1e-9), pt_bins + 1)
    eta_edges = np.linspace(-2.5, 2.5, eta_bins + 1)
    h_data = np.histogram2d(pt, eta, (pt_edges, eta_edges))[0] / len(pt)
    h_ref = np.histogram2d(ref_pt, ref_eta, (pt_edges, eta_edges))[0] / len(ref_pt)
    ratio = np.divide(h_ref, h_data, out=np.zeros_like(h_ref), where=h_data > 0)
    if not ratio.max() > 0:
        raise ConfigError(f"no (pT, eta) bin holds both data and reference jets "
                          f"({pt_bins} x {eta_bins} bins over pT {lo:.0f}–{hi:.0f} GeV): "
                          "nothing can be kept")
    unfilled = int(((h_ref > 0) & (h_data == 0)).sum())
    return ratio / ratio.max(), pt_edges, eta_edges, unfilled


def _bin(values, edges):
    i = np.searchsorted(edges, values, side="right") - 1
    return np.where((i >= 0) & (i < len(edges) - 1), i, -1)


def output_names(paths: list[Path]) -> list[str]:
    """One output file name per input, distinct and deterministic: the input's own name, or,
    for inputs sharing a name, the fewest trailing folder names that tell them apart as a
    prefix (a/part_0.parquet, b/part_0.parquet -> a_part_0.parquet, b_part_0.parquet)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(paths):
        groups[p.name].append(i)
    names = [p.name for p in paths]
    for name, idx in groups.items():
        if len(idx) == 1:
            continue
        folders = [paths[i].parent.parts[1:] for i in idx]     # without the root "/"
        for depth in range(1, max(map(len, folders)) + 1):
            tags = ["_".join(f[-depth:]).lstrip(".") for f in folders]
            if len(set(tags)) == len(idx):
                break
        for i, tag in zip(idx, tags):
            names[i] = f"{tag}_{name}" if tag else name
    seen: dict[str, Path] = {}
    for p, name in zip(paths, names):
        if name in seen:
            raise ConfigError(f"{seen[name]} and {p} would both be written as {name}; "
                              "rename one of them or resample them separately")
        seen[name] = p
    return names


def _previous_files(out: Path) -> list[str]:
    """The files an earlier run of this same job recorded (to drop those it no longer makes)."""
    try:
        files = (yaml.safe_load((out / RECORD).read_text()) or {}).get("files", [])
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return []
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def resample(data: PathsLike, reference: PathsLike, out: str | Path, seed: int = 1,
             pt_bins: int = 24, eta_bins: int = 10) -> dict:
    paths, ref_paths = expand_paths(data), expand_paths(reference)
    folder = OutputFolder(out, "resample", identity={
        "data": [str(p) for p in paths], "reference": [str(p) for p in ref_paths],
        "seed": seed, "pt_bins": pt_bins, "eta_bins": eta_bins})
    out = folder.path
    folder.check()         # a user's files, another job's results: refused before any reading
    for path in paths + ref_paths:
        if format_of(path) != "parquet":
            raise ConfigError(f"{path}: resample reads jetfm/JetClass-II Parquet files")
        check_footer(path, list(KINEMATICS))
    for path in paths:
        if "jet_index" in pq.read_schema(path).names:
            raise ConfigError(f"{path}: holds dijet events (jet_index); resampling per jet "
                              "would split them")
    names = output_names(paths)
    pt, eta = _kinematics(paths)
    prob, pt_edges, eta_edges, unfilled = acceptance(pt, eta, *_kinematics(ref_paths),
                                                     pt_bins, eta_bins)
    rng = np.random.default_rng(seed)
    with folder:
        previous = _previous_files(out)
        (out / RECORD).unlink(missing_ok=True)     # no record: the folder reads as unfinished
        remove_stale_temps(out, names + [RECORD])
        kept, written, skipped = 0, [], []
        try:
            for path, name in zip(paths, names):
                table = _read(path)
                b_pt = _bin(table.column("jet_pt").to_numpy(), pt_edges)
                b_eta = _bin(table.column("jet_eta").to_numpy(), eta_edges)
                p = np.where((b_pt >= 0) & (b_eta >= 0), prob[b_pt, b_eta], 0.0)
                table = table.filter(rng.random(len(p)) < p)
                if table.num_rows == 0:
                    skipped.append(str(path))
                    (out / name).unlink(missing_ok=True)    # an earlier run's file for it
                    continue
                meta = {k: v for k, v in (table.schema.metadata or {}).items()
                        if k != GENERATE_META}
                table = table.replace_schema_metadata(meta)
                with atomic_path(out / name) as tmp:
                    pq.write_table(table, tmp, compression="zstd", write_page_checksum=True)
                kept += table.num_rows
                written.append(str(out / name))
        except BaseException:
            for name in written:
                Path(name).unlink(missing_ok=True)
            raise
        for old in previous:     # an earlier run of this job made it, this one does not
            if old not in written and Path(old).parent == out and old.endswith(".parquet"):
                Path(old).unlink(missing_ok=True)
        summary = {"data": [str(p) for p in paths], "reference": [str(p) for p in ref_paths],
                   "seed": seed, "pt_bins": pt_bins, "eta_bins": eta_bins,
                   "pt_range_gev": [float(pt_edges[0]), float(pt_edges[-1])],
                   "jets_in": int(len(pt)), "jets_kept": kept,
                   "bins_the_data_cannot_fill": unfilled,
                   "files": written, "files_skipped": skipped}
        write_config(out / RECORD, summary)
    return summary


__all__ = ["acceptance", "output_names", "resample"]
