"""jetfm ParticleTransformer vs weaver-core's, side by side: training and inference speed, memory.

    python bench/part_vs_weaver.py                                  # default + sophon, CPU
    python bench/part_vs_weaver.py --configs default --steps 6 --infer-steps 6
    python bench/part_vs_weaver.py --data out/qcd_*.parquet         # real jets (jetfm Parquet)
    python bench/part_vs_weaver.py --device cuda --batch-size 1024   # bf16 autocast for both
    python bench/part_vs_weaver.py --compile                        # torch.compile (jetfm only)
    python bench/part_vs_weaver.py --weaver-trim on exact --length-buckets 8 0

Fairness rules (one process, one machine, same inputs):
- weaver's model is ``weaver.nn.model.ParticleTransformer.ParticleTransformer`` built with
  ``ParTConfig.weaver_kwargs()`` (same dims, heads, dropouts, head, ``trim=True`` as in the
  weaver/Sophon configs), then jetfm loads *its* weights, so both compute the same function
  (the eval-mode max |Δlogits| is printed as a check).
- both get the same padded tensors: x (N, 17, 128), v (N, 4, 128), mask (N, 1, 128), jet
  multiplicities drawn like real jets (20 + Gamma(k=2, θ=15), mean ≈ 50, clipped to 128;
  or real jets with ``--data``: ``jetfm.data.features.build_inputs`` with the ``jetclass2``
  data config, padded back to 128), zero padding as weaver's loader writes it. At batch
  256 the longest jet is ~always at the 128 cap, so per-batch trimming saves ~nothing.
- both trim padding themselves: jetfm to the longest jet of the batch (exact); weaver's
  ``SequenceTrimmer`` (enabled by ``trim=True``) does the same in eval, but in *training*
  cuts to the q-quantile of the batch's multiplicities, q ~ U(0.90, 1.02) clamped at 1,
  after randomly permuting the particles — i.e. on ~5 of 6 steps it drops random particles
  of the longest ~0–10 % of jets, which makes its training steps cheaper (and is not the
  same computation). Its 5-step warm-up
  counter is advanced before timing so timed steps see its steady state. ``--weaver-trim``
  picks one or more weaver variants: ``on`` (as configured, the default), ``exact``
  (trimmer target quantile fixed to 1.0: cut to the longest jet, no particle dropped — the
  same computation as jetfm) and ``off`` (``trim=False``: full 128-long batches, the
  behaviour of older weaver versions).
- training = AdamW step (forward, cross-entropy, backward, step) on random labels;
  inference = eval mode under ``torch.inference_mode()``. Warm-up steps are not timed;
  the timed steps interleave the models step by step (rotating the order) so that load
  changes on a shared machine hit all alike; rates are batch size / *median* step time
  (robust to load spikes), the mean-based rate is kept in the JSON (``--json``). "paired"
  ratios are the median over rounds of the two step times on the same batch. "sys s" is
  the kernel CPU time per step (page faults on memory that glibc maps and unmaps for every
  allocation above its mmap threshold): part of a model's real cost, shown separately
  because it depends on the process's allocation history.
- ``--length-buckets K [K ...]`` one jetfm row per value of ``ParTConfig.length_buckets``
  (jets grouped by length for the attention blocks; 0 = off; the default config uses 8).
- memory: peak memory of one step above the level before it (CUDA allocator peak; on CPU
  the peak resident set size, see ``bench/_measure.py``): compare rows, not absolute values.
- CUDA: bf16 autocast for both (jetfm via ``use_amp=True``, weaver wrapped in
  ``torch.autocast``, as weaver's trainer does); losses in float32.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from jetfm.models import ParticleTransformer, convert_weaver_state_dict, preset_config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _inputs import draw_lengths, real_jets, synthetic_batch  # noqa: E402
from _measure import CpuClock, peak_memory_mb  # noqa: E402


@dataclass
class Batches:
    items: list = field(default_factory=list)

    def __getitem__(self, k):
        return self.items[k % len(self.items)]


def make_batches(args, num_classes: int, device) -> tuple[Batches, str, np.ndarray]:
    rng = np.random.default_rng(args.seed)
    n_batches = max(1, min(args.num_batches, args.steps + args.warmup))
    out = Batches()
    if args.data:
        x, v, mask, y, source, lengths = real_jets(
            args.data, n_batches * args.batch_size, num_classes)
        if len(x) < args.batch_size:
            print(f"[bench] --data holds {len(x)} jets < --batch-size; using batch {len(x)}",
                  file=sys.stderr)
            args.batch_size = len(x)
        n_batches = len(x) // args.batch_size
        for k in range(n_batches):
            sl = slice(k * args.batch_size, (k + 1) * args.batch_size)
            out.items.append(tuple(t[sl].to(device) for t in (x, v, mask, y)))
        return out, f"--data ({len(lengths)} jets): {source}", lengths
    all_lengths = []
    for _ in range(n_batches):
        lengths = draw_lengths(args.batch_size, rng)
        all_lengths.append(lengths)
        out.items.append(tuple(t.to(device) for t in synthetic_batch(lengths, 17, num_classes, rng)))
    return out, "synthetic (20 + Gamma(2, 15) multiplicities)", np.concatenate(all_lengths)


# ------------------------------------------------------------------ models
def build_models(name: str, args, device):
    """jetfm model and one weaver model per ``--weaver-trim`` variant, all with the same
    weights. Returns (jetfm, {variant: weaver_model})."""
    from weaver.nn.model.ParticleTransformer import ParticleTransformer as WeaverParT

    cfg = preset_config(name)
    cuda = device.type == "cuda"
    jcfg = cfg.replace(use_amp=cuda)
    if args.compile and args.jetfm_pair_mode is None:
        jcfg = jcfg.replace(pair_mode="dense")  # static shapes: no nonzero() graph breaks
    elif args.jetfm_pair_mode:
        jcfg = jcfg.replace(pair_mode=args.jetfm_pair_mode)
    torch.manual_seed(args.seed)
    jetfm = ParticleTransformer(jcfg).to(device)
    weavers = {}
    for variant in args.weaver_trim:
        wkw = cfg.weaver_kwargs()
        wkw["trim"] = variant != "off"
        weaver = WeaverParT(**wkw).to(device)
        if not weavers:  # the first weaver model's random init is everybody's weights
            jetfm.load_state_dict(convert_weaver_state_dict(weaver.state_dict()))
        else:
            weaver.load_state_dict(next(iter(weavers.values())).state_dict())
        # steady state for weaver's trimmer (it only starts trimming after 5 calls)
        weaver.trimmer._counter.fill_(weaver.trimmer.warmup_steps)
        if variant == "exact":
            weaver.trimmer.target = (1.0, 1.0)  # quantile 1 = longest jet: nothing dropped
        weavers[variant] = weaver
    return jetfm, weavers


class Runner:
    """Uniform train/infer steps for either model."""

    def __init__(self, label, model, is_jetfm, device, compile_model=False, forward=None,
                 returns_logits=False):
        self.label = label
        self.model = model
        self.is_jetfm = is_jetfm
        self.device = device
        self.cuda = device.type == "cuda"
        self.fn = torch.compile(model, dynamic=True) if compile_model else model
        if forward is not None:
            self.fn = forward
        self.returns_logits = returns_logits or not is_jetfm
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def _autocast(self):
        # jetfm autocasts inside (use_amp=True); weaver relies on its trainer's autocast
        if self.cuda and not self.is_jetfm:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _logits(self, x, v, mask):
        with self._autocast():
            out = self.fn(x, v, mask)
        return (out if self.returns_logits else out.logits).float()

    def train_step(self, batch):
        x, v, mask, y = batch
        self.model.train()
        loss = F.cross_entropy(self._logits(x, v, mask), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss

    def infer_step(self, batch):
        x, v, mask, _ = batch
        self.model.eval()
        with torch.inference_mode():
            return self._logits(x, v, mask)

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)


# ------------------------------------------------------------------ timing
def compare(name: str, args, device) -> dict:
    num_classes = preset_config(name).num_classes
    batches, source, lengths = make_batches(args, num_classes, device)
    jetfm, weavers = build_models(name, args, device)
    runners = []
    for k in args.length_buckets:
        # each row its own copy of the weights and optimiser, so the rows stay independent
        model = ParticleTransformer(jetfm.config.replace(length_buckets=k)).to(device)
        model.load_state_dict(jetfm.state_dict())
        runners.append(Runner(f"jetfm[b{k}]", model, True, device, args.compile))
    runners += [Runner(f"weaver[{v}]", m, False, device) for v, m in weavers.items()]

    # parity: same weights → same eval logits (weaver trims to the longest jet in eval)
    ref = runners[0].infer_step(batches[0])
    max_diff = {r.label: float((r.infer_step(batches[0]) - ref).abs().max()) for r in runners[1:]}

    res = {"config": name, "source": source, "max_logit_diff": max_diff,
           "mean_len": float(lengths.mean()),
           "mean_batch_max": float(np.mean([int(b[2].sum(-1).max()) for b in batches.items])),
           "params": sum(p.numel() for p in jetfm.parameters()),
           "labels": [r.label for r in runners], "rows": {r.label: {} for r in runners}}
    for phase, n_steps in (("train", args.steps), ("infer", args.infer_steps)):
        if phase not in args.phases:
            continue
        def step_of(r):
            return r.train_step if phase == "train" else r.infer_step

        for r in runners:  # warm-up (and compilation), not timed
            for k in range(args.warmup):
                step_of(r)(batches[k])
        times = {r.label: [] for r in runners}
        sys_times = {r.label: [] for r in runners}
        for k in range(n_steps):
            batch = batches[args.warmup + k]
            shift = k % len(runners)
            for r in runners[shift:] + runners[:shift]:  # rotate who goes first
                r.sync()
                with CpuClock() as cpu:
                    t0 = time.perf_counter()
                    step_of(r)(batch)
                    r.sync()
                    times[r.label].append(time.perf_counter() - t0)
                sys_times[r.label].append(cpu.sys)
        for r in runners:
            t = times[r.label]
            row = res["rows"][r.label]
            row[f"{phase}_steps_s"] = 1.0 / statistics.median(t)
            row[f"{phase}_jets_s"] = args.batch_size / statistics.median(t)
            row[f"{phase}_jets_s_mean"] = args.batch_size * len(t) / sum(t)
            row[f"{phase}_step_times"] = t
            row[f"{phase}_sys_s"] = statistics.median(sys_times[r.label])
            # same batch, same round: robust to load that drifts between rounds
            row[f"{phase}_paired"] = {o.label: statistics.median(
                a / b for a, b in zip(times[o.label], t)) for o in runners if o is not r}
            last = batches[args.warmup + n_steps]
            row[f"{phase}_mem_mb"] = peak_memory_mb(lambda: step_of(r)(last), device)
    return res


def load_note() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load avg {one:.2f}/{five:.2f}/{fifteen:.2f} on {os.cpu_count()} CPUs"
    except OSError:
        return "load avg unavailable"


def _cell(row: dict, key: str, width: int, spec: str, suffix: str = "") -> str:
    """A formatted table cell, '-' for a phase that was not run."""
    return f"{row[key]:{width - len(suffix)}{spec}}{suffix}" if key in row else f"{'-':>{width}}"


def print_table(results, args, device) -> None:
    mem_kind = "CUDA max_memory_allocated" if device.type == "cuda" else "peak RSS delta"
    print()
    head = (f"{'config':8} {'model':14} {'train jets/s':>12} {'infer jets/s':>12} "
            f"{'train sys s':>11} {'infer sys s':>11} {'train MB':>9} {'infer MB':>9}")
    print(head)
    print("-" * len(head))
    for res in results:
        rows = res["rows"]
        for label in res["labels"]:
            r = rows[label]
            print(f"{res['config']:8} {label:14} {_cell(r, 'train_jets_s', 12, '.1f')} "
                  f"{_cell(r, 'infer_jets_s', 12, '.1f')} {_cell(r, 'train_sys_s', 11, '.2f')} "
                  f"{_cell(r, 'infer_sys_s', 11, '.2f')} {_cell(r, 'train_mem_mb', 9, '.0f')} "
                  f"{_cell(r, 'infer_mem_mb', 9, '.0f')}")
        for mine in [lb for lb in res["labels"] if lb.startswith("jetfm")]:
            for ref in [lb for lb in res["labels"] if lb.startswith("weaver")]:
                a, b = rows[mine], rows[ref]
                ratio = {k: a[k] / b[k] for k in a if isinstance(a[k], float) and b.get(k)}
                paired = {f"{ph}_paired": a[f"{ph}_paired"][ref] for ph in args.phases}
                name = f"{mine}/{ref.split('[')[1][:-1]}"
                print(f"{res['config']:8} {name:14} {_cell(ratio, 'train_jets_s', 12, '.2f', 'x')} "
                      f"{_cell(ratio, 'infer_jets_s', 12, '.2f', 'x')} {'':11} {'':11} "
                      f"{_cell(ratio, 'train_mem_mb', 9, '.2f', 'x')} "
                      f"{_cell(ratio, 'infer_mem_mb', 9, '.2f', 'x')}")
                print(f"{'':8} {'  paired':14} {_cell(paired, 'train_paired', 12, '.2f', 'x')} "
                      f"{_cell(paired, 'infer_paired', 12, '.2f', 'x')}   (median over rounds "
                      f"of {ref}/{mine} step time, same batch)")
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in res["max_logit_diff"].items())
        print(f"{'':8} inputs: {res['source']}; mean length {res['mean_len']:.1f}, mean batch "
              f"max {res['mean_batch_max']:.1f}; {res['params']:,} params")
        print(f"{'':8} eval max |Δlogits| vs jetfm: {diffs}")
        print("-" * len(head))
    print("targets (CPU): jetfm/weaver training >= 2x, inference >= 3x (jets/s ratios above)")
    print(f"memory: {mem_kind} during one step above the level before it; rates: batch / "
          "median step time; sys s: median kernel CPU s per step (page faults)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", nargs="+", default=["default", "sophon"])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=6, help="timed training steps per model")
    p.add_argument("--phases", nargs="+", choices=("train", "infer"), default=["train", "infer"],
                   help="what to time; 'infer' alone = a fresh inference-only process, as "
                        "in evaluation (weaver's --predict, jetfm evaluate)")
    p.add_argument("--infer-steps", type=int, default=None,
                   help="timed inference batches per model (default: --steps)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per model and phase")
    p.add_argument("--num-batches", type=int, default=8, help="distinct input batches (cycled)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:k]")
    p.add_argument("--compile", action="store_true", help="torch.compile the jetfm model")
    p.add_argument("--jetfm-pair-mode", choices=("sparse", "dense"), default=None,
                   help="jetfm pair embedding path (default sparse; dense with --compile)")
    p.add_argument("--weaver-trim", nargs="+", choices=("on", "exact", "off"), default=["on"],
                   help="weaver variant(s): on = as configured (weaver_kwargs), exact = cut "
                        "to the longest jet in training too, off = no trimming")
    p.add_argument("--length-buckets", type=int, nargs="+", default=[8], metavar="K",
                   help="ParTConfig.length_buckets of the jetfm rows, one row each (0 = off)")
    p.add_argument("--json", default=None, help="also write the results here (JSON)")
    p.add_argument("--data", nargs="+", default=None, help="jetfm Parquet / JetClass ROOT files")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.infer_steps is None:
        args.infer_steps = args.steps
    if min(args.steps, args.infer_steps) < 1 or args.warmup < 0 or args.batch_size < 1:
        p.error("--steps/--infer-steps and --batch-size must be >= 1, --warmup >= 0")
    args.weaver_trim = list(dict.fromkeys(args.weaver_trim))
    if args.compile and args.warmup < 3:
        # the trim length is data-dependent (a graph break at .item()); dynamic-shape
        # recompilations need a few batches to settle before timing means anything
        print("[bench] --compile: using --warmup 3", file=sys.stderr)
        args.warmup = 3
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.getLogger("weaver").setLevel(logging.WARNING)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    torch.set_num_threads(args.threads)
    from importlib.metadata import PackageNotFoundError, version

    try:
        weaver_version = version("weaver-core")
    except PackageNotFoundError:
        weaver_version = "?"
    print(f"torch {torch.__version__}, weaver-core {weaver_version}, "
          f"python {platform.python_version()}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)}, bf16 autocast)" if device.type == "cuda"
             else f", {torch.get_num_threads()} threads"))
    print(f"batch {args.batch_size}, {args.steps} train / {args.infer_steps} infer steps timed "
          f"(interleaved) after {args.warmup} warm-up; jetfm compile={args.compile}; "
          f"weaver trim={'/'.join(args.weaver_trim)}")
    print(f"before: {load_note()}")
    results = []
    for name in args.configs:
        t0 = time.perf_counter()
        results.append(compare(name, args, device))
        print(f"[{name}] done in {time.perf_counter() - t0:.0f} s; {load_note()}", flush=True)
    print_table(results, args, device)
    print(f"after: {load_note()}")
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump({"argv": sys.argv[1:], "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
