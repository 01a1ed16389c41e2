"""Classification metrics under Azure AutoML's names, computed from P(yes)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

__all__ = ["METRIC_NAMES", "PRIMARY_METRIC", "classification_metrics"]

PRIMARY_METRIC = "AUC_weighted"
METRIC_NAMES = (
    "AUC_weighted",
    "accuracy",
    "precision_score_weighted",
    "recall_score_weighted",
    "f1_score_weighted",
    "log_loss",
)


def classification_metrics(y_true: Any, p_yes: Any, threshold: float = 0.5) -> dict[str, float]:
    """Azure's metrics for a binary label coded 0/1. For two classes AUC_weighted equals ROC AUC.

    (Azure averages the one-vs-rest AUC of each class weighted by its support; with two classes both
    one-vs-rest curves are the same curve, so the weighted mean is the plain ROC AUC.)
    """
    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(p_yes, dtype=float), 1e-15, 1 - 1e-15)
    predicted = (p >= threshold).astype(int)
    return {
        "AUC_weighted": float(roc_auc_score(y, p)),
        "accuracy": float(accuracy_score(y, predicted)),
        "precision_score_weighted": float(precision_score(y, predicted, average="weighted", zero_division=0)),
        "recall_score_weighted": float(recall_score(y, predicted, average="weighted", zero_division=0)),
        "f1_score_weighted": float(f1_score(y, predicted, average="weighted", zero_division=0)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
    }
