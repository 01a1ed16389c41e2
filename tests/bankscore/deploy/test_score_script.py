"""The deployment's score.py as plain functions: body parsing, input checks and rendering, with a tiny model.

The model is a single logistic learner on ``duration`` alone (P(yes) = 0.5 at 600 s), built in memory in the
artifact and contract shapes that ``bankscore deploy`` writes, so every expected answer is known exactly.
"""

from __future__ import annotations

import io
import json
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bankscore.deploy import score_script
from bankscore.deploy.score_script import InputError, Model, check_columns, parse_body, render_result, score_body
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
        # The real server's own words (probe-results.json), so callers see the same text as on Azure.
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
        # Real Azure answers 500 to an empty GlobalParameters (CONTRACT section 0); bankscore says why, with 400.
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
