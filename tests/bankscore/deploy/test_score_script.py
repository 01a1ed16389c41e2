"""The deployment's score.py as plain functions: body parsing, input checks and rendering, with a tiny model.

The model is a single logistic learner on ``duration`` alone (P(yes) = 0.5 at 600 s), built in memory in the
artifact and contract shapes that ``bankscore deploy`` writes, so every expected answer is known exactly.
"""

from __future__ import annotations

import copy
import io
import json
import math
import random
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bankscore.deploy import score_script
from bankscore.deploy.score_script import (
    InputError,
    Model,
    check_columns,
    parse_body,
    parse_frame,
    render_result,
    score_body,
)
from bankscore.features import FEATURES, FeatureKind

GOOD: dict[str, Any] = {f.wire_name: f.example for f in FEATURES}  # duration 371 -> "no"
LONG_CALL: dict[str, Any] = {**GOOD, "duration": 971}  # -> "yes"


def tiny_model(generation: str = "C", *, max_records: int = 3, max_body_bytes: int = 4096, **member: Any) -> Model:
    names = [f.wire_name for f in FEATURES]
    coef = np.zeros(len(names))
    coef[names.index("duration")] = 0.01
    contract = {
        "model_name": "tiny",
        "model_version": "7",
        "generation": generation,
        "classes": ["no", "yes"],
        "max_records": max_records,
        "max_body_bytes": max_body_bytes,
        "features": [
            {
                "wire_name": f.wire_name,
                "kind": f.kind.value,
                "categories": list(f.categories),
                "minimum": f.minimum,
                "maximum": f.maximum,
            }
            for f in FEATURES
        ],
    }
    artifact = {
        "format": 1,
        "columns": names,
        "codes": [
            {c: i for i, c in enumerate(f.categories)} if f.kind is FeatureKind.CATEGORY else None for f in FEATURES
        ],
        "members": [{"kind": "linear", "weight": 1.0, "model": (coef, -6.0), **member}],
    }
    return Model(artifact, contract)


def body(generation: str, records: Any, method: str | None = None) -> bytes:
    if generation == "C":
        document: dict[str, Any] = {"Inputs": {"data": records}}
        if method is not None:
            document["GlobalParameters"] = {"method": method}
    else:
        document = {"data": records}
        if method is not None:
            document["method"] = method
    return json.dumps(document).encode()


def input_error(call: Any, *args: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        call(*args)
    return caught.value


# ------------------------------------------------------------------------------------------------ parse_body


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_each_generation_reads_its_own_body(generation: str) -> None:
    assert parse_body(body(generation, [GOOD, LONG_CALL]), generation) == ([GOOD, LONG_CALL], "predict")


def test_methods_per_generation() -> None:
    assert parse_body(body("B", [GOOD], "predict_proba"), "B")[1] == "predict_proba"
    assert parse_body(body("C", [GOOD], "predict_proba"), "C")[1] == "predict_proba"
    # Generation A has no method: the key is not part of its contract and is left alone.
    assert parse_body(body("A", [GOOD], "predict_proba"), "A")[1] == "predict"


@pytest.mark.parametrize(
    ("raw", "generation", "message"),
    [
        # The real server's own words, so callers see the same text as on Azure.
        (
            b"{bad",
            "A",
            "POST body could not be decoded as JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (b"[1, 2]", "B", "POST body should be a JSON dictionary."),
        (b'"text"', "C", "POST body should be a JSON dictionary."),
        (b'{"records": []}', "A", "A value is not provided for the 'data' parameter."),
        (b'{"Inputs": {"data": []}}', "B", "A value is not provided for the 'data' parameter."),
        (b'{"data": [{"age": 40}]}', "C", "A value is not provided for the 'Inputs' parameter."),
        (b'{"Inputs": null}', "C", "A value is not provided for the 'Inputs' parameter."),
    ],
)
def test_body_level_mistakes_use_the_servers_words(raw: bytes, generation: str, message: str) -> None:
    error = input_error(parse_body, raw, generation)
    assert (error.status, error.message) == (400, message)


@pytest.mark.parametrize(
    ("raw", "generation", "words"),
    [
        (b"\xff\xfe\x00", "A", "could not be decoded as JSON"),
        (b"", "C", "could not be decoded as JSON"),
        (b'{"data": {"age": 40}}', "A", "data must be a list of records, not dict"),
        (b'{"data": []}', "B", "data is empty"),
        (b'{"Inputs": {"data": []}}', "C", "data is empty"),
        (b'{"Inputs": [1]}', "C", 'Inputs must be an object holding "data"'),
        (b'{"Inputs": {"rows": []}}', "C", 'Inputs must be an object holding "data"'),
        (b'{"data": [{}], "method": "nope"}', "B", "method='nope' is not one of predict, predict_proba"),
        (b'{"data": [{}], "method": ["predict"]}', "B", "method=['predict'] is not one of"),
        (b'{"Inputs": {"data": [{}]}, "GlobalParameters": {"method": "x"}}', "C", "method='x' is not one of"),
        # Real Azure answers 500 to an empty GlobalParameters; bankscore says why, with 400.
        (
            b'{"Inputs": {"data": [{}]}, "GlobalParameters": {}}',
            "C",
            'GlobalParameters must be an object holding "method"',
        ),
        (b'{"Inputs": {"data": [{}]}, "GlobalParameters": "predict"}', "C", "GlobalParameters must be an object"),
    ],
)
def test_other_body_mistakes_are_400_and_say_what_is_wrong(raw: bytes, generation: str, words: str) -> None:
    error = input_error(parse_body, raw, generation)
    assert error.status == 400
    assert words in error.message


# --------------------------------------------------------------------------------------------- check_columns


def test_valid_records_come_back_by_column() -> None:
    columns = check_columns(tiny_model(), [GOOD, LONG_CALL, {**GOOD, "age": 40.0}])
    assert list(columns) == [f.wire_name for f in FEATURES]
    assert columns["duration"] == [371, 971, 371]
    assert columns["age"] == [57, 57, 40.0]  # an integral float is an integer


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({**GOOD, "age": "forty"}, 'record 1: age="forty" must be an integer'),
        ({k: v for k, v in GOOD.items() if k != "job"}, "record 1: job is missing"),
        ({**GOOD, "salary": 1000}, "record 1: salary is not an input feature of this model"),
        (
            {**GOOD, "job": "astronaut"},
            'record 1: job="astronaut" is not one of admin., blue-collar, entrepreneur, housemaid, management, '
            "retired, self-employed, services, student, technician, unemployed, unknown",
        ),
        ({**GOOD, "age": 150}, "record 1: age=150 is outside the range 17..120"),
        ({**GOOD, "euribor3m": -7.5}, "record 1: euribor3m=-7.5 is outside the range -5..25"),
        ({**GOOD, "emp.var.rate": True}, "record 1: emp.var.rate=true must be a number"),
        ({**GOOD, "campaign": False}, "record 1: campaign=false must be an integer"),
        ({**GOOD, "age": 41.5}, "record 1: age=41.5 must be an integer"),
        ({**GOOD, "job": None}, "record 1: job=null must be a string"),
        ({**GOOD, "month": 5}, "record 1: month=5 must be a string"),
        ({**GOOD, "cons.price.idx": math.nan}, "record 1: cons.price.idx=NaN must be a number"),
        ({**GOOD, "cons.price.idx": math.inf}, "record 1: cons.price.idx=Infinity must be a number"),
        ({**GOOD, "pdays": "999"}, 'record 1: pdays="999" must be an integer'),
        (7, "record 1: must be an object of feature: value, not 7"),
        ([GOOD], "record 1: must be an object of feature: value, not [{"),
    ],
)
def test_each_record_problem_names_record_field_and_value(record: Any, expected: str) -> None:
    error = input_error(check_columns, tiny_model(), [GOOD, record])
    assert error.status == 400
    assert error.message.startswith(expected), error.message


