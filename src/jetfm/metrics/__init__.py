"""Tagging metrics (docs/design.md): ROC/AUC/rejection/SIC/significance, discriminants, evaluation.

Importing this package does not import matplotlib/mplhep; :mod:`jetfm.metrics.plots` is loaded
only when figures are drawn.
"""
from jetfm.metrics.core import (
    InvalidScoresError, accuracy, auc, max_sic, rejection_at, roc, sic_curve, significance,
)
from jetfm.metrics.discriminants import (
    Discriminant, builtin_discriminants, discriminant, jetclass2_builtins, jetclass_builtins,
    label_set_of,
)
from jetfm.metrics.evaluate import evaluate_scores

__all__ = [
    "InvalidScoresError", "accuracy", "auc", "max_sic", "rejection_at", "roc", "sic_curve",
    "significance", "Discriminant", "builtin_discriminants", "discriminant",
    "jetclass2_builtins", "jetclass_builtins", "label_set_of", "evaluate_scores",
]
