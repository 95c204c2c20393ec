"""`jetfm compare REFERENCE SIMULATED --out DIR`: how close simulated jets are to reference
JetClass-II jets at the same kinematics (docs/compare.md)."""
from __future__ import annotations

from .options import add_out, add_progress


def register(sub) -> None:
    p = sub.add_parser("compare", help="compare simulated jets with reference JetClass-II "
                                       "jets at the same kinematics (table, JSON, HTML page)")
    p.add_argument("reference", metavar="REFERENCE",
                   help="reference JetClass-II Parquet files: a file, folder (searched "
                        "recursively) or quoted glob")
    p.add_argument("simulated", metavar="SIMULATED",
                   help="simulated Parquet files (jetfm generate or ntuplized Delphes): a "
                        "file, folder or quoted glob")
    add_out(p, "folder for compare.json and compare.html: new or empty (or one this same "
               "comparison wrote: its files are replaced)")
    p.add_argument("--max-jets", type=int, default=100_000,
                   help="jets read per side at most, drawn at random over all its files "
                        "(memory grows with it: about 6 kB per jet and side at 55 constituents "
                        "per jet)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the sampling and the bootstrap (default 0)")
    p.add_argument("--neighbours", type=int, default=1,
                   help="simulated jets matched to each reference jet")
    p.add_argument("--max-distance", type=float, default=0.2,
                   help="largest matching distance in standardised (log pT, m_SD/pT, |eta|); "
                        "reference jets without a simulated jet that close are left out")
    p.add_argument("--bootstrap", type=int, default=100,
                   help="bootstrap resamples for the quantiles' uncertainties (0: none)")
    add_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..compare import compare, format_table
    result = compare(args.reference, args.simulated, args.out, max_jets=args.max_jets,
                     seed=args.seed, neighbours=args.neighbours,
                     max_distance=args.max_distance, bootstrap=args.bootstrap,
                     progress=not args.no_progress)
    print(format_table(result))
    print("written: " + ", ".join(result["written"]))
    return 0