def test_a_renamed_field_is_reported_both_ways() -> None:
    record = {("Age" if k == "age" else k): v for k, v in GOOD.items()}
    error = input_error(check_columns, tiny_model(), [record])
    assert error.message == "record 0: Age is not an input feature of this model; record 0: age is missing"


def test_problems_in_several_records_are_listed_up_to_five() -> None:
    rows = [{**GOOD, "age": 200 + i} for i in range(3)]
    error = input_error(check_columns, tiny_model(), rows)
    assert error.message == (
        "record 0: age=200 is outside the range 17..120; record 1: age=201 is outside the range 17..120; "
        "record 2: age=202 is outside the range 17..120"
    )
    many = {**GOOD, "age": "a", "job": 1, "marital": 2, "education": 3, "default": 4, "housing": 5}
    error = input_error(check_columns, tiny_model(), [many])
    assert error.message.count("record 0:") == 5


def test_too_many_records() -> None:
    error = input_error(check_columns, tiny_model(max_records=3), [{}] * 4)
    assert (error.status, error.message) == (400, "data holds 4 records; this deployment takes at most 3")


@pytest.mark.parametrize("field", ["age", "emp.var.rate"])
def test_an_integer_too_large_for_a_float_is_a_400(field: str) -> None:
    error = input_error(check_columns, tiny_model(), [{**GOOD, field: 10**400}])
    assert error.status == 400 and f"record 0: {field}=1000" in error.message


# --------------------------------------------------------------------------------------------- render_result


def test_generation_a_and_b_double_encode_labels() -> None:
    for generation in ("A", "B"):
        rendered = render_result(tiny_model(generation), "predict", np.array([0.75, 0.25, 0.5]))
        assert rendered == '{"result": ["yes", "no", "yes"]}'  # a str: the server encodes it once more
        assert json.dumps(rendered).encode() == rb'"{\"result\": [\"yes\", \"no\", \"yes\"]}"'


def test_generation_c_is_plain_json() -> None:
    assert render_result(tiny_model("C"), "predict", np.array([0.75, 0.25])) == {"Results": ["yes", "no"]}


