"""Per-jet and per-event inputs of the anomaly searches.

Four kinds, the same for CWoLa, idealised AD and the autoencoder:
- `highlevel`: m_J (soft-drop), τ21, τ32, τ43, n_particles;
- `embedding`: the frozen backbone's 128-d class-token embedding (any strategy's run);
- `discriminants`: Sophon-style D = Σ_A g / (Σ_A g + Σ_QCD g) from a classifier run's class
  scores, for the triboson-like signals of a W′ → WWW search (docs/design.md): Res2P,
  Res34P 3- and 4-prong, each vs QCD;
- `scores`: every class probability of a classifier run (188 for JetClass-II), the Sophon
  papers' "full scores" input.

Dijet events (`jetfm generate --sample dijet-qcd|wprime`) are rows of jets with `event_id`,
`jet_index` and `event_mjj`; an event's input is its two jets' inputs, heavier (m_SD) first.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from ..data.config import DataConfig
from ..data.features import FlatJets, compute_flat
from ..data.files import check_footer
from ..data.paths import expand_paths
from ..data.readers import iter_jets
from ..embeddings import cached_embeddings, dataset_key
from ..errors import ConfigError, DataError
from ..metrics.discriminants import builtin_discriminants
from .. import pretrained
from ..pretrained import PretrainedRun

INPUT_KINDS = ("highlevel", "embedding", "discriminants", "scores")
HIGH_LEVEL = ("m_J", "tau21", "tau32", "tau43", "n_particles")
DISCRIMINANTS = ("Res2P_vs_QCD", "Res34P_3q_vs_QCD", "Res34P_4q_vs_QCD")
JET_COLUMNS = ["jet_sdmass", "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4", "jet_nparticles",
               "jet_pt"]
EVENT_COLUMNS = ["event_id", "jet_index", "event_mjj", "event_weight"]


@dataclass
class Jets:
    """Per-jet inputs (N, F) and the per-jet columns they came with (including `file`)."""
    x: np.ndarray
    names: list[str]
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class Events:
    """Per-event inputs (N, 2F): both jets, heavier first; m_JJ (GeV) and weight."""
    x: np.ndarray
    names: list[str]
    mjj: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx) -> "Events":
        return Events(self.x[idx], self.names, self.mjj[idx], self.weight[idx])

    @staticmethod
    def concat(parts: list["Events"]) -> "Events":
        return Events(np.concatenate([p.x for p in parts]), parts[0].names,
                      np.concatenate([p.mjj for p in parts]),
                      np.concatenate([p.weight for p in parts]))


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _read_columns(paths: list[Path], columns: list[str]) -> dict[str, np.ndarray]:
    for path in paths:        # footers first: a file without jets is refused, by name
        check_footer(path, columns)
    parts: dict[str, list] = {c: [] for c in columns + ["file"]}
    for path, batch in iter_jets(paths, columns=columns):
        for c in columns:
            parts[c].append(ak.to_numpy(batch[c]))
        parts["file"].append(np.full(len(batch), paths.index(path), np.int64))
    return {c: np.concatenate(v) for c, v in parts.items()}


def load_jets(files, kind: str, backbone: PretrainedRun | None = None, extra_columns=(),
              max_jets: int | None = None, progress: bool = True,
              mjj_range: tuple[float, float] | None = None) -> Jets:
    """Inputs of every jet in `files` (the first `max_jets`; with `mjj_range`, only jets of
    dijet events with m_JJ in [lo, hi), so the backbone runs only on events a search uses).
    `backbone`: the trained run (`load_backbone`) for `embedding` and `discriminants`."""
    if kind not in INPUT_KINDS:
        raise ConfigError(f"--inputs {kind!r}: choose one of {', '.join(INPUT_KINDS)}")
    check_max_jets(max_jets)
    paths = expand_paths(files)
    if not paths:
        raise ConfigError(f"no Parquet/ROOT files found in {files}")
    columns = JET_COLUMNS + list(extra_columns) + (["event_mjj"] if mjj_range else [])
    cols = _read_columns(paths, list(dict.fromkeys(columns)))
    n = len(cols["jet_pt"])
    keep = np.zeros(n, bool)
    keep[:n if max_jets is None else min(n, max_jets)] = True
    if mjj_range is not None:
        keep &= (cols["event_mjj"] >= mjj_range[0]) & (cols["event_mjj"] < mjj_range[1])
    cols = {k: v[keep] for k, v in cols.items()}
    if kind == "highlevel":
        t = [cols[f"jet_tau{i}"] for i in range(1, 5)]
        x = np.stack([cols["jet_sdmass"], _ratio(t[1], t[0]), _ratio(t[2], t[1]),
                      _ratio(t[3], t[2]), cols["jet_nparticles"]], axis=1)
        names = list(HIGH_LEVEL)
    else:
        if backbone is None:
            raise ConfigError(f"--inputs {kind} needs --backbone RUN_DIR (a pretrain run)")
        data_cfg = backbone.data_config
        flat = _flat_jets(paths, data_cfg, keep)
        key = {"files": dataset_key(paths), "features": data_cfg.name, "anomaly": True,
               "max_particles": data_cfg.max_particles,
               "rows": hashlib.sha256(np.packbits(keep).tobytes()).hexdigest()}
        if kind == "embedding":
            x, _ = cached_embeddings(backbone, flat, key, progress)
            names = [f"emb{i}" for i in range(x.shape[1])]
        else:
            probs, _ = cached_embeddings(backbone, flat, key, progress, output="probs")
            labels = list(data_cfg.labels.names)
            x, names = (class_discriminants(probs, labels) if kind == "discriminants" else
                        (probs, [f"p_{name}" for name in labels]))
    x = np.asarray(x, np.float32)
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad):
        f = paths[int(cols["file"][bad[0]])]
        raise DataError(f"{f}: {len(bad)} jet(s) give non-finite {kind} inputs")
    return Jets(x, names, cols)


def check_max_jets(max_jets: int | None) -> None:
    """--max-jets is >= 1 or absent (a negative slice would silently drop the last jets)."""
    if max_jets is not None and max_jets < 1:
        raise ConfigError(f"--max-jets must be >= 1, got {max_jets}")


def _flat_jets(paths: list[Path], cfg: DataConfig, keep: np.ndarray) -> FlatJets:
    """The jets `keep` (a mask over all rows, in file order) as backbone inputs: the run's
    features, no labels, no selection cuts."""
    model_cfg = dataclasses.replace(cfg, labels=None, selection=())
    parts, seen = [], 0
    for path, batch in iter_jets(paths, columns=model_cfg.required_columns()):
        rows = keep[seen:seen + len(batch)]
        seen += len(batch)
        if rows.any():
            parts.append(compute_flat(batch[rows], model_cfg, path=path))
    return FlatJets.concat(parts)


def class_discriminants(probs: np.ndarray, label_names: list[str]):
    """(N, ≤3) discriminants of DISCRIMINANTS (those the run's labels allow) from its class
    probabilities."""
    available = {d.name: d for d in builtin_discriminants(label_names)}
    names = [n for n in DISCRIMINANTS if n in available]
    out = [available[n](probs, label_names) for n in names]
    if not out:
        raise ConfigError("--inputs discriminants needs a classifier over the JetClass-II labels "
                          "(a supervised or clip run); this run has none of "
                          f"{', '.join(DISCRIMINANTS)}")
    return np.stack(out, axis=1), names


def to_events(jets: Jets, what: str = "files") -> Events:
    """Pair the two jets of each dijet event (consecutive rows of one file with one event_id),
    heavier jet first; every event must have exactly jet_index 0 and 1."""
    c = jets.columns
    for col in ("event_id", "jet_index", "event_mjj", "event_weight"):
        if col not in c:
            raise DataError(f"{what}: no column {col!r}; dijet events come from "
                            "`jetfm generate --sample dijet-qcd|wprime`")
    key = np.stack([c["file"], c["event_id"]], axis=1)
    order = np.lexsort((c["jet_index"], c["event_id"], c["file"]))
    key = key[order]
    if len(order) % 2 or np.any(key[0::2] != key[1::2]) or \
            np.any(c["jet_index"][order][0::2] != 0) or np.any(c["jet_index"][order][1::2] != 1):
        raise DataError(f"{what}: every dijet event must have exactly two jets "
                        "(jet_index 0 and 1); were the files cut or merged?")
    a, b = order[0::2], order[1::2]
    heavier_first = c["jet_sdmass"][a] >= c["jet_sdmass"][b]
    j1, j2 = np.where(heavier_first, a, b), np.where(heavier_first, b, a)
    x = np.concatenate([jets.x[j1], jets.x[j2]], axis=1)
    names = [f"j1_{n}" for n in jets.names] + [f"j2_{n}" for n in jets.names]
    return Events(x, names, c["event_mjj"][a].astype(np.float64),
                  c["event_weight"][a].astype(np.float64))


def require_unweighted(weight: np.ndarray, what: str, signal: bool = False) -> None:
    """The weakly supervised searches treat events as data (and draw injected signal events
    uniformly): every weight must be 1."""
    if not np.allclose(weight, 1.0):
        how = ("generate the signal unweighted, e.g. `jetfm generate --sample wprime`" if signal
               else "generate the QCD dijets with `jetfm generate --sample dijet-qcd "
                    "--pthat-min 800`")
        raise DataError(f"{what}: event_weight != 1 (a pT-hat-biased sample); the searches need "
                        f"unweighted, data-like events: {how}")


def load_events(files, kind: str, backbone=None, progress: bool = True,
                mjj_range: tuple[float, float] | None = None) -> Events:
    """Dijet events of `files` (with m_JJ in `mjj_range` if given) and their inputs."""
    jets = load_jets(files, kind, backbone, extra_columns=EVENT_COLUMNS, progress=progress,
                     mjj_range=mjj_range)
    what = ", ".join(map(str, files))
    events = to_events(jets, what=what)
    if not len(events):
        where = f" with m_JJ in {mjj_range[0]:g}-{mjj_range[1]:g} GeV" if mjj_range else ""
        raise DataError(f"{what}: no dijet event{where}")
    return events


def reduce_dimensions(x: np.ndarray, n: int, fit_on: np.ndarray | None = None) -> np.ndarray:
    """The first `n` principal components (scikit-learn PCA, fitted on `fit_on` rows or all),
    for wide inputs such as embeddings; unsupervised, so it uses no label of any search."""
    if n <= 0 or x.shape[1] <= n:
        return x
    from sklearn.decomposition import PCA
    pca = PCA(n_components=n, random_state=0).fit(x if fit_on is None else x[fit_on])
    return pca.transform(x).astype(np.float32)


def load_backbone(run_dir) -> PretrainedRun:
    """The `--backbone` run, opened by the one seam for trained runs (strict weights)."""
    return pretrained.open_run(run_dir)
