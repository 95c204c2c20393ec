"""The `jetfm anomaly` runs: read the files, build every input set, run the search, write
`results.json`, the figures and the resolved configuration into the output folder (created only
when everything has worked, files written atomically).

Input sets are given as strings, parsed (never evaluated): `highlevel`, `embedding:RUN_DIR`,
`discriminants:RUN_DIR`. Several sets in one run are compared side by side on the same events,
the same injected signal and the same folds.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io import check_writable_folder, make_output_folder, write_config, write_json
from . import plots
from .autoencoder import AutoencoderConfig, autoencoder_search
from .cwola import CwolaConfig, best_hunt, cwola_hunt, max_z
from .iad import IadConfig, idealised_ad
from .inputs import (INPUT_KINDS, Events, load_backbone, load_events, load_jets,
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

    def load(self):
        """(label, backbone or None)."""
        if self.run is None:
            return self.kind, None
        backbone = load_backbone(self.run)
        return f"{self.kind}:{Path(self.run).name}", backbone


def _specs(inputs) -> list[InputSpec]:
    specs = [InputSpec.parse(s) for s in inputs]
    if not specs:
        raise ConfigError("--inputs: give at least one input set")
    if len(set(specs)) != len(specs):
        raise ConfigError("--inputs: an input set is given twice")
    return specs


def _config_record(cfg) -> dict:
    d = asdict(cfg)
    for k, v in d.items():
        if isinstance(v, np.ndarray):
            d[k] = v.tolist()
    return d


def _finish(out, results: dict, config: dict) -> None:
    make_output_folder(out)
    write_config(Path(out) / "anomaly_config.yaml", config)
    write_json(Path(out) / "results.json", results)


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
    check_writable_folder(out)
    specs = _specs(inputs)
    _check_pca(pca)
    centres = (cfg.centres() if not centres_gev else
               sorted({cfg.centre_of(m) for m in centres_gev}))
    for c in centres:
        cfg.regions(c)
    t0 = time.time()
    window = (float(cfg.edges[0]), float(cfg.edges[-1]))
    base = load_events(data, "highlevel", progress=progress)
    require_unweighted(base.weight, ", ".join(map(str, data)))    # before any backbone runs
    sig_base = load_events(signal, "highlevel", progress=progress) if signal else None
    res = {"kind": "jetfm.anomaly.cwola", "edges": cfg.edges.tolist(), "inputs": {},
           "n_data_events": len(base), "injected": inject, "pca": pca}
    for spec in specs:
        label, backbone = spec.load()
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
            "max_z": {str(e): max_z(hunts, e) for e in cfg.efficiencies}}
    res["seconds"] = round(time.time() - t0, 1)
    config = {**_config_record(cfg), "data": _absolute(data), "inputs": list(inputs),
              "signal": _absolute(signal or []), "inject": inject, "pca": pca,
              "centres_gev": list(centres_gev or []), "out": str(Path(out).absolute())}
    res["config"] = config
    _finish(out, res, config)
    for label, r in res["inputs"].items():
        plots.plot_spectra(best_hunt(r["hunts"]), cfg.edges, Path(out) / f"spectra_{_safe(label)}.png",
                           title=f"CWoLa, {label}")
    return res


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def run_iad(background, signal, inputs, out, cfg: IadConfig, signal_region: tuple[float, float],
            pca: int = 0, progress: bool = True) -> dict:
    """IAD in a signal region of m_JJ (GeV) on dijet events."""
    cfg.validate()
    check_writable_folder(out)
    specs = _specs(inputs)
    _check_pca(pca)
    lo, hi = signal_region
    if not 0 < lo < hi:
        raise ConfigError(f"--signal-region {lo:g} {hi:g}: need 0 < LO < HI")
    t0 = time.time()
    res = {"kind": "jetfm.anomaly.iad", "signal_region": [lo, hi], "inputs": {}}
    for spec in specs:
        label, backbone = spec.load()
        bkg = load_events(background, spec.kind, backbone, progress, (lo, hi))
        sig = load_events(signal, spec.kind, backbone, progress, (lo, hi))
        require_unweighted(bkg.weight, ", ".join(map(str, background)))
        both = _pca(Events.concat([bkg, sig]), pca, fit_on=np.arange(len(bkg)))
        r = idealised_ad(both.x[:len(bkg)], both.x[len(bkg):], cfg, progress)
        r["features"] = both.names if len(both.names) <= 20 else f"{len(both.names)} features"
        res["inputs"][label] = r
    res["seconds"] = round(time.time() - t0, 1)
    config = {**_config_record(cfg), "background": _absolute(background),
              "signal": _absolute(signal), "inputs": list(inputs), "pca": pca,
              "signal_region": [lo, hi], "out": str(Path(out).absolute())}
    res["config"] = config
    _finish(out, res, config)
    for label, r in res["inputs"].items():
        plots.plot_sic_curves(r, Path(out) / f"sic_{_safe(label)}.png", title=f"IAD, {label}")
    plots.plot_max_sic(res["inputs"], Path(out) / "max_sic.png",
                       title=f"IAD, SR {lo:g}-{hi:g} GeV")
    return res


def run_autoencoder(background, signals: dict[str, list], inputs, out, cfg: AutoencoderConfig,
                    max_jets: int | None = None, progress: bool = True) -> dict:
    """AE on SM jets, AUC per signal model, against a supervised classifier."""
    cfg.validate()
    check_writable_folder(out)
    specs = _specs(inputs)
    if not signals:
        raise ConfigError("--signal NAME=FILES: give at least one signal model")
    t0 = time.time()
    res = {"kind": "jetfm.anomaly.autoencoder", "inputs": {}}
    for spec in specs:
        label, backbone = spec.load()
        sm = load_jets(background, spec.kind, backbone, max_jets=max_jets, progress=progress)
        sig = {name: load_jets(files, spec.kind, backbone, max_jets=max_jets,
                               progress=progress).x for name, files in signals.items()}
        r = autoencoder_search(sm.x, sig, cfg)
        r["features"] = sm.names if len(sm.names) <= 20 else f"{len(sm.names)} features"
        res["inputs"][label] = r
    res["seconds"] = round(time.time() - t0, 1)
    config = {**_config_record(cfg), "background": _absolute(background),
              "signals": {k: _absolute(v) for k, v in signals.items()}, "inputs": list(inputs),
              "max_jets": max_jets, "out": str(Path(out).absolute())}
    res["config"] = config
    _finish(out, res, config)
    for label, r in res["inputs"].items():
        plots.plot_ae_roc(r, Path(out) / f"roc_{_safe(label)}.png", title=f"AE, {label}")
    return res
