"""`jetfm anomaly fit | cwola | iad | autoencoder`: bump-hunt statistics and the weakly
supervised / unsupervised searches (jetfm.anomaly)."""
from __future__ import annotations

from ..errors import ConfigError
from .options import add_max_jets, add_out, add_progress

_INPUTS_HELP = ("input sets to compare: highlevel (m_J, tau21, tau32, tau43, n_particles), "
                "embedding:RUN_DIR (frozen backbone), discriminants:RUN_DIR (Sophon-style "
                "discriminants of a supervised/clip run's class scores), scores:RUN_DIR "
                "(all its class probabilities); default highlevel")


def register(sub) -> None:
    p = sub.add_parser("anomaly", help="anomaly detection: bump-hunt fit, CWoLa hunting, "
                                       "idealised AD, autoencoder scores")
    s = p.add_subparsers(dest="anomaly_command", required=True)

    f = s.add_parser("fit", help="fit a binned m_JJ spectrum's sidebands with the dijet "
                                 "function and test the signal region")
    f.add_argument("--counts", required=True,
                   help="text file, one bin per line: low edge, high edge, count (GeV)")
    f.add_argument("--signal-region", type=float, nargs=2, metavar=("LO", "HI"),
                   help="signal-region bins [LO, HI] GeV (default: the 3 bins around the "
                        "spectrum's middle bin)")
    _sqrt_s(f)
    f.set_defaults(func=run_fit)

    c = s.add_parser("cwola", help="CWoLa hunting on dijet events")
    c.add_argument("--data", nargs="+", required=True, metavar="PATH",
                   help="dijet events (unweighted): `jetfm generate --sample dijet-qcd "
                        "--pthat-min 800`")
    _signal_and_inputs(c)
    c.add_argument("--inject", type=int, default=0,
                   help="signal events drawn from --signal and added to the data (default 0)")
    c.add_argument("--centre", type=float, nargs="+", metavar="GEV",
                   help="signal-region centre(s); default: scan every centre that fits")
    c.add_argument("--efficiencies", type=float, nargs="+", default=[1.0, 0.1, 0.01, 0.002, 0.001],
                   help="selection efficiencies (default 1 0.1 0.01 0.002 0.001)")
    _binning(c)
    c.add_argument("--folds", type=int, default=5, help="k of the nested k-fold (default 5)")
    c.add_argument("--models", type=int, default=1,
                   help="classifier seeds per validation split, the best kept (default 1)")
    _search_options(c, "output folder (results.json, spectra_*.png, anomaly_config.yaml)",
                    run_cwola)

    i = s.add_parser("iad", help="idealised anomaly detection in a signal region")
    i.add_argument("--background", nargs="+", required=True, metavar="PATH",
                   help="unweighted background dijet events (data background, template and "
                        "test are disjoint splits of them)")
    _signal_and_inputs(i, required=True)
    i.add_argument("--inject", type=int, nargs="+", default=[0, 50, 100, 200, 500],
                   help="numbers of injected signal events to scan (default 0 50 100 200 500)")
    i.add_argument("--signal-region", type=float, nargs=2, metavar=("LO", "HI"),
                   help="m_JJ window in GeV (default: the 3 default CWoLa bins around 3 TeV, "
                        "2729.9-3188.5)")
    i.add_argument("--runs", type=int, default=5, help="runs per injection (default 5)")
    i.add_argument("--models", type=int, default=5, help="ensemble members per run (default 5)")
    _search_options(i, "output folder (results.json, sic_*.png, max_sic.png)", run_iad)

    a = s.add_parser("autoencoder", help="autoencoder anomaly score on SM jets vs signal models")
    a.add_argument("--background", nargs="+", required=True, metavar="PATH",
                   help="SM jets (the autoencoder trains on these only)")
    a.add_argument("--signal", nargs="+", required=True, metavar="NAME=PATH",
                   help="signal models, e.g. darkA=data/darkjet_A darkB=data/darkjet_B")
    a.add_argument("--inputs", nargs="+", default=["highlevel"], help=_INPUTS_HELP)
    a.add_argument("--hidden", type=int, nargs="+", default=[64, 16, 64],
                   help="autoencoder layer sizes, the middle one the bottleneck (default 64 16 64)")
    a.add_argument("--seed", type=int, default=1)
    add_max_jets(a)
    add_out(a, "output folder (results.json, roc_*.png)")
    add_progress(a)
    a.set_defaults(func=run_autoencoder)


