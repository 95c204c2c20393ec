"""The `jetfm anomaly` runs: read the files, build every input set, run the search, write the
figures, the resolved configuration and, last, `results.json` into the output folder.

The folder follows the one `--out` contract (`jetfm.outdir.OutputFolder`): claimed for this
job's identity (the settings that decide its results), refused if it holds a user's files or
another job's results or is in use by a live run, taken back if the job fails in a folder it
made. Files are written atomically; a failure while writing them removes what this run wrote,
so a results.json is never left without its figures.

Input sets are given as strings, parsed (never evaluated): `highlevel`, `embedding:RUN_DIR`,
`discriminants:RUN_DIR`, `scores:RUN_DIR`. Several sets in one run are compared side by side on the same events,
the same injected signal and the same folds. Each gets its own label (`embedding:sup`; two runs
of one name are told apart by their parent folders: `embedding:runs/sup`, `embedding:old/sup`).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..io import write_config, write_json
from ..outdir import OutputFolder
from . import plots
from .autoencoder import AutoencoderConfig, autoencoder_search
from .cwola import CwolaConfig, best_hunt, cwola_hunt, max_z
from .iad import IadConfig, idealised_ad
from .sculpting import look_elsewhere
from .inputs import (INPUT_KINDS, Events, check_max_jets, load_backbone, load_events, load_jets,
                     reduce_dimensions, require_unweighted)


@dataclass(frozen=True)
class InputSpec:
    kind: str
    run: str | None = None

    @staticmethod
    def parse(text: str) -> "InputSpec":
        kind, _, run = text.partition(":")
        if kind not in INPUT_KINDS:
            raise ConfigError(f"--inputs {text!r}: the kind must be one of "
                              f"{', '.join(INPUT_KINDS)} (e.g. highlevel, embedding:runs/clip)")
        if kind == "highlevel" and run:
            raise ConfigError(f"--inputs {text!r}: highlevel takes no run directory")
        if kind != "highlevel" and not run:
            raise ConfigError(f"--inputs {text!r}: give the pretrain run, {kind}:RUN_DIR")
        return InputSpec(kind, run or None)

    @property
    def key(self) -> str:
        """The kind, with the run folder resolved: what decides this input set."""
        return self.kind if self.run is None else f"{self.kind}:{Path(self.run).resolve()}"

    def load(self):
        """The backbone (None for highlevel)."""
        return None if self.run is None else load_backbone(self.run)


def _specs(inputs) -> list[InputSpec]:
    specs = [InputSpec.parse(s) for s in inputs]
    if not specs:
        raise ConfigError("--inputs: give at least one input set")
    keys = [s.key for s in specs]
    for k, text in zip(keys, inputs):
        if keys.count(k) > 1:
            raise ConfigError(f"--inputs {text!r}: this input set is given twice")
    return specs


def input_labels(specs: list[InputSpec]) -> list[str]:
    """One distinct label per input set: the kind, and the run folder's name with as many of
    its parent folders as it takes to tell runs of the same name apart."""
    parts = [Path(os.path.normpath(Path(s.run).absolute())).parts[1:] if s.run else ()
             for s in specs]
    depth = [1] * len(specs)
    while True:
        labels = [s.kind if not p else f"{s.kind}:{'/'.join(p[-d:])}"
                  for s, p, d in zip(specs, parts, depth)]
        clash = [i for i, label in enumerate(labels) if labels.count(label) > 1]
        if not clash:
            return labels
        grow = [i for i in clash if depth[i] < len(parts[i])]
        if not grow:     # distinct resolved runs always differ somewhere in their paths
            raise ConfigError(f"--inputs: cannot tell {labels[clash[0]]!r} apart; give the "
                              "runs by different paths")
        for i in grow:
            depth[i] += 1


def _figure_names(labels: list[str], prefix: str) -> list[str]:
    """PNG names, one per label, distinct even where two labels differ only in characters a
    file name cannot hold."""
    names: list[str] = []
    for label in labels:
        base = f"{prefix}{_safe(label)}"
        name, k = f"{base}.png", 2
        while name in names:
            name, k = f"{base}-{k}.png", k + 1
        names.append(name)
    return names


def _config_record(cfg) -> dict:
    d = asdict(cfg)
    for k, v in d.items():
        if isinstance(v, np.ndarray):
            d[k] = v.tolist()
    return d


def _identity(config: dict, specs: list[InputSpec]) -> dict:
    """The settings that decide a job's results (its output folder is claimed for them)."""
    return {**{k: v for k, v in config.items() if k != "out"},
            "inputs": [s.key for s in specs]}


def _finish(out: Path, results: dict, config: dict, figures) -> None:
    """Figures first, then the configuration, and results.json (the file readers trust) last.
    A re-run's old results.json goes before its figures are replaced; a failure on the way
    removes the configuration and every figure this run wrote, so no results.json is ever left
    without its figures (and a folder the run made is then taken back by the OutputFolder)."""
    trusted, record = out / "results.json", out / "anomaly_config.yaml"
    trusted.unlink(missing_ok=True)
    written = [record]
    try:
        for name, draw in figures:
            written.append(out / name)
            draw(out / name)
        write_config(record, config)
        write_json(trusted, results)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _absolute(files) -> list[str]:
    return [str(Path(f).absolute()) for f in files]


