"""`jetfm pretrain`: pre-train a ParT backbone (Lightning; CPU, GPU, DDP)."""
from __future__ import annotations

from ..errors import JetfmError
from .options import add_data, add_out, add_progress, add_workers


def register(sub) -> None:
    from ..models.presets import PRESETS
    from ..pretrain.config import OptimConfig, TrainConfig
    from ..pretrain.registry import REGISTRY
    d = TrainConfig()     # the options default to None so that --config can set them too
    p = sub.add_parser("pretrain", help="pre-train a ParT backbone (Lightning; CPU, GPU, DDP)")
    p.add_argument("--strategy", default=None, metavar="NAME",
                   help=f"pre-training strategy: {', '.join(REGISTRY)} (supervised = Sophon; "
                        f"default {d.strategy})")
    add_data(p)
    add_out(p, "run directory (re-running resumes it)")
    p.add_argument("--config", default=None, help="YAML run config; CLI options override it")
    p.add_argument("--preset", default=None,
                   help=f"ParT size: {' | '.join(PRESETS)} (default {d.preset})")
    p.add_argument("--data-config", default=None,
                   help=f"data config: builtin name or YAML path (default {d.data_config})")
    p.add_argument("--max-steps", type=int, default=None,
                   help=f"optimizer steps (default {d.max_steps})")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"jets per batch (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default: the strategy's own, see docs/pretraining.md)")
    p.add_argument("--optimizer", default=None,
                   help=f"adamw | ranger (default {OptimConfig.name})")
    p.add_argument("--warmup-steps", type=int, default=None,
                   help="linear warm-up steps (default 5 %% of --max-steps)")
    p.add_argument("--reweight", action="store_true", default=None,
                   help="flat (pT, m_SD) reweighting per label group, as Sophon")
    add_workers(p, help="DataLoader worker processes (default 0)")
    p.add_argument("--seed", type=int, default=None, help=f"seed (default {d.seed})")
    p.add_argument("--accelerator", default=None, help=f"cpu | gpu | auto (default {d.accelerator})")
    p.add_argument("--devices", default=None,
                   help=f"number of devices or 'auto' (default {d.devices})")
    p.add_argument("--num-nodes", type=int, default=None, help=f"nodes (default {d.num_nodes})")
    p.add_argument("--precision", default=None,
                   help="auto | 32-true | bf16-mixed | 16-mixed (default auto: bf16-mixed on "
                        "GPU, 32-true on CPU)")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the backbone")
    p.add_argument("--val-every-steps", type=int, default=None,
                   help=f"validation every N steps (default {d.val_every_steps})")
    p.add_argument("--checkpoint-every-steps", type=int, default=None,
                   help=f"checkpoint every N steps (default {d.checkpoint_every_steps})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set any run-config field, dotted for nested ones (VALUE is YAML data), "
                        "e.g. --set optimizer.weight_decay=0.05 --set log_every_steps=1; "
                        "applied after --config and the options above; repeatable")
    add_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..pretrain.config import load_train_config, parse_set
    from ..pretrain.run import run_pretrain
    devices = args.devices
    if devices is not None and devices != "auto":
        try:
            devices = int(devices)
        except ValueError:
            raise JetfmError(f"--devices must be an integer or 'auto', got {devices!r}") from None
    options = dict(
        strategy=args.strategy, data=args.data, preset=args.preset,
        data_config=args.data_config, max_steps=args.max_steps, batch_size=args.batch_size,
        reweight=args.reweight, num_workers=args.workers, seed=args.seed,
        accelerator=args.accelerator, devices=devices, num_nodes=args.num_nodes,
        precision=args.precision, compile=args.compile, val_every_steps=args.val_every_steps,
        checkpoint_every_steps=args.checkpoint_every_steps,
        **{"optimizer.lr": args.lr, "optimizer.name": args.optimizer,
           "optimizer.warmup_steps": args.warmup_steps})
    cfg = load_train_config(args.config, **{**options, **parse_set(args.set)})
    summary = run_pretrain(cfg, args.out, progress=not args.no_progress)
    if not summary["is_global_zero"]:   # one summary per job, not per DDP rank
        return 0
    print(f"run {summary['run_dir']}: {summary['global_step']} steps"
          + (f" (resumed from {summary['resumed_from']})" if summary["resumed_from"] else ""))
    for k, v in sorted(summary["metrics"].items()):
        print(f"  {k:<16} {v:.4g}")  # 4 significant digits: a learning rate of 2e-5 too
    return 0
