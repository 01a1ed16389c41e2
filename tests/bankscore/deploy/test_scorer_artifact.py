"""The scorer artifact, read by the scoring script, gives FLAML's own probabilities for every kind of learner."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bankscore.automl import BankMarketingModel, TrainOptions, run_automl
from bankscore.data import Dataset, load_training_data
from bankscore.deploy._scorer_artifact import TOLERANCE, lean_model
from bankscore.deploy.bankscore_scoring.model import Model


@pytest.fixture(scope="module")
def small_dataset() -> Dataset:
    """Every sixth shipped row (5,492 rows, the same class balance): fast enough for real searches."""
    full = load_training_data()
    columns = {name: values[::6] for name, values in full.columns.items()}
    return Dataset(columns=columns, source="sample-of-6", sha256="sample")


@pytest.mark.parametrize("learner", ["lgbm", "xgboost", "rf", "extra_tree", "lrl1"])
def test_each_learner_scores_the_same_through_the_lean_path(small_dataset: Dataset, learner: str) -> None:
    result = run_automl(
        small_dataset, TrainOptions(time_budget=None, max_trials=3, cv=3, learners=(learner,), ensemble=False)
    )
    records = list(small_dataset.records())
    scorer = lean_model(result.model, records[:500])
    expected = result.model.predict_proba(records)[:, 1]
    np.testing.assert_allclose(_p_yes(scorer, records), expected, rtol=0, atol=TOLERANCE)
    kinds = {"lgbm": "lightgbm", "xgboost": "xgboost", "rf": "forest", "extra_tree": "forest", "lrl1": "linear"}
    assert [m["kind"] for m in scorer.members] == [kinds[learner]]


def test_an_ensemble_blends_with_its_weights(small_dataset: Dataset) -> None:
    result = run_automl(small_dataset, TrainOptions(time_budget=None, max_trials=10, cv=3, seed=11))
    records = list(small_dataset.records())[:300]
    scorer = lean_model(result.model, records)
    assert [m["weight"] for m in scorer.members] == [m.weight for m in result.model.members]
    np.testing.assert_allclose(
        _p_yes(scorer, records[:1]), result.model.predict_proba(records[:1])[:, 1], atol=TOLERANCE
    )


def test_a_lean_path_that_disagrees_is_refused(small_dataset: Dataset) -> None:
    result = run_automl(
        small_dataset, TrainOptions(time_budget=None, max_trials=2, cv=3, learners=("lgbm",), ensemble=False)
    )
    records = list(small_dataset.records())[:300]
    good = lean_model(result.model, records)
    # Fault injection: the numeric columns in reverse order, as a drifted encoding would feed them.
    reversed_columns = list(reversed(result.model.transformer._num_columns))
    tampered_transformer = _Shadow(result.model.transformer, _num_columns=reversed_columns)
    tampered = dataclasses.replace(result.model, transformer=tampered_transformer)
    with pytest.raises(ValueError, match="differs from FLAML's"):
        lean_model(_FlamlScoresLikeOriginal(tampered, result.model), records)  # type: ignore[arg-type]
    assert isinstance(good, Model)


def _p_yes(scorer: Model, records: list[dict[str, object]]) -> np.ndarray:  # type: ignore[type-arg]
    columns = {f["wire_name"]: [r[f["wire_name"]] for r in records] for f in scorer.features}
    return scorer.p_yes(columns, len(records))


class _Shadow:
    """Attribute overlay over an object: reads fall through except the overridden ones."""

    def __init__(self, inner: object, **overrides: object) -> None:
        self._inner = inner
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


class _FlamlScoresLikeOriginal:
    """A model whose reference scores come from the untouched model, while the lean path is built from ``lean``."""

    def __init__(self, lean: BankMarketingModel, original: BankMarketingModel) -> None:
        self.transformer = lean.transformer
        self.members = lean.members
        self.features = lean.features
        self.classes = lean.classes
        self._original = original

    def predict_proba(self, records: object) -> object:
        return self._original.predict_proba(records)  # type: ignore[arg-type]