def _inject(data: Events, signal: Events | None, n: int, seed: int):
    """Data with `n` signal events drawn at random; truth flags (True = injected signal)."""
    if n and signal is None:
        raise ConfigError("--inject needs --signal FILES")
    if signal is None or n == 0:
        return data, np.zeros(len(data), bool), np.array([], np.int64)
    if n > len(signal):
        raise ConfigError(f"--inject {n}: the signal files hold {len(signal)} events")
    pick = np.sort(np.random.default_rng([seed, 17]).choice(len(signal), n, replace=False))
    return (Events.concat([data, signal.take(pick)]),
            np.concatenate([np.zeros(len(data), bool), np.ones(n, bool)]), pick)


def _check_pca(n: int) -> None:
    if n < 0:
        raise ConfigError(f"--pca {n}: must be >= 0 (0: off)")


def _pca(ev: Events, n: int, fit_on=None) -> Events:
    x = reduce_dimensions(ev.x, n, fit_on)
    names = ev.names if x is ev.x else [f"pc{i}" for i in range(x.shape[1])]
    return Events(x, names, ev.mjj, ev.weight)


def run_cwola(data, inputs, out, cfg: CwolaConfig, signal=None, inject: int = 0,
              centres_gev=None, pca: int = 0, progress: bool = True) -> dict:
    cfg.validate()
    specs = _specs(inputs)
    labels = input_labels(specs)
    _check_pca(pca)
    centres = (cfg.centres() if not centres_gev else
               sorted({cfg.centre_of(m) for m in centres_gev}))
    for c in centres:
        cfg.regions(c)
    config = {**_config_record(cfg), "data": _absolute(data), "inputs": list(inputs),
              "signal": _absolute(signal or []), "inject": inject, "pca": pca,
              "centres_gev": list(centres_gev or []), "out": str(Path(out).absolute())}
    with OutputFolder(out, "anomaly cwola", _identity(config, specs)) as folder:
        t0 = time.time()
        window = (float(cfg.edges[0]), float(cfg.edges[-1]))
        base = load_events(data, "highlevel", progress=progress)
        require_unweighted(base.weight, "--data " + ", ".join(map(str, data)))  # before backbones
        sig_base = None
        if signal:
            sig_base = load_events(signal, "highlevel", progress=progress)
            require_unweighted(sig_base.weight, "--signal " + ", ".join(map(str, signal)),
                               signal=True)
        res = {"kind": "jetfm.anomaly.cwola", "edges": cfg.edges.tolist(), "inputs": {},
               "n_data_events": len(base), "injected": inject, "pca": pca}
        for spec, label in zip(specs, labels):
            backbone = spec.load()
            ev, sg = base, sig_base
            if spec.kind != "highlevel":    # the backbone runs only on events in the fit range
                ev = load_events(data, spec.kind, backbone, progress, window)
                sg = load_events(signal, spec.kind, backbone, progress, window) if signal else None
            elif signal:      # the same events as the backbone inputs see, so injections match
                sg = sig_base.take(np.flatnonzero((sig_base.mjj >= window[0]) &
                                                  (sig_base.mjj < window[1])))
            ev, truth, _ = _inject(ev, sg, inject, cfg.seed)
            ev = _pca(ev, pca)
            hunts = []
            for c in centres:
                h = cwola_hunt(ev.mjj, ev.x, c, cfg, truth=truth if inject else None,
                               progress=progress)
                lo, hi = h["signal_region"]
                sr = (ev.mjj >= lo) & (ev.mjj < hi)
                h["signal_events_in_sr"] = int((truth & sr).sum())
                h["background_events_in_sr"] = int((~truth & sr).sum())
                hunts.append(h)
            res["inputs"][label] = {
                "features": ev.names if len(ev.names) <= 20 else f"{len(ev.names)} features",
                "hunts": hunts,
                "max_z": {str(e): max_z(hunts, e) for e in cfg.efficiencies},
                "look_elsewhere": look_elsewhere(len(centres), len(cfg.efficiencies),
                                                 max_z(hunts)),
                "sculpted_selections": sum(s["sculpted"] for h in hunts
                                           for s in h["selections"])}
        res["seconds"] = round(time.time() - t0, 1)
        res["config"] = config

        def spectra(label):
            return lambda path: plots.plot_spectra(best_hunt(res["inputs"][label]["hunts"]),
                                                   cfg.edges, path, title=f"CWoLa, {label}")
        _finish(folder.path, res, config,
                [(name, spectra(label)) for label, name in
                 zip(labels, _figure_names(labels, "spectra_"))])
    return res


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def run_iad(background, signal, inputs, out, cfg: IadConfig, signal_region: tuple[float, float],
            pca: int = 0, progress: bool = True) -> dict:
    """IAD in a signal region of m_JJ (GeV) on dijet events."""
    cfg.validate()
    specs = _specs(inputs)
    labels = input_labels(specs)
    _check_pca(pca)
    lo, hi = signal_region
    if not 0 < lo < hi:
        raise ConfigError(f"--signal-region {lo:g} {hi:g}: need 0 < LO < HI")
    config = {**_config_record(cfg), "background": _absolute(background),
              "signal": _absolute(signal), "inputs": list(inputs), "pca": pca,
              "signal_region": [lo, hi], "out": str(Path(out).absolute())}
    sidebands = sideband_windows(lo, hi)
    with OutputFolder(out, "anomaly iad", _identity(config, specs)) as folder:
        t0 = time.time()
        # weights checked on the high-level inputs, before any backbone runs
        high = (_background_regions(background, "highlevel", None, progress, lo, hi),
                load_events(signal, "highlevel", None, progress, (lo, hi)))
        require_unweighted(high[0][0].weight, "--background " + ", ".join(map(str, background)))
        require_unweighted(high[1].weight, "--signal " + ", ".join(map(str, signal)),
                           signal=True)
        res = {"kind": "jetfm.anomaly.iad", "signal_region": [lo, hi],
               "sidebands": [list(w) for w in sidebands], "inputs": {}}
        for spec, label in zip(specs, labels):
            backbone = spec.load()
            (bkg, sb), sig = high if spec.kind == "highlevel" else (
                _background_regions(background, spec.kind, backbone, progress, lo, hi),
                load_events(signal, spec.kind, backbone, progress, (lo, hi)))
            n_b, n_s = len(bkg), len(sig)
            every = _pca(Events.concat([bkg, sig, sb]), pca, fit_on=np.arange(n_b))
            r = idealised_ad(every.x[:n_b], every.x[n_b:n_b + n_s], cfg, progress,
                             x_sideband=every.x[n_b + n_s:])
            r["features"] = every.names if len(every.names) <= 20 else f"{len(every.names)} features"
            res["inputs"][label] = r
        res["seconds"] = round(time.time() - t0, 1)
        res["config"] = config

        def sic(label):
            return lambda path: plots.plot_sic_curves(res["inputs"][label], path,
                                                      title=f"IAD, {label}")
        figures = [(name, sic(label))
                   for label, name in zip(labels, _figure_names(labels, "sic_"))]
        figures.append(("max_sic.png", lambda path: plots.plot_max_sic(
            res["inputs"], path, title=f"IAD, SR {lo:g}-{hi:g} GeV")))
        _finish(folder.path, res, config, figures)
    return res


