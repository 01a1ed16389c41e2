"""What a 400 says: values shown short, as the caller wrote them, and at most five problems."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from bankscore_tests_scoring_helpers import (
    GOOD,
    deep,
    input_error,
    request,
    tiny_model,
    wrapped,
)

from bankscore.deploy.bankscore_scoring import messages, route
from bankscore.deploy.bankscore_scoring.checks import check_columns
from bankscore.deploy.bankscore_scoring.dispatch import score_body


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_a_deep_value_orjson_reads_is_named_shortened(generation: str, roomy: Any) -> None:
    roomy(generation)
    record = b'{"age": %s}' % deep(1000)  # orjson reads it; showing it with json.dumps overflowed
    answer, status = route._handle(request(wrapped(generation, b"[%s]" % record)))
    assert status == 400
    assert answer["message"].startswith("record 0: age=" + "[" * 60 + "... must be an integer; record 0: job is")
    answer, status = route._handle(request(wrapped(generation, b"[1, %s]" % deep(1000))))
    assert status == 400
    assert answer["message"] == "record 0: must be an object of feature: value, not 1; " + (
        "record 1: must be an object of feature: value, not " + "[" * 80 + "..."
    )


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
    assert messages.shown(value) == expected == json.dumps(value)


def test_shown_stops_at_its_limit() -> None:
    assert messages.shown(list(range(10**6)), limit=20) == "[0, 1, 2, 3, 4, 5, 6..."
    assert messages.shown({"k" * 10**6: 1}, limit=10) == '{"kkkkkkkk...'
    assert messages.shown(["a"] * 3, as_python=True) == "['a', 'a', 'a']"
