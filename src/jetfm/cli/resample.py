"""`jetfm resample`: keep the jets of DATA whose (pT, η) distribution follows REFERENCE's."""
from __future__ import annotations

from pathlib import Path

from .options import add_out


def register(sub) -> None:
    p = sub.add_parser("resample", help="keep a subset of jets whose (pT, eta) distribution "
                                        "follows a reference sample's (e.g. dark jets vs QCD)")
    p.add_argument("data", nargs="+", help="Parquet files or folders to resample")
    p.add_argument("--reference", nargs="+", required=True,
                   help="Parquet files or folders whose (pT, eta) distribution to follow")
    add_out(p, "output folder: new or empty (or one this same resample wrote: its files are "
               "replaced)")
    p.add_argument("--seed", type=int, default=1, help="accept-reject seed (default 1)")
    p.add_argument("--pt-bins", type=int, default=24, help="log-spaced pT bins (default 24)")
    p.add_argument("--eta-bins", type=int, default=10, help="eta bins in [-2.5, 2.5] (default 10)")
    p.set_defaults(func=run)


def _skipped(files: list[str], shown: int = 3) -> str:
    if not files:
        return ""
    names = ", ".join(Path(f).name for f in files[:shown])
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return (f"; {len(files)} input file(s) kept no jets and got no output file "
            f"({names}{more})")


def run(args) -> int:
    from ..data.resample import resample
    from ..errors import ConfigError
    if args.pt_bins < 1 or args.eta_bins < 1:
        raise ConfigError("--pt-bins and --eta-bins must be >= 1")
    s = resample(args.data, args.reference, args.out, args.seed, args.pt_bins, args.eta_bins)
    print(f"kept {s['jets_kept']} of {s['jets_in']} jets in {len(s['files'])} file(s) under "
          f"{args.out}; pT range {s['pt_range_gev'][0]:.0f}-{s['pt_range_gev'][1]:.0f} GeV"
          + (f"; {s['bins_the_data_cannot_fill']} reference bins have no data jets"
             if s["bins_the_data_cannot_fill"] else "")
          + _skipped(s["files_skipped"]))
    return 0
