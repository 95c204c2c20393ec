"""`jetfm export`: ONNX [class probabilities, embedding], checked with onnxruntime."""
from __future__ import annotations

from .options import add_out


def register(sub) -> None:
    p = sub.add_parser("export", help="ONNX export [class probabilities, embedding], checked "
                                      "with onnxruntime")
    p.add_argument("run_dir", help="a `jetfm pretrain` run directory")
    add_out(p, "ONNX file to write")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--force", action="store_true",
                   help="replace --out even if it is not an ONNX file jetfm wrote")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..models.export import check_export_target, export_onnx
    from .. import pretrained
    check_export_target(args.out, force=args.force)
    run = pretrained.open_run(args.run_dir)
    info = export_onnx(run.model, args.out, n_features=run.data_config.num_features,
                       opset=args.opset)
    diffs = [f"{k} {info[f'max_abs_diff_{k}']:.2e}" for k in ("probs", "embedding")
             if info[f"max_abs_diff_{k}"] is not None]
    print(f"wrote {args.out}; onnxruntime vs PyTorch max |diff|: {', '.join(diffs)}")
    return 0
