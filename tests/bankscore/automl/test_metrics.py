from __future__ import annotations

import numpy as np
import pytest
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


# --- calibration, the majority baseline, the share of "yes" -------------------------------------------------


def test_calibration_of_honest_probabilities_is_near_zero_and_of_squashed_ones_is_not() -> None:
    from bankscore.automl._metrics import calibration

    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 200_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)  # each row is "yes" with exactly its stated probability
    honest = calibration(y, p)
    assert honest.ece < 0.005
    assert sum(b.count for b in honest.bins) == p.size == honest.rows
    assert all(abs(b.observed - b.mean_p) < 0.01 for b in honest.bins)
    squashed = calibration(y, p * 0.5)  # every probability halved: what a model that says "no" to all does
    assert squashed.ece == pytest.approx(0.25, abs=0.01)
    assert max(b.upper for b in squashed.bins) == 0.5


def test_calibration_puts_probability_one_in_the_last_bin() -> None:
    from bankscore.automl._metrics import calibration

    cal = calibration([1, 0, 1], [1.0, 0.0, 0.95])
    assert [(b.lower, b.count) for b in cal.bins] == [(0.0, 1), (0.9, 2)]
    assert cal.ece == pytest.approx((0 + 2 * abs(1.0 - 0.975)) / 3)


def test_yes_rate_and_the_majority_baseline() -> None:
    from bankscore.automl._metrics import majority_accuracy

    y = [0] * 9 + [1]
    assert classification_metrics(y, [0.1] * 9 + [0.9])["yes_rate"] == pytest.approx(0.1)
    assert classification_metrics(y, [0.4] * 10)["yes_rate"] == 0.0
    assert majority_accuracy(y) == pytest.approx(0.9)
    assert majority_accuracy([1, 1, 0]) == pytest.approx(2 / 3)
