"""`jetfm resample`: keep a subset of jets whose (pT, η) distribution follows a reference
sample's, as the anomaly-detection studies do before comparing dark jets with QCD (so that a
tagger cannot separate them by kinematics alone).

Accept–reject per jet: with h_data and h_ref the (pT, η) histograms (log-spaced pT bins over the
common range, η bins in [−2.5, 2.5]), a jet in bin b is kept with probability
r_b / max r, r = (h_ref / N_ref) / (h_data / N_data) — the largest subset that follows the
reference shape where the data has jets (bins the data lacks cannot be filled: they are
reported). Jets outside the reference's range are dropped. Seeded; files are written under
their own names in the output folder, atomically, with a `resample_config.yaml` record.
Per jet, so dijet files (both jets of an event) are refused.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ..errors import ConfigError
from ..io import atomic_path, make_output_folder, remove_empty_folders, write_config
from .files import check_footer
from .parquet import open_parquet
from .paths import PathsLike, expand_paths, format_of

KINEMATICS = ("jet_pt", "jet_eta")
GENERATE_META = b"jetfm.generate"      # a resampled file is no longer the generator's output


def _kinematics(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    pts, etas = [], []
    for path in paths:
        with open_parquet(path) as pf:
            t = pf.read(columns=list(KINEMATICS))
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
    unfilled = int(((h_ref > 0) & (h_data == 0)).sum())
    return ratio / ratio.max(), pt_edges, eta_edges, unfilled


def _bin(values, edges):
    i = np.searchsorted(edges, values, side="right") - 1
    return np.where((i >= 0) & (i < len(edges) - 1), i, -1)


def resample(data: PathsLike, reference: PathsLike, out: str | Path, seed: int = 1,
             pt_bins: int = 24, eta_bins: int = 10) -> dict:
    paths, ref_paths = expand_paths(data), expand_paths(reference)
    for path in paths + ref_paths:
        if format_of(path) != "parquet":
            raise ConfigError(f"{path}: resample reads jetfm/JetClass-II Parquet files")
        check_footer(path, list(KINEMATICS))
    for path in paths:
        if "jet_index" in pq.read_schema(path).names:
            raise ConfigError(f"{path}: holds dijet events (jet_index); resampling per jet "
                              "would split them")
    out = Path(out).absolute()
    clash = [p for p in paths if (out / p.name).exists()]
    if clash:
        raise ConfigError(f"--out {out}: {clash[0].name} exists there; use an empty folder")
    pt, eta = _kinematics(paths)
    prob, pt_edges, eta_edges, unfilled = acceptance(pt, eta, *_kinematics(ref_paths),
                                                     pt_bins, eta_bins)
    rng = np.random.default_rng(seed)
    made = make_output_folder(out)
    kept, written = 0, []
    try:
        for path in paths:
            with open_parquet(path) as pf:
                table = pf.read()
            b_pt = _bin(table.column("jet_pt").to_numpy(), pt_edges)
            b_eta = _bin(table.column("jet_eta").to_numpy(), eta_edges)
            p = np.where((b_pt >= 0) & (b_eta >= 0), prob[b_pt, b_eta], 0.0)
            table = table.filter(rng.random(len(p)) < p)
            meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != GENERATE_META}
            table = table.replace_schema_metadata(meta)
            with atomic_path(out / path.name) as tmp:
                pq.write_table(table, tmp, compression="zstd", write_page_checksum=True)
            kept += table.num_rows
            written.append(str(out / path.name))
    except BaseException:
        for name in written:
            Path(name).unlink(missing_ok=True)
        remove_empty_folders(made)
        raise
    summary = {"data": [str(p) for p in paths], "reference": [str(p) for p in ref_paths],
               "seed": seed, "pt_bins": pt_bins, "eta_bins": eta_bins,
               "pt_range_gev": [float(pt_edges[0]), float(pt_edges[-1])],
               "jets_in": int(len(pt)), "jets_kept": kept, "bins_the_data_cannot_fill": unfilled,
               "files": written}
    write_config(out / "resample_config.yaml", summary)
    return summary


__all__ = ["acceptance", "resample"]
