"""Records and frames checked against the contract: every problem named by record (or row), field and value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from bankscore_tests_scoring_helpers import (
    COLUMNS,
    GOOD,
    LONG_CALL,
    MANY,
    frame,
    frame_body,
    input_error,
    tiny_model,
)

from bankscore.deploy.bankscore_scoring.checks import check_columns
from bankscore.deploy.bankscore_scoring.dispatch import score_body
from bankscore.features import FEATURES


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
