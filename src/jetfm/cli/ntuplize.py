"""`jetfm ntuplize`: Delphes ROOT files → JetClass-II Parquet (docs/delphes.md)."""
from __future__ import annotations

from .options import add_out, add_progress, add_workers


def register(sub) -> None:
    from ..labels import FAMILIES      # light: the parser is built for every command
    samples = list(FAMILIES)
    p = sub.add_parser("ntuplize", help="convert Delphes ROOT files (JetClass-II chain) to "
                                        "JetClass-II Parquet files, as jetfm generate writes")
    p.add_argument("inputs", nargs="+", metavar="DELPHES.root",
                   help="Delphes ROOT files, folders (their .root files, recursively) or glob "
                        "patterns; one Parquet file per input, named after it")
    add_out(p, "output folder: new or empty, or one an earlier ntuplize with the same "
               "settings wrote (its finished files are skipped)")
    p.add_argument("--sample", required=True, choices=samples, metavar="SAMPLE",
                   help="the JetClass-II family of the inputs, whose labelling rules apply "
                        "(res2p: labels 0-14, res34p: 15-160, qcd: 161-187; jets without a "
                        "label are dropped); also the `sample` column")
    p.add_argument("--jet-pt-min", type=float, default=120.0,
                   help="keep jets with pT >= this in GeV (default 120, as makeNtuples.C); "
                        "|eta| <= 2.5 always")
    p.add_argument("--jet-branch", default="JetPUPPIAK8",
                   help="Delphes jet collection (default JetPUPPIAK8; R = 1.5 for a name "
                        "with AK15, else 0.8)")
    p.add_argument("--genjet-branch", default="GenJetAK8",
                   help="Delphes GEN-jet collection matched to the jets (default GenJetAK8)")
    p.add_argument("--tree", default="Delphes", help="tree name (default Delphes)")
    add_workers(p, 1, "processes, one input file each (default 1)")
    add_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..delphes.run import NtuplizeConfig, format_summary, ntuplize
    cfg = NtuplizeConfig(inputs=tuple(args.inputs), out=args.out, sample=args.sample,
                         jet_pt_min=args.jet_pt_min, jet_branch=args.jet_branch,
                         genjet_branch=args.genjet_branch, tree=args.tree,
                         workers=args.workers)
    print(format_summary(ntuplize(cfg, progress=not args.no_progress)))
    return 0
