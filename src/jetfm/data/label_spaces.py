"""Label spaces by file format: JetClass-II Parquet files carry the 188 JetClass-II labels,
JetClass ROOT files the 10 original JetClass classes (one-hot `label_*` branches)."""
from __future__ import annotations

from .. import labels as jetclass2
from .paths import PathLike, format_of

JETCLASS_LABELS: tuple[str, ...] = (
    "label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q",
    "label_Hqql", "label_Zqq", "label_Wqq", "label_Tbqq", "label_Tbl",
)
# Prong-multiplicity families matching jetfm.labels.FAMILIES' meaning: 2-prong resonances,
# 3/4-prong (W*W, top; t->blv counts as 3-body), and QCD.
JETCLASS_FAMILIES: dict[str, tuple[int, ...]] = {
    "res2p": (1, 2, 3, 6, 7),
    "res34p": (4, 5, 8, 9),
    "qcd": (0,),
}


def label_names(path: PathLike) -> tuple[str, ...]:
    """Names indexed by `jet_label` for this file's format (188 JetClass-II or 10 JetClass)."""
    return JETCLASS_LABELS if format_of(path) == "root" else tuple(jetclass2.LABEL_NAMES)


def label_families(path: PathLike) -> dict[str, range | tuple[int, ...]]:
    """Family -> label indices (res2p / res34p / qcd) in this file's label space."""
    return dict(JETCLASS_FAMILIES if format_of(path) == "root" else jetclass2.FAMILIES)


__all__ = ["JETCLASS_LABELS", "JETCLASS_FAMILIES", "label_names", "label_families"]