def test_predict_proba_gives_no_then_yes() -> None:
    assert render_result(tiny_model("C"), "predict_proba", np.array([0.75, 0.25])) == {
        "Results": [[0.25, 0.75], [0.75, 0.25]]
    }
    assert json.loads(render_result(tiny_model("B"), "predict_proba", np.array([0.75]))) == {"result": [[0.25, 0.75]]}


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_score_body_end_to_end(generation: str) -> None:
    model = tiny_model(generation)
    result, records = score_body(model, body(generation, [LONG_CALL, GOOD]))
    assert records == 2
    expected = {"Results": ["yes", "no"]} if generation == "C" else '{"result": ["yes", "no"]}'
    assert result == expected


def test_scores_match_the_learner() -> None:
    model = tiny_model("C")
    columns = check_columns(model, [GOOD, LONG_CALL])
    expected = 1 / (1 + np.exp(-(np.array([371, 971]) * 0.01 - 6.0)))
    np.testing.assert_allclose(model.p_yes(columns, 2), expected, rtol=0, atol=1e-15)


# --------------------------------------------------------------------------------------------- the route


def request(raw: bytes, *, method: str = "POST", content_type: str | None = "application/json", chunked: bool = False):  # type: ignore[no-untyped-def]
    headers = {} if content_type is None else {"Content-Type": content_type}
    return SimpleNamespace(
        method=method, headers=headers, content_length=None if chunked else len(raw), stream=io.BytesIO(raw)
    )


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> Model:
    model = tiny_model("C", max_body_bytes=500)
    monkeypatch.setattr(score_script, "_MODEL", model)
    return model


def test_route_statuses(loaded: Model, capsys: pytest.CaptureFixture[str]) -> None:
    ok = body("C", [GOOD])
    assert score_script._handle(request(ok)) == ({"Results": ["no"]}, 200)
    assert score_script._handle(request(ok, method="GET"))[1] == 405
    assert score_script._handle(request(ok, content_type=None)) == (
        {"message": "Expects Content-Type to be application/json"},
        415,
    )
    assert score_script._handle(request(ok, content_type="text/plain"))[1] == 415
    assert score_script._handle(request(ok, content_type="Application/JSON; charset=utf-8"))[1] == 200
    big = b" " * 501
    assert score_script._handle(request(big)) == (
        {"message": "the body has 501 bytes; this deployment takes at most 500"},
        413,
    )
    assert score_script._handle(request(big, chunked=True)) == ({"message": "the body exceeds 500 bytes"}, 413)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["status"] for line in lines] == [200, 405, 415, 415, 200, 413, 413]
    assert lines[0] == {
        "event": "score",
        "request_id": "",
        "status": 200,
        "latency_ms": lines[0]["latency_ms"],
        "records": 1,
        "method": "predict",
        "model": "tiny",
        "model_version": "7",
        "generation": "C",
    }


def test_a_failing_request_is_not_logged_as_200(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tiny_model("C", kind="mystery")  # p_yes raises ValueError("unknown learner kind")
    monkeypatch.setattr(score_script, "_MODEL", broken)
    with pytest.raises(ValueError, match="unknown learner kind"):
        score_script._handle(request(body("C", [GOOD])))
    line = json.loads(capsys.readouterr().out)
    assert line["status"] == 500


# ----------------------------------------------------------------------------------- many records at once

MANY = score_script.SMALL_BATCH + 4  # past SMALL_BATCH: the set/numpy checks and the libraries' predict


def test_many_valid_records_come_back_as_columns_ready_to_score() -> None:
    rows = [{**GOOD, "duration": 100 + i, "age": 40.0} for i in range(MANY)]
    columns = check_columns(tiny_model(max_records=100), rows)
    assert list(columns) == [f.wire_name for f in FEATURES]
    assert isinstance(columns["duration"], np.ndarray) and columns["duration"].dtype == np.float64
    assert columns["duration"].tolist() == [100.0 + i for i in range(MANY)]
    assert list(columns["job"]) == [GOOD["job"]] * MANY


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("age", "forty", 'age="forty" must be an integer'),
        ("age", 41.5, "age=41.5 must be an integer"),
        ("age", 150, "age=150 is outside the range 17..120"),
        ("emp.var.rate", True, "emp.var.rate=true must be a number"),
        ("cons.price.idx", math.nan, "cons.price.idx=NaN must be a number"),
        ("cons.price.idx", -math.inf, "cons.price.idx=-Infinity must be a number"),
        ("emp.var.rate", 10**400, "emp.var.rate=1000"),
        ("job", "astronaut", 'job="astronaut" is not one of admin.'),
        ("month", 5, "month=5 must be a string"),
    ],
)
def test_a_problem_deep_in_a_large_batch_is_named(field: str, value: Any, expected: str) -> None:
    rows = [dict(GOOD) for _ in range(MANY)]
    rows[MANY - 2][field] = value
    error = input_error(check_columns, tiny_model(max_records=100), rows)
    assert error.message.startswith(f"record {MANY - 2}: {expected}"), error.message


def test_a_missing_or_renamed_field_in_a_large_batch_is_named() -> None:
    rows = [dict(GOOD) for _ in range(MANY)]
    del rows[3]["job"]
    rows[5]["Age"] = rows[5].pop("age")
    error = input_error(check_columns, tiny_model(max_records=100), rows)
    assert error.message == (
        "record 3: job is missing; record 5: Age is not an input feature of this model; record 5: age is missing"
    )