def _sqrt_s(p) -> None:
    p.add_argument("--sqrt-s", type=float, default=13000.0,
                   help="collision energy in GeV for x = m_JJ/sqrt(s) (default 13000)")


def _signal_and_inputs(p, required: bool = False) -> None:
    p.add_argument("--signal", nargs="+", required=required, metavar="PATH",
                   help="signal dijet events, e.g. `jetfm generate --sample wprime`")
    p.add_argument("--inputs", nargs="+", default=["highlevel"], help=_INPUTS_HELP)
    p.add_argument("--seed", type=int, default=1, help="folds, injection and model seeds")


def _binning(p) -> None:
    p.add_argument("--bins", type=float, nargs=3, default=[2001.0, 4350.0, 15],
                   metavar=("LO", "HI", "N"), help="m_JJ log bins (default 2001 4350 15)")
    p.add_argument("--sr-bins", type=int, default=3, help="signal-region bins (default 3)")
    p.add_argument("--sb-bins", type=int, default=2, help="sideband bins each side (default 2)")
    _sqrt_s(p)


def _search_options(p, out_help: str, func) -> None:
    """Classifier, PCA, output and progress options of the weakly supervised searches."""
    p.add_argument("--classifier", default="hgb",
                   help="hgb (HistGradientBoosting, default) or mlp")
    p.add_argument("--max-iter", type=int, default=200,
                   help="boosting iterations / MLP epochs (default 200)")
    p.add_argument("--pca", type=int, default=0, metavar="N",
                   help="reduce wider inputs (embeddings: 2 x 128 per event) to their first N "
                        "principal components, fitted without labels (default 0: off)")
    add_out(p, out_help)
    add_progress(p)
    p.set_defaults(func=func)


def run_fit(args) -> int:
    from ..anomaly.bumpfit import bump_hunt, check_sqrt_s, format_bump, read_counts, region_mask
    check_sqrt_s(args.sqrt_s)
    spec = read_counts(args.counts)
    if args.signal_region:
        sr = region_mask(spec.edges, *args.signal_region)
    else:
        import numpy as np
        mid = len(spec.counts) // 2
        sr = np.zeros(len(spec.counts), bool)
        sr[max(mid - 1, 0):mid + 2] = True
    print(format_bump(bump_hunt(spec, sr, args.sqrt_s)))
    return 0


def run_cwola(args) -> int:
    from ..anomaly.bumpfit import log_bins
    from ..anomaly.cwola import CwolaConfig
    from ..anomaly.run import run_cwola as run
    from ..anomaly.sculpting import SCULPTING_FLAG, describe_look_elsewhere
    lo, hi, n = args.bins
    if n != int(n):
        raise ConfigError(f"--bins: N must be an integer, got {n}")
    cfg = CwolaConfig(edges=log_bins(lo, hi, int(n)), sr_bins=args.sr_bins, sb_bins=args.sb_bins,
                      folds=args.folds, efficiencies=tuple(args.efficiencies),
                      classifier=args.classifier, models=args.models, max_iter=args.max_iter,
                      seed=args.seed, sqrt_s=args.sqrt_s)
    if args.inject < 0:
        raise ConfigError("--inject must be >= 0")
    res = run(args.data, args.inputs, args.out, cfg, signal=args.signal, inject=args.inject,
              centres_gev=args.centre, pca=args.pca, progress=not args.no_progress)
    print(f"{res['n_data_events']} data events, {args.inject} injected signal events; "
          f"per selection: Z and the sculpting (background efficiency SR / sidebands, "
          f"1 = none; '!' above {SCULPTING_FLAG:g})")
    for label, r in res["inputs"].items():
        for h in r["hunts"]:
            lo_, hi_ = h["signal_region"]
            zs = ", ".join(f"eps={s['efficiency']:g}: " + _z_and_sculpting(s)
                           for s in h["selections"])
            print(f"{label:28s} SR {lo_:.0f}-{hi_:.0f} GeV (S={h['signal_events_in_sr']}, "
                  f"B={h['background_events_in_sr']}): {zs}")
        flagged = r["sculpted_selections"]
        print(f"{label:28s} look-elsewhere: {describe_look_elsewhere(r['look_elsewhere'])}" +
              (f"; {flagged} selection(s) sculpt the background (> {SCULPTING_FLAG:g})"
               if flagged else ""))
    print(f"results in {args.out}/results.json")
    return 0


