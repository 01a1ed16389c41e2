from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from bankscore.automl import METRIC_NAMES, classification_metrics


def test_auc_weighted_equals_plain_roc_auc_for_two_classes() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    ours = classification_metrics(y, p)
    both_columns = np.column_stack([1 - p, p])
    weighted = roc_auc_score(np.column_stack([1 - y, y]), both_columns, average="weighted")
    assert ours["AUC_weighted"] == roc_auc_score(y, p) == weighted
    assert list(ours) == list(METRIC_NAMES)


def test_threshold_metrics() -> None:
    y = [0, 0, 1, 1]
    ours = classification_metrics(y, [0.1, 0.6, 0.4, 0.9])
    assert ours["accuracy"] == 0.5
    assert ours["AUC_weighted"] == 0.75
    perfect = classification_metrics(y, [0.0, 0.0, 1.0, 1.0])
    assert perfect["accuracy"] == 1.0 and perfect["log_loss"] < 1e-10
