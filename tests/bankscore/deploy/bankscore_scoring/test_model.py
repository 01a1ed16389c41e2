"""The scorer's P(yes): the learners' trees walked or compiled for a few rows agree with the libraries."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from bankscore_tests_scoring_helpers import (
    GOOD,
    LONG_CALL,
    MANY,
    tiny_model,
)

from bankscore.deploy.bankscore_scoring import codegen
from bankscore.deploy.bankscore_scoring import model as scoring_model
from bankscore.deploy.bankscore_scoring.checks import check_columns
from bankscore.deploy.bankscore_scoring.facts import SMALL_BATCH
from bankscore.deploy.bankscore_scoring.model import Model
from bankscore.features import FEATURES, FeatureKind


def test_scores_match_the_learner() -> None:
    model = tiny_model("C")
    columns = check_columns(model, [GOOD, LONG_CALL])
    expected = 1 / (1 + np.exp(-(np.array([371, 971]) * 0.01 - 6.0)))
    np.testing.assert_allclose(model.p_yes(columns, 2), expected, rtol=0, atol=1e-15)


def test_a_large_batch_scores_like_the_same_records_one_by_one() -> None:
    model = tiny_model(max_records=100)
    rows = [{**GOOD, "duration": 40 * i} for i in range(MANY)]
    together = model.p_yes(check_columns(model, rows), len(rows))
    alone = np.concatenate([model.p_yes(check_columns(model, [r]), 1) for r in rows])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-15)
    assert together[0] < 0.5 < together[-1]


CATEGORY_COLUMNS = [i for i, f in enumerate(FEATURES) if f.kind is FeatureKind.CATEGORY]


def synthetic_records(count: int, seed: int) -> list[dict[str, Any]]:
    """Valid records spread over every feature's range, with exact zeros where the range allows them."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(count):
        record: dict[str, Any] = {}
        for f in FEATURES:
            if f.kind is FeatureKind.CATEGORY:
                record[f.wire_name] = f.categories[int(rng.integers(len(f.categories)))]
                continue
            low, high = float(f.minimum or 0), float(f.maximum or 1)
            value = low if rng.random() < 0.2 else (0.0 if low <= 0 <= high and rng.random() < 0.2 else None)
            if value is None:
                value = low + (high - low) * float(rng.random()) ** 3  # most values near the bottom
            record[f.wire_name] = int(value) if f.kind is FeatureKind.INTEGER else value
        records.append(record)
    return records


def encoded(model: Model, records: list[dict[str, Any]]) -> np.ndarray[Any, Any]:
    return np.array(
        [
            [
                float(r[name]) if codes is None else float(codes[r[name]])
                for name, codes in zip(model.columns, model.codes, strict=True)
            ]
            for r in records
        ]
    )


def learner_model(member: dict[str, Any]) -> Model:
    base = tiny_model(max_records=1000)
    artifact = {"format": 1, "columns": base.columns, "codes": base.codes, "members": [member]}
    contract = {"generation": "C", "model_version": "1", "max_records": 1000, "features": base.features}
    return Model(artifact, contract)