def _z_and_sculpting(s: dict) -> str:
    z = "Z -" if s["z"] is None else f"Z={s['z']:.2f}"
    if s.get("sculpting") is None:
        return f"{z} (sculpting -)"
    return f"{z} ({s['sculpting']:.2f}{'!' if s['sculpted'] else ''})"


def _sculpting_cells(values: dict) -> str:
    from ..anomaly.sculpting import is_sculpted
    return "/".join("-" if v is None else f"{v:.2f}{'!' if is_sculpted(v) else ''}"
                    for v in values.values())


def run_iad(args) -> int:
    from ..anomaly.cwola import CwolaConfig
    from ..anomaly.iad import IadConfig
    from ..anomaly.run import run_iad as run
    from ..anomaly.sculpting import SCULPTING_FLAG
    cfg = IadConfig(injections=tuple(args.inject), runs=args.runs, models=args.models,
                    classifier=args.classifier, max_iter=args.max_iter, seed=args.seed)
    region = args.signal_region
    if region is None:
        c = CwolaConfig()
        sr, _ = c.regions(c.centre_of(3000.0))
        region = (float(c.edges[:-1][sr][0]), float(c.edges[1:][sr][-1]))
    res = run(args.background, args.signal, args.inputs, args.out, cfg, tuple(region),
              pca=args.pca, progress=not args.no_progress)
    for label, r in res["inputs"].items():
        row = ", ".join(f"N_S={x['injected']}: " + ("-" if x["max_sic_median"] is None else
                                                      f"{x['max_sic_median']:.2f}")
                        for x in r["injections"])
        print(f"{label:28s} max SIC (median of {args.runs}) {row}")
        if r["injections"][0]["sculpting"] is not None:
            cells = ", ".join(f"N_S={x['injected']}: " + _sculpting_cells(x["sculpting"])
                              for x in r["injections"])
            print(f"{'':28s} sculpting at eps_B {'/'.join(r['injections'][0]['sculpting'])}: "
                  f"{cells}")
    print(f"results in {args.out}/results.json ('!': sculpting above {SCULPTING_FLAG:g}, "
          f"background efficiency SR / sidebands)")
    return 0


def run_autoencoder(args) -> int:
    from ..anomaly.autoencoder import AutoencoderConfig
    from ..anomaly.run import run_autoencoder as run
    signals: dict[str, list[str]] = {}
    for item in args.signal:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--signal {item!r}: write NAME=PATH")
        signals.setdefault(name, []).append(path)
    cfg = AutoencoderConfig(hidden=tuple(args.hidden), seed=args.seed)
    res = run(args.background, signals, args.inputs, args.out, cfg, max_jets=args.max_jets,
              progress=not args.no_progress)
    for label, r in res["inputs"].items():
        for name, m in r["models"].items():
            print(f"{label:28s} {name:12s} AUC autoencoder {m['auc_autoencoder']:.3f}  "
                  f"supervised {m['auc_supervised']:.3f}")
    print(f"results in {args.out}/results.json")
    return 0