def test_a_large_batch_scores_like_the_same_records_one_by_one() -> None:
    model = tiny_model(max_records=100)
    rows = [{**GOOD, "duration": 40 * i} for i in range(MANY)]
    together = model.p_yes(check_columns(model, rows), len(rows))
    alone = np.concatenate([model.p_yes(check_columns(model, [r]), 1) for r in rows])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-15)
    assert together[0] < 0.5 < together[-1]


# -------------------------------------------------------------------- small batches through the learners

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
        monkeypatch.setattr(score_script, "CODEGEN_MAX_DEPTH", 0)
    return str(request.param)


def assert_small_batches_match_the_library(model: Model, records: list[dict[str, Any]], atol: float) -> None:
    assert model._small is not None, "this learner should have a small-batch path"
    library = model.p_yes(check_columns(model, records), len(records))  # past SMALL_BATCH: the library's predict
    singles = np.concatenate([model.p_yes(check_columns(model, [r]), 1) for r in records])
    step = score_script.SMALL_BATCH
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
    margin = score_script._compile_xgboost(trees, 0.125)
    assert margin is not None
    assert margin([9.0, 0.25]) == 0.125 + 0.25
    assert margin([9.0, 0.5]) == 0.125 - 0.75  # on the threshold: not below it, so right
    assert score_script._compile_xgboost(trees, float("inf")) is None  # repr would write a name
    nan_split = [([1, -1, -1], [2, -1, -1], [1, 0, 0], [float("nan"), 0.25, -0.75], [False, True, True])]
    assert score_script._compile_xgboost(nan_split, 0.0) is None
    monkeypatch.setattr(score_script, "CODEGEN_MAX_DEPTH", 0)
    assert score_script._compile_xgboost(trees, 0.125) is None  # too deep: the list walk scores it


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
    monkeypatch.setattr(score_script, "_member_p_yes", lambda member, z: calls.append(member["kind"]))
    few = np.concatenate([model.p_yes(check_columns(model, [r]), 1) for r in records])
    assert calls == []  # not one library call for a single record
    np.testing.assert_allclose(few, expected, rtol=0, atol=1e-15)


# ------------------------------------------------------------------------------------------- reading the body