def labels(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    names = [f.wire_name for f in FEATURES]
    by_category = x[:, CATEGORY_COLUMNS[0]] % 3 == 0
    by_numbers = (x[:, names.index("euribor3m")] > 1.5) ^ (x[:, names.index("cons.conf.idx")] > -60)
    return ((x[:, names.index("duration")] > 300) ^ by_category ^ by_numbers).astype(int)


def at_thresholds(records: list[dict[str, Any]], splits: list[tuple[int, float]]) -> list[dict[str, Any]]:
    """Records whose number features sit exactly on split thresholds: where `<=` and `<`, or a value and its
    float32 rounding, send a record down different branches."""
    out = []
    for i, (column, threshold) in enumerate(splits):
        feature = FEATURES[column]
        if feature.kind is FeatureKind.NUMBER and (feature.minimum or 0) <= threshold <= (feature.maximum or 0):
            out.append({**records[i % len(records)], feature.wire_name: threshold})
    assert len(out) > 20, "too few thresholds on number features to test the comparisons"
    return out


@pytest.fixture(params=["compiled", "walked"])
def tree_code(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Score a few rows with the trees as generated code, or (no depth allowed) walked from their lists."""
    if request.param == "walked":
        monkeypatch.setattr(codegen, "CODEGEN_MAX_DEPTH", 0)
    return str(request.param)


def assert_small_batches_match_the_library(model: Model, records: list[dict[str, Any]], atol: float) -> None:
    assert model._small is not None, "this learner should have a small-batch path"
    library = model.p_yes(check_columns(model, records), len(records))  # past SMALL_BATCH: the library's predict
    singles = np.concatenate([model.p_yes(check_columns(model, [r]), 1) for r in records])
    step = SMALL_BATCH
    batches = np.concatenate(
        [
            model.p_yes(check_columns(model, records[i : i + step]), len(records[i : i + step]))
            for i in range(0, len(records), step)
        ]
    )
    np.testing.assert_allclose(singles, library, rtol=0, atol=atol)
    np.testing.assert_allclose(batches, library, rtol=0, atol=atol)
    assert library.min() < 0.2 and library.max() > 0.8  # the trees really split these records


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_lightgbm_small_batches_walk_the_trees_exactly(zero_as_missing: bool, tree_code: str) -> None:
    lgb = pytest.importorskip("lightgbm")
    train = synthetic_records(3000, seed=1)
    shape = learner_model({"kind": "linear", "weight": 1.0, "model": (np.zeros(len(FEATURES)), 0.0)})
    x = encoded(shape, train)
    params = {"objective": "binary", "num_leaves": 15, "verbose": -1, "num_threads": 1, "seed": 1}
    params |= {"zero_as_missing": zero_as_missing, "min_data_per_group": 5, "max_cat_to_onehot": 2}
    booster = lgb.train(params, lgb.Dataset(x, labels(x), categorical_feature=CATEGORY_COLUMNS), num_boost_round=25)
    splits = json.dumps(booster.dump_model())
    assert '"decision_type": "=="' in splits  # category splits are exercised
    assert ('"missing_type": "Zero"' in splits) is zero_as_missing
    model = learner_model({"kind": "lightgbm", "weight": 1.0, "model": booster, "num_iteration": 20})
    frame = booster.trees_to_dataframe()
    numeric = frame[frame["decision_type"] == "<="]
    columns = [int(name.removeprefix("Column_")) for name in numeric["split_feature"]]
    records = synthetic_records(400, seed=2)
    records += at_thresholds(records, list(zip(columns, numeric["threshold"].astype(float), strict=True)))
    assert_small_batches_match_the_library(model, records, atol=0)


def test_forest_small_batches_walk_the_trees_exactly(tree_code: str) -> None:
    ensemble = pytest.importorskip("sklearn.ensemble")
    shape = learner_model({"kind": "linear", "weight": 1.0, "model": (np.zeros(len(FEATURES)), 0.0)})
    x = encoded(shape, synthetic_records(2000, seed=3))
    forest = ensemble.RandomForestClassifier(n_estimators=7, max_depth=8, random_state=0).fit(x, labels(x))
    model = learner_model({"kind": "forest", "weight": 1.0, "model": tuple(t.tree_ for t in forest.estimators_)})
    splits = [
        (int(f), float(t))
        for e in forest.estimators_
        for f, t in zip(e.tree_.feature, e.tree_.threshold, strict=True)
        if f >= 0
    ]
    records = synthetic_records(400, seed=4)
    assert_small_batches_match_the_library(model, records + at_thresholds(records, splits), atol=0)


def test_xgboost_small_batches_match_its_float32_predict(tree_code: str) -> None:
    xgb = pytest.importorskip("xgboost")
    from bankscore.deploy._scorer_artifact import _xgboost_trees

    shape = learner_model({"kind": "linear", "weight": 1.0, "model": (np.zeros(len(FEATURES)), 0.0)})
    x = encoded(shape, synthetic_records(2000, seed=5))
    classifier = xgb.XGBClassifier(n_estimators=30, max_depth=5, n_jobs=1, random_state=0).fit(x, labels(x))
    booster = classifier.get_booster()
    model = learner_model({"kind": "xgboost", "weight": 1.0, "model": booster, **_xgboost_trees(booster)})
    frame = booster.trees_to_dataframe()
    splits = frame[frame["Feature"] != "Leaf"]
    columns = [int(name.removeprefix("f")) for name in splits["Feature"]]
    records = synthetic_records(400, seed=6)
    records += at_thresholds(records, list(zip(columns, splits["Split"].astype(float), strict=True)))
    # XGBoost sums and answers in float32; the walk sums in float64, so they agree to float32's precision.
    assert_small_batches_match_the_library(model, records, atol=3e-7)


def test_trees_become_code_unless_they_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    # One XGBoost-style tree: node 0 splits feature 1 at 0.5 (x < 0.5 goes left); leaves hold their value.
    trees = [([1, -1, -1], [2, -1, -1], [1, 0, 0], [0.5, 0.25, -0.75], [False, True, True])]
    margin = codegen.compile_xgboost(trees, 0.125)
    assert margin is not None
    assert margin([9.0, 0.25]) == 0.125 + 0.25
    assert margin([9.0, 0.5]) == 0.125 - 0.75  # on the threshold: not below it, so right
    assert codegen.compile_xgboost(trees, float("inf")) is None  # repr would write a name
    nan_split = [([1, -1, -1], [2, -1, -1], [1, 0, 0], [float("nan"), 0.25, -0.75], [False, True, True])]
    assert codegen.compile_xgboost(nan_split, 0.0) is None
    monkeypatch.setattr(codegen, "CODEGEN_MAX_DEPTH", 0)
    assert codegen.compile_xgboost(trees, 0.125) is None  # too deep: the list walk scores it


def test_a_blend_scores_few_records_without_the_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    ensemble = pytest.importorskip("sklearn.ensemble")
    shape = learner_model({"kind": "linear", "weight": 1.0, "model": (np.zeros(len(FEATURES)), 0.0)})
    x = encoded(shape, synthetic_records(500, seed=7))
    forest = ensemble.RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(x, labels(x))
    coef = np.zeros(len(FEATURES))
    coef[[f.wire_name for f in FEATURES].index("duration")] = 0.01
    base = tiny_model(max_records=1000)
    members = [
        {"kind": "forest", "weight": 0.25, "model": tuple(t.tree_ for t in forest.estimators_)},
        {"kind": "linear", "weight": 0.75, "model": (coef, -3.0)},
    ]
    artifact = {"format": 1, "columns": base.columns, "codes": base.codes, "members": members}
    model = Model(artifact, {"generation": "C", "model_version": "1", "max_records": 1000, "features": base.features})
    records = synthetic_records(MANY, seed=8)
    expected = model.p_yes(check_columns(model, records), len(records))
    calls: list[str] = []
    monkeypatch.setattr(scoring_model, "_member_p_yes", lambda member, z: calls.append(member["kind"]))
    few = np.concatenate([model.p_yes(check_columns(model, [r]), 1) for r in records])
    assert calls == []  # not one library call for a single record
    np.testing.assert_allclose(few, expected, rtol=0, atol=1e-15)
