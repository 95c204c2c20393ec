"""`jetfm generate`: simulate JetClass-II-compatible jets (Pythia 8 + FastJet + CMS-like detector)."""
from __future__ import annotations

from .options import add_out, add_progress, add_workers


def register(sub) -> None:
    from ..sim.generate import DEFAULT_JETS_PER_FILE, DEFAULT_PILEUP
    from ..sim.pileup_library import LIBRARY_EVENTS
    from ..sim.samples import SAMPLES
    from ..sim.samples.darkjet import HV_MODELS
    from ..sim.samples.jetclass2 import RES2P_X_DECAYS, RES34P_Y_DECAYS
    from ..sim.samples.xww import MASS_RATIOS
    p = sub.add_parser("generate", help="simulate JetClass-II-compatible jets (Pythia 8 + "
                                        "FastJet + CMS-like detector)")
    p.add_argument("--sample", required=True, choices=list(SAMPLES), metavar="SAMPLE",
                   help="process to simulate: " + "; ".join(f"{k}: {v.summary}"
                                                            for k, v in SAMPLES.items()))
    p.add_argument("--jets", type=int, required=True, help="total number of jets (all shards)")
    add_out(p, "output folder for the Parquet shards")
    p.add_argument("--seed", type=int, default=1, help="master seed; same seed, same bytes (default 1)")
    add_workers(p, 1, "local worker processes (default 1)")
    p.add_argument("--shard", type=int, default=0, help="this machine's shard index (default 0)")
    p.add_argument("--num-shards", type=int, default=1, help="number of machines sharing the work")
    p.add_argument("--resim", type=int, default=0,
                   help="re-simulation: hadronise each parton-level event R times (RS3L pairs)")
    p.add_argument("--pileup", type=float, default=DEFAULT_PILEUP,
                   help="mean number of overlaid minimum-bias interactions (default %(default)g, as "
                        "JetClass-II; 0: clean jets), with CHS + PUPPI")
    p.add_argument("--pileup-library", type=int, default=LIBRARY_EVENTS, metavar="EVENTS",
                   help="minimum-bias events in the pileup library, generated once and cached "
                        "(default %(default)d)")
    p.add_argument("--jets-per-file", type=int, default=DEFAULT_JETS_PER_FILE,
                   help="jets per Parquet file (default %(default)d). pretrain splits by whole "
                        "file, so give each sample at least 5 files (3 reach train, val and "
                        "test; fewer leave a sample in one split only)")
    p.add_argument("--chunk-events", type=int, default=100,
                   help="events per Pythia re-initialisation (one grid point per chunk)")
    p.add_argument("--detector-card", default="cms", metavar="NAME|FILE",
                   help="detector card: built-in name (cms, the default: JetClass-II's Delphes "
                        "CMS card) or a YAML file, e.g. an edited copy of the built-in card")
    p.add_argument("--jet-pt-min", type=float, default=200.0,
                   help="keep jets above this pT in GeV (default 200)")
    p.add_argument("--jet-r", type=float, default=0.8,
                   help="anti-kT radius, also the truth-matching cone and the substructure "
                        "R0 (default 0.8; 0.4 for AK4 studies)")
    p.add_argument("--mass-ratios", type=float, nargs="+", metavar="R",
                   help=f"xww: the m_W/m_X grid points to generate (default all of "
                        f"{', '.join(map(str, MASS_RATIOS))})")
    p.add_argument("--mass-range", type=float, nargs=2, metavar=("LO", "HI"),
                   help="res2p/res34p: only the m_X grid points within [LO, HI] GeV "
                        "(e.g. 110 140 for Higgs-like jets)")
    p.add_argument("--y-decays", choices=sorted(RES34P_Y_DECAYS),
                   help="res34p: the Y decays. jetclass2 (default): X -> H0 H0 or H+ H-, "
                        "JetClass-II's tables; charged-emu: X -> H+ H- only, H+ -> six quark "
                        "channels or e nu / mu nu (no tau nu): about 10x more t->blv-like and "
                        "H->lvqq-like jets; charged-quarks: X -> H+ H- only, H+ -> six quark "
                        "channels: more t->bqq- and H->4q-like jets (class priors change, "
                        "labels do not)")
    p.add_argument("--x-decays", choices=sorted(RES2P_X_DECAYS),
                   help="res2p: the X decays. jetclass2 (default): neutral X (60 %%) with "
                        "JetClass-II's table or charged X to quarks; neutral-hadronic: neutral "
                        "X to quarks and gluons only (more H->bb/cc/gg- and Z->qq-like jets); "
                        "charged: charged X only (W->qq-like) (class priors change, labels "
                        "do not)")
    p.add_argument("--pthat-min", type=float, metavar="GEV",
                   help="dijet-qcd: generate pTHat > GEV without the pTHat^4 bias, every "
                        "event_weight = 1: an unweighted, data-like spectrum for the "
                        "resonance searches (e.g. 700 for m_JJ > 2 TeV)")
    p.add_argument("--row-group-jets", type=int, default=20_000,
                   help="jets per Parquet row group (default 20000: files up to that size "
                        "have one row group, like the published JetClass-II files)")
    p.add_argument("--long-lived", choices=["pythia", "detector"], default="pythia",
                   help="who decays K0S, Lambda and the other hyperons: pythia (default, as "
                        "JetClass-II: displaced daughters are tracked) or detector (kept stable)")
    p.add_argument("--hv-model", choices=sorted(HV_MODELS),
                   help="darkjet: Hidden Valley benchmark (default B; see the README)")
    add_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..sim.generate import GenerateConfig, format_summary, generate
    from ..sim.samples import option_names
    # every sample's options; the chosen sample validates its own and refuses the others'
    options = {k: tuple(v) if isinstance(v, list) else v
               for k, v in ((k, getattr(args, k)) for k in option_names())}
    cfg = GenerateConfig(sample=args.sample, jets=args.jets, out=args.out, seed=args.seed,
                         workers=args.workers, shard=args.shard, num_shards=args.num_shards,
                         resim=args.resim, pileup=args.pileup,
                         pileup_library=args.pileup_library, jets_per_file=args.jets_per_file,
                         chunk_events=args.chunk_events, detector_card=args.detector_card,
                         jet_pt_min=args.jet_pt_min, jet_r=args.jet_r,
                         row_group_jets=args.row_group_jets,
                         long_lived=args.long_lived, **options)
    summary = generate(cfg, progress=not args.no_progress)
    print(format_summary(summary))
    return 0
