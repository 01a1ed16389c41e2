"""The registration guard and the ensemble rule, on the metrics they judge."""

from __future__ import annotations

from typing import Any

import pytest

from bankscore.automl._guard import check_registrable
from bankscore.automl._search import TrainingResult, TrainOptions, keep_ensemble


def _result(cv_metrics: dict[str, float], truth: list[int] | None = None, yes_share: float = 0.1) -> TrainingResult:
    model: Any = None  # the guard reads only the metrics and the labels
    return TrainingResult(
        model=model,
        options=TrainOptions(),
        trials=[],
        leaderboard=[],
        cv_metrics=cv_metrics,
        oof_truth=truth or [],
        oof_p_yes=[0.0] * len(truth or []),
        train_yes_share=yes_share,
    )


TRUTH = [0] * 89 + [1] * 11  # the data's share of "yes"


def test_a_model_that_labels_everyone_no_is_refused() -> None:
    verdict = check_registrable(_result({"accuracy": 0.89, "yes_rate": 0.0}, TRUTH))
    assert not verdict.passed and verdict.reason == "it labels every row 'no'"
    assert verdict.evidence == "out of fold" and verdict.majority_accuracy == pytest.approx(0.89)


def test_a_model_that_labels_everyone_yes_is_refused() -> None:
    assert check_registrable(_result({"accuracy": 0.11, "yes_rate": 1.0}, TRUTH)).reason == "it labels every row 'yes'"


def test_a_model_no_more_accurate_than_always_no_is_refused() -> None:
    verdict = check_registrable(_result({"accuracy": 0.89, "yes_rate": 0.02}, TRUTH))
    assert not verdict.passed and "not above always answering the majority class" in verdict.reason
    assert "failed" in verdict.verdict and "0.8900" in verdict.verdict


def test_a_useful_model_passes_and_says_on_what() -> None:
    verdict = check_registrable(_result({"accuracy": 0.915, "yes_rate": 0.09}, TRUTH))
    assert verdict.passed and verdict.reason == ""
    assert verdict.verdict.startswith("passed (out of fold: 9.0% of rows labelled 'yes'")


def test_without_out_of_fold_rows_the_cross_validated_trials_are_judged() -> None:
    verdict = check_registrable(_result({"accuracy": 0.88, "yes_rate": 0.01}, None, yes_share=0.11))
    assert verdict.evidence == "cross-validated trials"
    assert verdict.majority_accuracy == pytest.approx(0.89) and not verdict.passed


SINGLE = {"AUC_weighted": 0.945, "log_loss": 0.180}


@pytest.mark.parametrize(
    ("ensemble", "learners", "kept"),
    [
        ({"AUC_weighted": 0.947, "log_loss": 0.178}, 2, True),  # ranks better, states probabilities better
        ({"AUC_weighted": 0.947, "log_loss": 0.180}, 3, True),  # equal log loss is "not worse"
        ({"AUC_weighted": 0.947, "log_loss": 0.190}, 2, False),  # ranks better, decides worse: AUC alone would keep it
        ({"AUC_weighted": 0.945, "log_loss": 0.170}, 2, False),  # not better on AUC
        ({"AUC_weighted": 0.950, "log_loss": 0.170}, 1, False),  # one learner is no ensemble
    ],
)
def test_the_ensemble_is_kept_only_if_better_on_auc_and_not_worse_on_log_loss(
    ensemble: dict[str, float], learners: int, kept: bool
) -> None:
    assert keep_ensemble(ensemble, SINGLE, learners_used=learners) is kept