def sideband_windows(lo: float, hi: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """IAD's sidebands: a window of the signal region's width in ln m_JJ on each side."""
    return (lo * lo / hi, lo), (hi, hi * hi / lo)


def _background_regions(files, kind, backbone, progress, lo, hi) -> tuple[Events, Events]:
    """(signal-region, sideband) background events, read in one pass."""
    (wide_lo, _), (_, wide_hi) = sideband_windows(lo, hi)
    every = load_events(files, kind, backbone, progress, (wide_lo, wide_hi))
    in_sr = (every.mjj >= lo) & (every.mjj < hi)
    if not in_sr.any():
        raise DataError(f"{', '.join(map(str, files))}: no dijet event with m_JJ in "
                        f"{lo:g}-{hi:g} GeV")
    return every.take(np.flatnonzero(in_sr)), every.take(np.flatnonzero(~in_sr))


def run_autoencoder(background, signals: dict[str, list], inputs, out, cfg: AutoencoderConfig,
                    max_jets: int | None = None, progress: bool = True) -> dict:
    """AE on SM jets, AUC per signal model, against a supervised classifier."""
    cfg.validate()
    check_max_jets(max_jets)
    specs = _specs(inputs)
    labels = input_labels(specs)
    if not signals:
        raise ConfigError("--signal NAME=FILES: give at least one signal model")
    config = {**_config_record(cfg), "background": _absolute(background),
              "signals": {k: _absolute(v) for k, v in signals.items()}, "inputs": list(inputs),
              "max_jets": max_jets, "out": str(Path(out).absolute())}
    with OutputFolder(out, "anomaly autoencoder", _identity(config, specs)) as folder:
        t0 = time.time()
        res = {"kind": "jetfm.anomaly.autoencoder", "inputs": {}}
        for spec, label in zip(specs, labels):
            backbone = spec.load()
            sm = load_jets(background, spec.kind, backbone, max_jets=max_jets, progress=progress)
            sig = {name: load_jets(files, spec.kind, backbone, max_jets=max_jets,
                                   progress=progress).x for name, files in signals.items()}
            r = autoencoder_search(sm.x, sig, cfg)
            r["features"] = sm.names if len(sm.names) <= 20 else f"{len(sm.names)} features"
            res["inputs"][label] = r
        res["seconds"] = round(time.time() - t0, 1)
        res["config"] = config

        def roc(label):
            return lambda path: plots.plot_ae_roc(res["inputs"][label], path,
                                                  title=f"AE, {label}")
        _finish(folder.path, res, config,
                [(name, roc(label)) for label, name in zip(labels, _figure_names(labels, "roc_"))])
    return res
