"""`jetfm evaluate RUN_DIR --data FILES`: open the run (`pretrained.open_run`), stream the files through
its model, then compute every docs/design.md metric with `metrics.evaluate_scores` (the same
code that scores published JetClass-II). Kept out of `metrics/`, which holds only the metrics
themselves and never loads a model."""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from .data.dataset import check_files, make_dataloader
from .data.paths import expand_paths
from .errors import ConfigError, DataError
from .metrics.evaluate import evaluate_scores
from .outdir import OutputFolder
from . import pretrained
from .pretrained import PretrainedRun
from .runs import RunDir

_HISTORY_KEYS = {"train/loss": "train_loss", "val/loss": "val_loss", "train/acc": "train_acc",
                 "val/acc": "val_acc"}


@torch.inference_mode()
def predict(model, files, data_cfg, batch_size: int = 512, max_jets: int | None = None,
            progress: bool = True) -> dict[str, np.ndarray]:
    """Labels, class probabilities and embeddings (``embed_dim``-d) for every selected jet
    of `files` (the first `max_jets` of them if given)."""
    if max_jets is not None and max_jets < 1:
        raise ConfigError(f"--max-jets must be >= 1, got {max_jets}")
    loader = make_dataloader(files, data_cfg, batch_size, shuffle=False)
    labels, probs, emb = [], [], []
    seen = 0
    bar = tqdm(unit="jet", desc="evaluate", disable=not progress, dynamic_ncols=True)
    for batch in loader:
        out = model(batch["x"], batch["v"], batch["mask"])
        labels.append(batch["label"].numpy())
        probs.append(torch.softmax(out.logits.float(), dim=1).numpy())
        bad = np.flatnonzero(~np.isfinite(probs[-1]).all(axis=1))
        if len(bad):   # finite inputs (checked by the reader) and non-finite outputs: weights
            raise DataError(f"the model gives NaN/inf class probabilities for {len(bad)} jets, "
                            f"first the selected jet #{seen + int(bad[0])} of "
                            f"{', '.join(map(str, loader.dataset.files[:3]))}"
                            f"{' ...' if len(loader.dataset.files) > 3 else ''}; are the "
                            "run's weights finite?")
        emb.append(out.embedding.float().numpy())
        seen += len(batch["label"])
        bar.update(len(batch["label"]))
        if max_jets and seen >= max_jets:
            break
    bar.close()
    if not labels:
        raise ConfigError("no jets passed the data selection in the evaluation files")
    cat = lambda xs: np.concatenate(xs)[:max_jets] if max_jets else np.concatenate(xs)
    return {"labels": cat(labels), "probs": cat(probs), "embedding": cat(emb)}


def read_history(curves: dict[str, list[tuple[int, float]]]) -> dict[str, list[float]] | None:
    """A run's training curves (`PretrainedRun.history()`), renamed for results.json."""
    hist = {dst: [v for _, v in curves[src]] for src, dst in _HISTORY_KEYS.items()
            if curves.get(src)}
    return hist or None


def evaluate_run(run_dir, data=None, out=None, batch_size: int = 512,
                 max_jets: int | None = None, progress: bool = True) -> dict:
    """Metrics and plots of the run's model on `data` (default: the run's own test split,
    read from the absolute paths it recorded — never from the working directory).

    `out` follows the one `--out` contract (outdir.py): checked and claimed before the model
    runs; the figures are written first, results.json last; a failed job (a full disk) leaves
    no results.json and takes back the folder it made."""
    run_dir = RunDir.existing(run_dir)
    if out is None:
        raise ConfigError("--out: give a folder for results.json and the plots")
    if max_jets is not None and max_jets < 1:
        raise ConfigError(f"--max-jets must be >= 1, got {max_jets}")
    if data is None:     # config.yaml's record: known before the weights are read
        data = run_dir.split("test")
        if not data:
            raise ConfigError(f"{run_dir.path} has no test split; pass --data FILES")
    files = expand_paths(data)
    # the settings that decide the results; the file order only matters with --max-jets
    names = [str(f) for f in files]
    identity = {"run_dir": str(run_dir.path.resolve()), "max_jets": max_jets,
                "data": names if max_jets else sorted(names)}
    with OutputFolder(out, "evaluate", identity) as folder:
        return _evaluate(pretrained.open_run(run_dir), files, folder.path, batch_size, max_jets, progress)


def _evaluate(run: PretrainedRun, files, out, batch_size, max_jets, progress) -> dict:
    if run.model.config.num_classes is None:
        raise ConfigError(f"{run.path} is a {run.strategy} run: its backbone has no class "
                          "head, so there are no class scores to evaluate; use `jetfm transfer "
                          f"--backbone {run.path} --task ...` (linear probe, fine-tune, kNN)")
    data_cfg = run.data_config
    check_files(files, data_cfg, verify=False)   # footers: schema, label space, not empty
    pred = predict(run.model, files, data_cfg, batch_size, max_jets, progress)
    return evaluate_scores(pred["labels"], pred["probs"], list(data_cfg.labels.names), out,
                           history=read_history(run.history()),
                           provenance={"run_dir": str(run.path),
                                       "data": [str(f) for f in files]})


def format_results(res: dict, top: int | None = None) -> str:
    macro = res.get("auc_macro")   # None: every jet has one label, no AUC is defined
    lines = [f"jets {res.get('n_jets', '?')}  accuracy {res['accuracy']:.4f}  "
             f"macro AUC {'-' if macro is None else f'{macro:.4f}'}"]
    def rejection(value) -> str:  # a float, "inf" (no background left) or None (not computed)
        if value is None or isinstance(value, str):
            return str(value or "-")
        return f"{value:.4g}"

    for name, d in list(res.get("discriminants", {}).items())[:top]:
        rej = d.get("rejection", {})
        line = (f"  {name:<22} AUC {d['auc']:.4f}  1/eB@50% {rejection(rej.get('50')):>8}"
                f"  1/eB@30% {rejection(rej.get('30')):>8}")
        if "99" in rej:  # leptonic discriminants are quoted at 99 % too
            line += f"  1/eB@99% {rejection(rej['99']):>8}"
        lines.append(line)
    return "\n".join(lines)


__all__ = ["evaluate_run", "format_results", "predict", "read_history"]