def gunicorn_request(raw: bytes, *, chunked: bool = False) -> SimpleNamespace:
    """A request whose WSGI input is gunicorn's own body object over an in-memory socket stream."""
    body_module = pytest.importorskip("gunicorn.http.body")
    unreader_module = pytest.importorskip("gunicorn.http.unreader")
    pieces = [raw[i : i + 8192] for i in range(0, len(raw), 8192)]
    if chunked:
        wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        unreader = unreader_module.IterUnreader([wire[i : i + 8192] for i in range(0, len(wire), 8192)])
        reader = body_module.ChunkedReader(SimpleNamespace(trailers=None), unreader)
    else:
        reader = body_module.LengthReader(unreader_module.IterUnreader(pieces), len(raw))
    stream = body_module.Body(reader)
    return SimpleNamespace(environ={"wsgi.input": stream}, stream=stream)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_gunicorn_body_is_read_whole_by_its_reader(chunked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps({"Inputs": {"data": [GOOD] * 500}}).encode()
    request = gunicorn_request(raw, chunked=chunked)
    # Body.read copies 1 KB at a time: the script must go around it.
    monkeypatch.setattr(type(request.stream), "read", lambda self, size=None: pytest.fail("read through Body"))
    assert score_script._read_body(request, len(raw) + 1) == raw
    limited = gunicorn_request(raw, chunked=chunked)
    assert len(score_script._read_body(limited, 1001)) >= 1001  # enough to see that the limit is exceeded


def test_other_streams_are_read_as_they_are() -> None:
    raw = b'{"Inputs": {"data": []}}'
    assert score_script._read_body(SimpleNamespace(stream=io.BytesIO(raw)), 100) == raw
    assert score_script._read_body(SimpleNamespace(environ={"wsgi.input": None}, stream=io.BytesIO(raw)), 5) == raw[:5]


def test_the_log_line_is_the_json_of_its_fields(loaded: Model, capsys: pytest.CaptureFixture[str]) -> None:
    score_script._log(loaded, 400, 0.0, 3, "predict_proba")
    out = capsys.readouterr().out
    line = json.loads(out)
    assert out == json.dumps(line) + "\n"  # the same bytes json.dumps writes: one line, no surprises
    assert {k: v for k, v in line.items() if k != "latency_ms"} == {
        "event": "score",
        "request_id": "",
        "status": 400,
        "records": 3,
        "method": "predict_proba",
        "model": "tiny",
        "model_version": "7",
        "generation": "C",
    }


# ------------------------------------------------------------------------------------------ hostile bodies


def wrapped(generation: str, records: bytes) -> bytes:
    """A body of ``generation`` around records given as raw JSON text (json.dumps cannot write 1,000 levels)."""
    return b'{"Inputs": {"data": %s}}' % records if generation == "C" else b'{"data": %s}' % records


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def at_stack_depth(frames: int, call: Any, *args: Any) -> Any:
    """``call(*args)`` with ``frames`` more Python frames below it, as when the server's own stack is deep."""
    return call(*args) if frames == 0 else at_stack_depth(frames - 1, call, *args)


@pytest.fixture
def roomy(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Route requests to a model of each generation that takes 1 MB bodies."""

    def install(generation: str) -> Model:
        model = tiny_model(generation, max_body_bytes=1 << 20)
        monkeypatch.setattr(score_script, "_MODEL", model)
        return model

    return install


@pytest.mark.parametrize("generation", ["A", "B", "C"])
@pytest.mark.parametrize(
    ("raw", "words"),
    [
        # orjson refuses past 1,024 levels and Python's json overflowed its stack: a 500 with RecursionError.
        (deep(1100), "arrays and objects nest 1100 levels deep, more than this server reads"),
        (b'{"Inputs": %s, "data": %s}' % (deep(1100), deep(1100)), "arrays and objects nest 1101 levels deep"),
        # Under orjson's limit, but a NaN sends the body to Python's json, which overflows.
        (
            b'{"data": [NaN, %s], "Inputs": {"data": [NaN, %s]}}' % (deep(990), deep(990)),
            "arrays and objects nest 993 levels deep, more than this server reads",
        ),
    ],
)
def test_nesting_too_deep_to_read_is_a_400(generation: str, raw: bytes, words: str, roomy: Any) -> None:
    roomy(generation)
    answer, status = score_script._handle(request(raw))
    assert status == 400
    assert answer["message"].startswith(f"POST body could not be decoded as JSON: {words}"), answer["message"]


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_a_deep_value_orjson_reads_is_named_shortened(generation: str, roomy: Any) -> None:
    roomy(generation)
    record = b'{"age": %s}' % deep(1000)  # orjson reads it; showing it with json.dumps overflowed
    answer, status = score_script._handle(request(wrapped(generation, b"[%s]" % record)))
    assert status == 400
    assert answer["message"].startswith("record 0: age=" + "[" * 60 + "... must be an integer; record 0: job is")
    answer, status = score_script._handle(request(wrapped(generation, b"[1, %s]" % deep(1000))))
    assert status == 400
    assert answer["message"] == "record 0: must be an object of feature: value, not 1; " + (
        "record 1: must be an object of feature: value, not " + "[" * 80 + "..."
    )


@pytest.mark.parametrize("frames", [0, 300, 600])
def test_a_deep_stack_below_the_script_still_gets_a_400(frames: int) -> None:
    # The server calls run() with its own frames below: Python's json overflows sooner there.
    model = tiny_model("C", max_body_bytes=1 << 20)
    raw = wrapped("C", b'[{"age": NaN, "job": %s}]' % deep(900))
    error = at_stack_depth(frames, input_error, score_body, model, raw)
    assert error.status == 400
    # Without frames below, Python's json reads 900 levels and the checks name the value; with them it cannot.
    assert error.message.startswith("record 0: age=NaN must be an integer") or error.message == (
        "POST body could not be decoded as JSON: arrays and objects nest 904 levels deep, more than this server reads"
    )


@pytest.mark.parametrize("generation", ["A", "B", "C"])
@pytest.mark.parametrize(
    ("number", "shown"),
    [
        (b"1" + b"0" * 5000, "1" + "0" * 59 + "..."),  # past int()'s 4,300 digits: its advice was the message
        (b"-" + b"9" * 4400, "-" + "9" * 59 + "..."),
        (b"1e999", "1e999"),  # beyond float range: shown as written, not as Infinity
        (b"-1E+400", "-1E+400"),
        (b"1" * 400 + b".5", "1" * 60 + "..."),
    ],
)
def test_a_number_python_cannot_hold_is_named_as_written(generation: str, number: bytes, shown: str) -> None:
    model = tiny_model(generation, max_body_bytes=1 << 20)
    record = json.dumps({**GOOD, "age": "?"}).encode().replace(b'"?"', number)
    error = input_error(score_body, model, wrapped(generation, b"[%s]" % record))
    assert (error.status, error.message) == (400, f"record 0: age={shown} is outside the range 17..120")
    category = json.dumps({**GOOD, "job": "?"}).encode().replace(b'"?"', number)
    error = input_error(score_body, model, wrapped(generation, b"[%s]" % category))
    assert (error.status, error.message) == (400, f"record 0: job={shown} must be a string")


def test_huge_numbers_elsewhere_in_the_body() -> None:
    huge = b"1" + b"0" * 5000
    error = input_error(parse_body, b'{"data": %s}' % huge, "A")
    assert error.message == "data must be a list of records, not number"
    error = input_error(parse_body, b'{"data": [{}], "method": %s}' % huge, "B")
    assert error.message == "method=1" + "0" * 59 + "... is not one of predict, predict_proba"
    error = input_error(check_columns, tiny_model(), [json.loads(b"[%s]" % b"7" * 1)])
    assert error.message == "record 0: must be an object of feature: value, not [7]"


def test_long_names_strings_and_methods_are_shortened() -> None:
    model = tiny_model("B", max_body_bytes=1 << 22)
    long_key = json.dumps([{**GOOD, "k" * 100_000: 1}]).encode()
    error = input_error(score_body, model, b'{"data": %s}' % long_key)
    assert error.message == "record 0: " + "k" * 60 + "... is not an input feature of this model"
    long_value = json.dumps([{**GOOD, "job": "x" * 100_000}]).encode()
    error = input_error(score_body, model, b'{"data": %s}' % long_value)
    assert error.message.startswith('record 0: job="' + "x" * 59 + "... is not one of admin.")
    long_method = json.dumps({"data": [GOOD], "method": "p" * 100_000}).encode()
    error = input_error(score_body, model, long_method)
    assert error.message == "method='" + "p" * 59 + "... is not one of predict, predict_proba"
    deep_method = b'{"data": [{}], "method": %s}' % deep(1000)
    assert input_error(score_body, model, deep_method).message.startswith("method=" + "[" * 60 + "... is not one")


def test_a_record_with_many_unknown_keys_lists_five() -> None:
    record = {**GOOD, **{f"extra{i}": i for i in range(50_000)}}
    error = input_error(check_columns, tiny_model(), [record])
    assert error.message.count("is not an input feature") == 5
    assert error.message.startswith("record 0: extra0 is not an input feature of this model; record 0: extra1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": [1, {"b": None}], "c": "d"}, '{"a": [1, {"b": null}], "c": "d"}'),
        ([], "[]"),
        ({}, "{}"),
        ([[[]], {}], "[[[]], {}]"),
        (math.nan, "NaN"),
        ("é\ud800", '"\\u00e9\\ud800"'),  # a lone surrogate json accepts: escaped, never an encoding error
    ],
)
def test_shown_writes_what_json_dumps_writes(value: Any, expected: str) -> None:
    assert score_script._shown(value) == expected == json.dumps(value)


def test_shown_stops_at_its_limit() -> None:
    assert score_script._shown(list(range(10**6)), limit=20) == "[0, 1, 2, 3, 4, 5, 6..."
    assert score_script._shown({"k" * 10**6: 1}, limit=10) == '{"kkkkkkkk...'
    assert score_script._shown(["a"] * 3, as_python=True) == "['a', 'a', 'a']"


# ------------------------------------------------------------------------ generation D: a pandas split frame

COLUMNS = list(GOOD)


def frame(rows: list[dict[str, Any]], columns: list[str] = COLUMNS, **extra: Any) -> dict[str, Any]:
    """A split frame of ``rows`` (records) in ``columns`` order; ``extra`` adds or replaces its keys."""
    return {
        "columns": list(columns),  # a copy: a test may change it
        "index": list(range(len(rows))),
        "data": [[r[c] for c in columns] for r in rows],
        **extra,
    }


def frame_body(input_data: Any, params: Any = None, **top: Any) -> bytes:
    document: dict[str, Any] = {"input_data": input_data, **top}
    if params is not None:
        document["params"] = params
    return json.dumps(document).encode()


def test_d_reads_a_split_frame_in_any_column_order_and_ignores_extra_columns() -> None:
    model = tiny_model("D")
    shuffled = [*COLUMNS[::-1], "extra_col"]
    rows = [{**GOOD, "extra_col": "ignored"}, {**LONG_CALL, "extra_col": 1}]
    names, data, method = parse_frame(frame_body(frame(rows, shuffled)))
    assert (names, method) == (shuffled, "predict")
    assert data == [[r[c] for c in shuffled] for r in rows]
    assert score_script.check_frame(model, names, data) == {n: [GOOD[n], LONG_CALL[n]] for n in COLUMNS}


def test_d_answers_a_bare_array_of_labels_or_probability_records() -> None:
    model = tiny_model("D")
    rows = [GOOD, LONG_CALL]
    labels, count = score_body(model, frame_body(frame(rows)))
    assert (labels, count) == (["no", "yes"], 2)
    # index is optional and other top-level keys are ignored, as Microsoft's script does
    no_index = {k: v for k, v in frame(rows).items() if k != "index"}
    assert score_body(model, frame_body(no_index, other={"x": 1}))[0] == ["no", "yes"]
    proba, _ = score_body(model, frame_body(frame(rows), {"predict_method": "predict_proba"}))
    p = [1 / (1 + math.exp(-(0.01 * r["duration"] - 6.0))) for r in rows]
    assert proba == [{"no": pytest.approx(1 - q), "yes": pytest.approx(q)} for q in p]
    assert [list(item) for item in proba] == [["no", "yes"], ["no", "yes"]]  # the model's DataFrame columns
    # Python's json spacing, as the inference server writes any run() result
    assert json.dumps(labels) == '["no", "yes"]'


@pytest.mark.parametrize("params", [None, {}, {"predict_method": "predict"}, {"predict_method": "predict", "x": 1}])
def test_d_predict_is_the_default(params: Any) -> None:
    document: dict[str, Any] = {"input_data": frame([GOOD])}
    if params is not None or params == {}:
        document["params"] = params
    assert parse_frame(json.dumps(document).encode())[2] == "predict"
    assert parse_frame(b'{"input_data": ' + json.dumps(frame([GOOD])).encode() + b', "params": null}')[2] == "predict"


WRONG_AGE = [{**GOOD, "age": "x"}]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # the server's own words where Microsoft's script has them
        (b'{"data": [[1]]}', "A value is not provided for the 'input_data' parameter."),
        (b'{"Inputs": {"data": []}}', "A value is not provided for the 'input_data' parameter."),
        (b"[1, 2]", "POST body should be a JSON dictionary."),
        (
            b"{bad",
            "POST body could not be decoded as JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        # not a split frame
        (
            frame_body([GOOD]),
            'input_data must be a pandas split frame {"columns": [...], "index": [...], '
            '"data": [[...], ...]}, not an array',
        ),
        (
            frame_body(None),
            'input_data must be a pandas split frame {"columns": [...], "index": [...], '
            '"data": [[...], ...]}, not null',
        ),
        (
            frame_body("x"),
            'input_data must be a pandas split frame {"columns": [...], "index": [...], '
            '"data": [[...], ...]}, not a string',
        ),
        (
            frame_body({"data": [[1]]}),
            "input_data lacks 'columns': send a pandas split frame "
            '{"columns": [...], "index": [...], "data": [[...], ...]}',
        ),
        (
            frame_body({"columns": COLUMNS}),
            "input_data lacks 'data': send a pandas split frame "
            '{"columns": [...], "index": [...], "data": [[...], ...]}',
        ),
        (
            frame_body({**frame([GOOD]), "columns": "age"}),
            "input_data.columns must be an array of column names, not a string",
        ),
        (frame_body(frame([GOOD], data={"age": 1})), "input_data.data must be an array of rows, not an object"),
        (
            frame_body({"columns": [*COLUMNS[:2], 7], "data": [[1, 2, 3]]}),
            "input_data.columns[2]=7 must be a string (a column name)",
        ),
        (
            frame_body({"columns": ["age", "job", "age"], "data": [[1, 2, 3]]}),
            'input_data.columns names "age" more than once',
        ),
        (frame_body(frame([GOOD], data=[])), "input_data.data is empty: send at least one row"),
        (
            frame_body(frame([GOOD], data=[[*GOOD.values()][:19]])),
            "input_data.data[0] holds 19 values; input_data.columns names 20",
        ),
        (
            frame_body(frame([GOOD, GOOD], data=[[*GOOD.values()], GOOD])),
            'input_data.data[1] must be an array of 20 values (one per column), not {"age": 57, "job": "technician", '
            '"marital": "married", "educ...',
        ),
        (frame_body(frame([GOOD], index=[0, 1])), "input_data.index holds 2 labels for 1 row in input_data.data"),
        (frame_body(frame([GOOD], index={"0": 0})), "input_data.index must be an array of row labels, not an object"),
        # params
        (
            frame_body(frame([GOOD]), "x"),
            'params must be an object such as {"predict_method": "predict_proba"}, not "x"',
        ),
        (
            frame_body(frame([GOOD]), {"predict_method": "predict_log_proba"}),
            'params.predict_method="predict_log_proba" is not one of predict, predict_proba',
        ),
        (
            frame_body(frame([GOOD]), {"predict_method": 5}),
            "params.predict_method=5 is not one of predict, predict_proba",
        ),
    ],
)
def test_d_body_mistakes_are_400s_naming_field_and_value(raw: bytes, message: str) -> None:
    error = input_error(score_body, tiny_model("D"), raw)
    assert (error.status, error.message) == (400, message)


@pytest.mark.parametrize("rows", [1, 40], ids=["few", "many"])  # the small-batch and the transposed paths
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("age", "x", 'age="x" must be an integer'),
        ("age", "57", 'age="57" must be an integer'),  # Microsoft's script casts it; the contract says integer
        ("age", 57.5, "age=57.5 must be an integer"),  # Microsoft's script truncates it to 57
        ("age", None, "age=null must be an integer"),
        ("age", 12, "age=12 is outside the range 17..120"),
        (
            "job",
            "astronaut",
            'job="astronaut" is not one of admin., blue-collar, entrepreneur, housemaid, '
            "management, retired, self-employed, services, student, technician, unemployed, unknown",
        ),
        ("job", 7, "job=7 must be a string"),
        ("euribor3m", True, "euribor3m=true must be a number"),
    ],
)
def test_d_value_mistakes_name_row_field_and_value(rows: int, field: str, value: Any, expected: str) -> None:
    model = tiny_model("D", max_records=100)
    records = [GOOD] * (rows - 1) + [{**GOOD, field: value}]
    error = input_error(score_body, model, frame_body(frame(records)))
    assert (error.status, error.message) == (400, f"input_data.data[{rows - 1}]: {expected}")


def test_d_a_missing_column_is_named() -> None:
    without = [c for c in COLUMNS if c not in ("age", "nr.employed")]
    error = input_error(score_body, tiny_model("D"), frame_body(frame([GOOD], without)))
    assert error.message == "input_data.columns lacks age, nr.employed: the model needs every feature it was trained on"


def test_d_too_many_rows() -> None:
    error = input_error(score_body, tiny_model("D", max_records=3), frame_body(frame([GOOD] * 4)))
    assert error.message == "input_data.data holds 4 rows; this deployment takes at most 3"


def test_d_many_rows_score_like_the_same_rows_one_by_one() -> None:
    model = tiny_model("D", max_records=100)
    rows = [{**GOOD, "duration": d} for d in range(0, 1200, 30)]
    assert len(rows) > score_script.SMALL_BATCH
    body_many = frame_body(frame(rows), {"predict_method": "predict_proba"})
    one_by_one = [score_body(model, frame_body(frame([r]), {"predict_method": "predict_proba"}))[0][0] for r in rows]
    assert score_body(model, body_many)[0] == one_by_one


def test_d_route_and_log_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(score_script, "_MODEL", tiny_model("D"))
    answer = score_script._handle(request(frame_body(frame([GOOD, LONG_CALL]), {"predict_method": "predict_proba"})))
    assert answer[1] == 200 and [list(item) for item in answer[0]] == [["no", "yes"]] * 2
    assert score_script._handle(request(frame_body([GOOD])))[1] == 400
    wrong_age = frame_body(frame([{**GOOD, "age": "x"}]), {"predict_method": "predict_proba"})
    assert score_script._handle(request(wrong_age))[1] == 400
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["status"], line["records"], line["method"], line["generation"]) for line in lines] == [
        (200, 2, "predict_proba", "D"),
        (400, 0, "", "D"),  # refused before params were read
        (400, 0, "predict_proba", "D"),  # the body was read; its records were refused
    ]


def test_d_uses_the_libraries_where_the_tree_walk_is_not_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """D promises Microsoft's bytes: probabilities come from the exact path unless the walk is exact."""
    model = tiny_model("D")  # a linear learner: its Python path may differ from scikit-learn by an ulp
    assert not model.small_is_exact
    calls: list[bool] = []
    real = Model.p_yes

    def spy(self: Model, columns: Any, n: int, *, exact: bool = False) -> Any:
        calls.append(exact)
        return real(self, columns, n, exact=exact)

    monkeypatch.setattr(Model, "p_yes", spy)
    score_body(model, frame_body(frame([GOOD]), {"predict_method": "predict_proba"}))
    score_body(model, frame_body(frame([GOOD])))  # P(yes) far from 0.5: the fast walk's label stands
    score_body(model, frame_body(frame([{**GOOD, "duration": 600}])))  # exactly 0.5: scored again, exactly
    assert calls == [True, False, False, True]
    calls.clear()
    score_body(tiny_model("C"), body("C", [GOOD], "predict_proba"))  # A, B and C keep their paths
    assert calls == [False]


def test_d_hostile_frames_get_a_400_never_a_crash() -> None:
    """Seeded mutations of a good D body: each is scored or refused with a 400 that says something."""
    rng = random.Random(4)
    model = tiny_model("D", max_records=100)
    odd: list[Any] = [None, True, 0, -1, 1e308, "", "x", [], {}, [1, [2]], {"a": {}}, "age", 2**70, float("nan")]
    outcomes = {"scored": 0, "refused": 0}
    for _ in range(600):
        document: Any = {"input_data": frame([GOOD, LONG_CALL] * rng.randint(1, 12)), "params": {}}
        for _ in range(rng.randint(1, 3)):
            target = rng.choice(["top", "frame", "columns", "row", "cell", "index", "params"])
            value = copy.deepcopy(rng.choice(odd))  # a fresh one: the body may be changed again
            data = document["input_data"].get("data") if isinstance(document.get("input_data"), dict) else None
            if target == "top":
                document[rng.choice(["input_data", "params", "extra"])] = value
            elif target == "frame" and isinstance(document.get("input_data"), dict):
                document["input_data"][rng.choice(["columns", "data", "index", "other"])] = value
            elif target == "columns" and isinstance(document.get("input_data"), dict):
                columns = document["input_data"].get("columns")
                if isinstance(columns, list) and columns:
                    columns[rng.randrange(len(columns))] = value
            elif target in ("row", "cell") and isinstance(data, list) and data:
                i = rng.randrange(len(data))
                if target == "row":
                    data[i] = value
                elif isinstance(data[i], list) and data[i]:
                    data[i][rng.randrange(len(data[i]))] = value
            elif target == "index" and isinstance(document.get("input_data"), dict):
                document["input_data"]["index"] = value
            elif target == "params":
                document["params"] = rng.choice([value, {"predict_method": value}])
        raw = json.dumps(document).encode()
        try:
            result, count = score_body(model, raw)
        except InputError as error:
            assert error.status == 400 and error.message, raw[:300]
            outcomes["refused"] += 1
        else:
            assert isinstance(result, list) and len(result) == count >= 1
            outcomes["scored"] += 1
    assert outcomes["scored"] > 10 and outcomes["refused"] > 300, outcomes  # both kinds were tried


def test_d_a_repeated_name_among_very_many_columns_is_found_in_one_pass() -> None:
    names = [f"c{i}" for i in range(200_000)] + ["c7"]
    raw = json.dumps({"input_data": {"columns": names, "data": [[0] * len(names)]}}).encode()
    started = time.perf_counter()
    error = input_error(parse_frame, raw)
    assert error.message == 'input_data.columns names "c7" more than once'
    assert time.perf_counter() - started < 10  # one pass takes milliseconds; the quadratic search took minutes
