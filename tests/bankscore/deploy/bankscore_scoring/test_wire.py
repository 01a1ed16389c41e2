"""Request bodies: the records and method of generations A, B and C, D's split frame, and bodies that break readers."""

from __future__ import annotations

import copy
import json
import random
import time
from typing import Any

import pytest
from bankscore_tests_scoring_helpers import (
    COLUMNS,
    GOOD,
    LONG_CALL,
    at_stack_depth,
    body,
    deep,
    frame,
    frame_body,
    input_error,
    request,
    tiny_model,
    wrapped,
)

from bankscore.deploy.bankscore_scoring import route
from bankscore.deploy.bankscore_scoring.checks import check_columns, check_frame
from bankscore.deploy.bankscore_scoring.dispatch import score_body
from bankscore.deploy.bankscore_scoring.facts import InputError
from bankscore.deploy.bankscore_scoring.wire import parse_body, parse_frame


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
    answer, status = route._handle(request(raw))
    assert status == 400
    assert answer["message"].startswith(f"POST body could not be decoded as JSON: {words}"), answer["message"]


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


def test_d_reads_a_split_frame_in_any_column_order_and_ignores_extra_columns() -> None:
    model = tiny_model("D")
    shuffled = [*COLUMNS[::-1], "extra_col"]
    rows = [{**GOOD, "extra_col": "ignored"}, {**LONG_CALL, "extra_col": 1}]
    names, data, method = parse_frame(frame_body(frame(rows, shuffled)))
    assert (names, method) == (shuffled, "predict")
    assert data == [[r[c] for c in shuffled] for r in rows]
    assert check_frame(model, names, data) == {n: [GOOD[n], LONG_CALL[n]] for n in COLUMNS}


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
