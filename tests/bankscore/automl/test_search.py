"""Real FLAML searches on a small sample: results, reproducibility, excluded features, bad input."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from bankscore import BankscoreError
from bankscore.automl import PRIMARY_METRIC, TrainingResult, TrainOptions, run_automl
from bankscore.automl._search import TUNED_LGBM_START, _starting_points
from bankscore.data import Dataset
from bankscore.features import FEATURE_NAMES

QUICK = TrainOptions(time_budget=None, max_trials=10, cv=3, seed=11)


@pytest.fixture(scope="module")
def result(small_dataset: Dataset) -> TrainingResult:
    return run_automl(small_dataset, QUICK)


def test_search_ranks_trials_and_scores_the_holdout(result: TrainingResult, small_dataset: Dataset) -> None:
    assert len(result.trials) == 10
    assert {t.learner for t in result.trials} == {"lgbm", "xgboost", "rf", "extra_tree", "lrl1"}  # round robin
    aucs = [row[PRIMARY_METRIC] for row in result.leaderboard]
    assert aucs == sorted(aucs, reverse=True)
    assert [row["rank"] for row in result.leaderboard] == list(range(1, len(result.leaderboard) + 1))
    assert result.holdout_rows == math.ceil(len(small_dataset) * 0.2)  # scikit-learn rounds the test share up
    assert result.train_rows + result.holdout_rows == len(small_dataset)
    assert result.holdout_metrics[PRIMARY_METRIC] > 0.85
    assert set(result.holdout_metrics) == set(result.cv_metrics)
    assert not result.interrupted


def test_the_model_scores_records_and_frames_alike(result: TrainingResult, small_dataset: Dataset) -> None:
    records = list(small_dataset.records())[:50]
    from_records = result.model.predict_proba(records)
    from_frame = result.model.predict_proba(small_dataset.to_pandas().iloc[:50])
    np.testing.assert_allclose(from_records, from_frame)
    assert from_records.shape == (50, 2)
    np.testing.assert_allclose(from_records.sum(axis=1), 1.0)
    assert ((from_records >= 0) & (from_records <= 1)).all()
    labels = result.model.predict(records)
    assert labels == ["yes" if p >= 0.5 else "no" for p in from_records[:, 1]]
    python_named = [{k.replace(".", "_"): v for k, v in r.items()} for r in records]
    np.testing.assert_allclose(result.model.predict_proba(python_named), from_records)


def test_the_chosen_model_is_judged_out_of_fold(result: TrainingResult) -> None:
    from bankscore.automl import classification_metrics

    assert len(result.oof_p_yes) == len(result.oof_truth) == result.train_rows
    assert result.cv_metrics == classification_metrics(result.oof_truth, result.oof_p_yes)
    assert result.oof_calibration is not None and 0 <= result.oof_calibration.ece < 0.1
    if result.model.algorithm == "VotingEnsemble":
        assert result.leaderboard[0]["algorithm"] == "VotingEnsemble"
        assert "VotingEnsemble kept" in result.ensemble_note
        assert abs(sum(m.weight for m in result.model.members) - 1.0) < 1e-9
    else:
        assert len(result.model.members) == 1
        assert "ensemble not kept" in result.ensemble_note
        # the best trial's configuration, cross-validated again on the ensemble's folds: close to its trial AUC
        best_trial = max(t.metrics[PRIMARY_METRIC] for t in result.trials)
        assert abs(result.cv_metrics[PRIMARY_METRIC] - best_trial) < 0.03


def test_lightgbm_starts_from_flamls_zero_shot_configuration(result: TrainingResult) -> None:
    first = next(t for t in result.trials if t.learner == "lgbm")
    assert first.config["n_estimators"] > 4 and first.config["num_leaves"] > 4  # not FLAML's 4-tree start


@pytest.mark.parametrize(
    ("budget", "tuned"), [(150.0, True), (60.0, True), (59.0, False), (10.0, False), (None, False)]
)
def test_the_tuned_lightgbm_start_comes_second_when_the_budget_affords_it(
    small_dataset: Dataset, budget: float | None, tuned: bool
) -> None:
    frame = small_dataset.to_pandas()
    x, y = frame[list(FEATURE_NAMES)], (frame["y"] == "yes").astype(int)
    options = TrainOptions(time_budget=budget, max_trials=None if budget else 5)
    points = _starting_points(x, y, options)["lgbm"]
    assert points[0]["n_estimators"] != TUNED_LGBM_START["n_estimators"]  # FLAML's zero-shot suggestion first
    assert (points[1:] == [TUNED_LGBM_START]) is tuned
    assert "lgbm" not in _starting_points(x, y, replace(options, learners=("xgboost", "rf")))


def test_same_seed_same_leaderboard_and_model(result: TrainingResult, small_dataset: Dataset) -> None:
    again = run_automl(small_dataset, QUICK)
    assert _untimed(again.leaderboard) == _untimed(result.leaderboard)
    records = list(small_dataset.records())[:200]
    np.testing.assert_array_equal(again.model.predict_proba(records), result.model.predict_proba(records))
    other = run_automl(small_dataset, TrainOptions(time_budget=None, max_trials=10, cv=3, seed=12))
    assert _untimed(other.leaderboard) != _untimed(result.leaderboard)


def _untimed(leaderboard: list[dict[str, object]]) -> list[dict[str, object]]:
    """Everything but the training time, which is the one thing a rerun may change."""
    return [{k: v for k, v in row.items() if k != "training_time_s"} for row in leaderboard]


def test_exclude_duration_gives_a_model_without_it(small_dataset: Dataset) -> None:
    res = run_automl(small_dataset, TrainOptions(time_budget=None, max_trials=5, cv=3, exclude=("duration",)))
    assert "duration" not in res.model.features
    assert res.model.excluded == ("duration",)
    assert len(res.model.features) == 19
    records = [{k: v for k, v in r.items() if k != "duration"} for r in list(small_dataset.records())[:5]]
    assert all("duration" not in r for r in records)
    assert res.model.predict_proba(records).shape == (5, 2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (TrainOptions(exclude=("salary",)), "--exclude salary: not a Bank Marketing feature"),
        (TrainOptions(exclude=FEATURE_NAMES), "removes every feature"),
        (TrainOptions(time_budget=1), "--time-budget 1: too small to fit one model"),
        (TrainOptions(cv=1), "--cv 1: cross-validation needs at least 2 folds"),
        (TrainOptions(learners=("svm",)), "unknown learner svm"),
        (TrainOptions(holdout=0.95), "--holdout 0.95"),
        (TrainOptions(time_budget=None, max_trials=None), "give a time budget or a number of trials"),
    ],
)
def test_bad_options_fail_before_training(small_dataset: Dataset, options: TrainOptions, message: str) -> None:
    with pytest.raises(BankscoreError, match=message):
        run_automl(small_dataset, options)


def test_data_without_label_or_positives_is_refused(small_dataset: Dataset) -> None:
    unlabeled = Dataset({k: v for k, v in small_dataset.columns.items() if k != "y"}, "unlabeled", "x")
    with pytest.raises(BankscoreError, match="has no label column 'y'"):
        run_automl(unlabeled, QUICK)
    few = Dataset({k: v[:40] for k, v in small_dataset.columns.items()}, "forty-rows", "x")
    with pytest.raises(BankscoreError, match="too few for 3-fold"):
        run_automl(few, QUICK)
