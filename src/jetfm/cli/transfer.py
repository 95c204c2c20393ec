"""`jetfm transfer`: adapt a pre-trained backbone to a downstream task, over a label sweep."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ConfigError
from ..models.heads import REPRESENTATIONS
from .options import add_batch_size, add_data, add_out, add_progress


def _label_counts(text: str) -> tuple[int | None, ...]:
    out = []
    for item in text.split(","):
        item = item.strip()
        if item == "all":
            out.append(None)
            continue
        try:
            out.append(int(item))
        except ValueError:
            raise ConfigError(f"--labels-per-class: {item!r} is not an integer or 'all'") from None
    return tuple(out)


def _probe_steps(probe_steps: int | None, warmup_steps: int | None) -> int | None:
    """--probe-steps, or its old name --warmup-steps (which meant the same: head-only steps
    with the backbone frozen first); both with different values is an error."""
    if warmup_steps is None:
        return probe_steps
    if probe_steps is not None and probe_steps != warmup_steps:
        raise ConfigError(f"--warmup-steps {warmup_steps} and --probe-steps {probe_steps}: "
                          "--warmup-steps is the old name of --probe-steps; give only "
                          "--probe-steps")
    print("jetfm transfer: --warmup-steps is deprecated; it means --probe-steps (head-only "
          "steps with the backbone frozen first)", file=sys.stderr)
    return warmup_steps


def register(sub) -> None:
    from ..transfer.modes import EMBEDDING, MODES, RANDOM, SCRATCH, modes_accepting, modes_of
    p = sub.add_parser("transfer", help="transfer a pre-trained backbone to a task "
                                        "(linear probe, frozen, fine-tune, LoRA, scratch, kNN)")
    p.add_argument("--backbone", help=f"a `jetfm pretrain` run directory; '{SCRATCH}' (with "
                                      f"--mode {'/'.join(modes_accepting(SCRATCH))}: a randomly "
                                      f"initialised network, trained) or '{RANDOM}' (with "
                                      f"--mode {'/'.join(modes_accepting(RANDOM))}: frozen "
                                      "random features, one initialisation per seed)")
    p.add_argument("--task", help="task name (see --list-tasks) or a task file (YAML, the form "
                                  "of the built-in table: docs/transfer.md)")
    p.add_argument("--mode", default="linear",
                   help=f"{' | '.join(MODES)} (default linear; on embeddings: "
                        f"{', '.join(modes_of(EMBEDDING))}; the others train the network)")
    add_data(p, help="files or folders holding the task's jets")
    add_out(p, "folder for results.json", required=False)
    p.add_argument("--labels-per-class", default="10,100,1000,10000,all",
                   help="training jets per class, comma separated, 'all' = the whole pool "
                        "(default 10,100,1000,10000,all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per label count (default 3)")
    p.add_argument("--test-seed", type=int, default=12345,
                   help="fixes the held-out test set (default 12345; keep it to compare runs)")
    p.add_argument("--max-per-class", type=int, default=None,
                   help="read at most this many jets per class")
    p.add_argument("--representation", default=None, metavar="|".join(REPRESENTATIONS),
                   help="linear/frozen/knn: what they read — cls (class token), mean (mean of "
                        "the particle tokens), projection or bottleneck (a head saved by the "
                        "pretrain run: resim, autoencoder). Default: the run's own default "
                        "(config key 'representation'), else cls; --backbone random: cls. "
                        "Network modes always read cls")
    p.add_argument("--steps", type=int, default=300,
                   help="network modes: optimizer steps per run, probe and full phase together "
                        "(default 300)")
    p.add_argument("--probe-steps", type=int, default=None,
                   help="network modes (LP-FT): first train only the head this many steps, the "
                        "backbone frozen, then everything for the rest of --steps; the same "
                        "for finetune, lora and scratch (default: a third of --steps; 0 = "
                        "train everything from the first step)")
    p.add_argument("--warmup-steps", type=int, default=None,
                   help="deprecated name of --probe-steps")
    add_batch_size(p, 64)
    p.add_argument("--lr", type=float, default=1e-3,
                   help="peak learning rate of the head, and of the backbone (times "
                        "--backbone-lr-factor for finetune); each phase warms up linearly over "
                        "10%% of its steps, then decays to 0 on a cosine (default 1e-3)")
    p.add_argument("--backbone-lr-factor", type=float, default=1.0,
                   help="finetune: backbone learning rate = lr x this (default 1.0: the head "
                        "is fitted first, so the backbone trains like scratch's)")
    p.add_argument("--lora-rank", type=int, default=4, help="LoRA rank (default 4)")
    p.add_argument("--preset", default="small",
                   help="--backbone scratch or random: model preset (default small)")
    p.add_argument("--list-tasks", action="store_true", help="list the tasks and exit")
    add_progress(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..transfer.run import TransferConfig, transfer
    from ..transfer.tasks import describe_tasks
    if args.list_tasks:
        print(describe_tasks())
        return 0
    missing = [o for o, v in (("--backbone", args.backbone), ("--task", args.task),
                              ("--data", args.data), ("--out", args.out)) if not v]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}")
    probe_steps = _probe_steps(args.probe_steps, args.warmup_steps)
    cfg = TransferConfig(backbone=args.backbone, task=args.task, mode=args.mode,
                         data=tuple(args.data), out=args.out,
                         labels_per_class=_label_counts(args.labels_per_class), seeds=args.seeds,
                         test_seed=args.test_seed, max_per_class=args.max_per_class,
                         steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                         backbone_lr_factor=args.backbone_lr_factor,
                         probe_steps=probe_steps, lora_rank=args.lora_rank,
                         preset=args.preset, representation=args.representation)
    res = transfer(cfg, progress=not args.no_progress)
    sched = res["schedule"]
    how = (f"representation {res['representation']}" if sched is None else
           f"probe {sched['probe_steps']} + full {sched['full_steps']} steps")
    print(f"task {res['task']} ({len(res['classes'])} classes), backbone {res['strategy']}, "
          f"mode {res['mode']} ({how}), {res['trainable_parameters']} trainable parameters, "
          f"test jets {res['n_test']}")
    for row in res["summary"]:
        def f(m):
            v, s = row[f"{m}_mean"], row[f"{m}_std"]
            return "n/a" if v is None else f"{v:.3f} ± {s:.3f}"
        print(f"  {str(row['labels_per_class']):>6}/class  accuracy {f('accuracy')}  "
              f"AUC {f('auc')}  1/eps_B@30% {f('rejection_at_30')}")
    print(f"results: {Path(args.out) / 'results.json'}")
    return 0
