"""Classification metrics under Azure AutoML's names, computed from P(yes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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

__all__ = [
    "CALIBRATION_BINS",
    "METRIC_NAMES",
    "PRIMARY_METRIC",
    "Calibration",
    "CalibrationBin",
    "calibration",
    "classification_metrics",
    "majority_accuracy",
]

PRIMARY_METRIC = "AUC_weighted"
# Azure's metrics, then the share of rows labelled "yes" at the threshold: AUC cannot see a model whose
# probabilities are squashed below 0.5 for everyone, this column does.
METRIC_NAMES = (
    "AUC_weighted",
    "accuracy",
    "precision_score_weighted",
    "recall_score_weighted",
    "f1_score_weighted",
    "log_loss",
    "yes_rate",
)
CALIBRATION_BINS = 10


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
        "yes_rate": float(predicted.mean()) if len(predicted) else 0.0,
    }


def majority_accuracy(y_true: Any) -> float:
    """The accuracy of always answering the more frequent class: what a useless model scores."""
    y = np.asarray(y_true, dtype=int)
    share = float(y.mean()) if len(y) else 0.0
    return max(share, 1.0 - share)


@dataclass(frozen=True)
class CalibrationBin:
    lower: float
    upper: float
    count: int
    mean_p: float  # the mean predicted P(yes) of the rows in the bin
    observed: float  # the share of those rows that are "yes"


@dataclass(frozen=True)
class Calibration:
    """A reliability curve over equal-width bins of P(yes) and its expected calibration error.

    ECE is the mean of |observed - predicted| over the bins, weighted by their row counts: 0.02 means that, on
    average over the rows, the stated P(yes) is two points away from how often such rows are "yes".
    """

    ece: float
    rows: int
    bins: tuple[CalibrationBin, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"ece": self.ece, "rows": self.rows, "bins": [asdict(b) for b in self.bins]}


def calibration(y_true: Any, p_yes: Any, bins: int = CALIBRATION_BINS) -> Calibration:
    """Reliability of ``p_yes`` against the 0/1 labels, over ``bins`` equal-width bins of [0, 1]."""
    y = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(p_yes, dtype=float), 0.0, 1.0)
    # Bin i holds [i/bins, (i+1)/bins); P(yes) = 1 falls in the last bin.
    index = np.minimum((p * bins).astype(int), bins - 1)
    made = []
    ece = 0.0
    for i in range(bins):
        mask = index == i
        count = int(mask.sum())
        if not count:
            continue
        mean_p, observed = float(p[mask].mean()), float(y[mask].mean())
        ece += count * abs(observed - mean_p)
        made.append(CalibrationBin(i / bins, (i + 1) / bins, count, mean_p, observed))
    return Calibration(ece / len(p) if len(p) else 0.0, len(p), tuple(made))
