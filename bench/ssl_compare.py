"""Compare pre-training runs side by side: training-loss curves, the online probe over steps
and, with --probe-data, one common linear probe on the same held-out jets for every run.

    python bench/ssl_compare.py runs/supervised runs/clip runs/jepa runs/resim runs/autoencoder \
        --probe-data test_files... --plot compare.png

The online probe (`probe/acc`, logged during training) uses each run's own validation jets;
the common probe embeds the same jets with every run's backbone (class head dropped), fits a
logistic regression on half and scores the other half (`jetfm.pretrain.probe`), so runs
trained on different data (e.g. `resim` on a re-simulated set) are scored on equal terms:
once on the labels and once on the data config's reweighting groups (jetclass2: Sophon's 30
decay topologies), which a few thousand jets can learn.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from jetfm.data.config import load_data_config
from jetfm.data.dataset import make_dataloader
from jetfm.data.label_groups import group_of_label
from jetfm.pretrained import load_backbone
from jetfm.pretrain.probe import embedding_diagnostics, probe_accuracy
from jetfm.report.collect import read_curves
from jetfm.runs import RunDir


def smoothed(points: list[tuple[int, float]], every: int) -> list[tuple[int, float]]:
    """Mean of the values in each window of `every` steps (noisy per-batch losses)."""
    bins: dict[int, list[float]] = {}
    for step, value in points:
        bins.setdefault(step // every, []).append(value)
    return [((k + 1) * every, float(np.mean(v))) for k, v in sorted(bins.items())]


@torch.inference_mode()
def embed(run: Path, files: list[str], max_jets: int):
    """(embeddings, labels, the data config's reweighting group of each label)."""
    model = load_backbone(run, drop_head=True).eval()
    data_cfg = load_data_config(yaml.safe_load(RunDir.existing(run).config_path.read_text())["data"])
    emb, lab, seen = [], [], 0
    for batch in make_dataloader(files, data_cfg, 512, shuffle=False):
        emb.append(model(batch["x"], batch["v"], batch["mask"]).embedding.float().numpy())
        lab.append(batch["label"].numpy())
        seen += len(lab[-1])
        if seen >= max_jets:
            break
    lab = np.concatenate(lab)[:max_jets]
    return np.concatenate(emb)[:max_jets], lab, group_of_label(data_cfg)[1][lab]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--every", type=int, default=50, help="loss averaged over windows of N steps")
    p.add_argument("--probe-data", nargs="+", help="held-out files for the common probe")
    p.add_argument("--probe-jets", type=int, default=6000)
    p.add_argument("--plot", type=Path, help="write loss and probe curves to this image")
    args = p.parse_args(argv)
    history = {run.name: read_curves(run) for run in args.runs}

    for name, h in history.items():
        loss = smoothed(h.get("train/loss", []), args.every)
        print(f"{name:12s} train/loss " + " ".join(f"{s}:{v:.3g}" for s, v in loss))
        probe = h.get("probe/acc", [])
        print(f"{'':12s} probe/acc  " + " ".join(f"{s}:{v:.3f}" for s, v in probe))
        last = {k: v[-1][1] for k, v in h.items() if k.startswith("embed/")}
        print(f"{'':12s} final      " + " ".join(f"{k[6:]}={v:.3g}" for k, v in sorted(last.items())))

    if args.probe_data:
        print(f"\ncommon probe: logistic regression on {args.probe_jets} jets of "
              f"{len(args.probe_data)} file(s), fit on half, scored on the other half")
        for run in args.runs:
            emb, lab, group = embed(run, args.probe_data, args.probe_jets)
            diag = embedding_diagnostics(emb[:2000])
            print(f"{run.name:12s} acc={probe_accuracy(emb, lab):.3f} "
                  f"(labels: {len(np.unique(lab))})  acc_groups={probe_accuracy(emb, group):.3f} "
                  f"(groups: {len(np.unique(group))})  n={len(lab)}  "
                  f"eff_rank={diag['embed/eff_rank']:.1f}")

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        for name, h in history.items():
            s, v = zip(*smoothed(h["train/loss"], args.every))
            a.plot(s, np.asarray(v) / v[0], label=name)
            if h.get("probe/acc"):
                s, v = zip(*h["probe/acc"])
                b.plot(s, v, marker="o", label=name)
        a.set(xlabel="step", ylabel="train loss / first window", title="loss (relative)")
        b.set(xlabel="step", ylabel="online probe accuracy", title="probe/acc")
        for ax in (a, b):
            ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"\nwrote {args.plot}")


if __name__ == "__main__":
    main()
