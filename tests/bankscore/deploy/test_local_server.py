"""The real inference server (azmlinfsrv 1.5.1) serving a trained model, generation by generation, over real HTTP.

Expected bytes come from what the real server answered when probed with a dummy model (copied below,
verbatim; set BANKSCORE_PROBE_RESULTS to a file of those answers to check the copy) and from the registered
model itself.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankscore.features import FEATURES

pytestmark = pytest.mark.slow

GENERATIONS = ["A", "B", "C"]
NAMES = {"A": "gen-a", "B": "gen-b", "C": "gen-c"}
PROBE_KEYS = {"A": "genA-data", "B": "genB-data-method", "C": "genC-Inputs-GlobalParameters"}

# Verbatim: what the real server answered (its dummy model said "yes" then "no").
PROBE_PREDICT = {
    "A": b'"{\\"result\\": [\\"yes\\", \\"no\\"]}"',
    "B": b'"{\\"result\\": [\\"yes\\", \\"no\\"]}"',
    "C": b'{"Results": ["yes", "no"]}',
}
PROBE_PROBA = {
    "B": b'"{\\"result\\": [[0.3, 0.7], [0.9, 0.1]]}"',
    "C": b'{"Results": [[0.3, 0.7], [0.9, 0.1]]}',
}
# Real Azure bodies for two "no" records, as published endpoints answered them: 32 bytes for generations A
# and B (a JSON string), 25 bytes for C.
REAL_NO_NO = {
    "A": b'"{\\"result\\": [\\"no\\", \\"no\\"]}"',
    "B": b'"{\\"result\\": [\\"no\\", \\"no\\"]}"',
    "C": b'{"Results": ["no", "no"]}',
}
PROBE_NO_CONTENT_TYPE = b'{"message": "Expects Content-Type to be application/json"}'
PROBE_BAD_JSON = (
    b'{"message": "POST body could not be decoded as JSON: Expecting property name enclosed in double quotes: '
    b'line 1 column 2 (char 1)"}'
)
PROBE_LIST_BODY = b'{"message": "POST body should be a JSON dictionary."}'
PROBE_MISSING_PARAM = {
    "A": b'{"message": "A value is not provided for the \'data\' parameter."}',
    "B": b'{"message": "A value is not provided for the \'data\' parameter."}',
    "C": b'{"message": "A value is not provided for the \'Inputs\' parameter."}',
}
PROBE_SWAGGER_4 = b'{"message": "Swagger version [4] is not valid. Supported versions: [2, 3, 3.1]."}'
PROBE_HEALTH_CONTENT_TYPE = "text/html; charset=utf-8"
EXEC_MS = re.compile(r"^\d+\.\d{3}$")
JSON_HEADERS = {"Content-Type": "application/json"}


def encode(generation: str, result: Any) -> bytes:
    """The server's encoding: ``json.dumps`` of run()'s value; A/B's run() returns ``json.dumps`` text itself."""
    if generation == "C":
        return json.dumps({"Results": result}).encode()
    return json.dumps(json.dumps({"result": result})).encode()


def decode(generation: str, content: bytes) -> Any:
    if generation == "C":
        return json.loads(content)["Results"]
    text = json.loads(content)
    assert isinstance(text, str), "generation A/B must answer a JSON string"
    return json.loads(text)["result"]


def wrap(generation: str, records: Any, method: str | None = None) -> dict[str, Any]:
    if generation == "C":
        document: dict[str, Any] = {"Inputs": {"data": records}}
        if method is not None:
            document["GlobalParameters"] = {"method": method}
        return document
    document = {"data": records}
    if method is not None:
        document["method"] = method
    return document


def post(url: str, document: Any, **headers: str) -> httpx.Response:
    """POST exactly ``json.dumps(document)`` (NaN, Infinity and huge integers included)."""
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    return httpx.post(url + "/score", content=content, headers={**JSON_HEADERS, **headers}, timeout=30)


@pytest.fixture(scope="module")
def servers(deployments: dict[str, Any]) -> dict[str, Any]:
    return {g: deployments[NAMES[g]] for g in GENERATIONS}


def assert_error(response: httpx.Response, status: int, *fragments: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-ms-run-function-failed"] == "False"
    document = response.json()
    assert list(document) == ["message"] and isinstance(document["message"], str)
    for fragment in fragments:
        assert fragment in document["message"], document["message"]
    return str(document["message"])


# ------------------------------------------------------------------------------------------ the probe itself


@pytest.mark.skipif(not os.environ.get("BANKSCORE_PROBE_RESULTS"), reason="BANKSCORE_PROBE_RESULTS not set")
def test_the_copied_probe_answers_match_the_file() -> None:
    probe = json.loads(Path(os.environ["BANKSCORE_PROBE_RESULTS"]).read_text())
    for generation in GENERATIONS:
        cases = probe[PROBE_KEYS[generation]]
        predict = cases["score_predict"]
        assert predict["body"].encode() == PROBE_PREDICT[generation]
        assert int(predict["headers"]["Content-Length"]) == len(PROBE_PREDICT[generation])
        assert predict["headers"]["Content-Type"] == "application/json"
        if generation in PROBE_PROBA:
            assert cases["score_proba"]["body"].encode() == PROBE_PROBA[generation]
        assert cases["score_no_content_type"]["body"].encode() == PROBE_NO_CONTENT_TYPE
        assert cases["score_bad_json"]["body"].encode() == PROBE_BAD_JSON
        assert cases["score_list_body"]["body"].encode() == PROBE_LIST_BODY
        assert cases["score_missing_param"]["body"].encode() == PROBE_MISSING_PARAM[generation]
        assert cases["health"]["headers"]["Content-Type"] == PROBE_HEALTH_CONTENT_TYPE
        assert cases["score_options"] == {"status": 200, "body": ""}
    assert probe["extra_cases"]["swagger_version_param"]["4"] == [404, PROBE_SWAGGER_4.decode()]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_encoding_rule_reproduces_the_probe(generation: str) -> None:
    assert encode(generation, ["yes", "no"]) == PROBE_PREDICT[generation]
    assert encode(generation, ["no", "no"]) == REAL_NO_NO[generation]
    assert len(REAL_NO_NO[generation]) == (25 if generation == "C" else 32)
    if generation in PROBE_PROBA:
        assert encode(generation, [[0.3, 0.7], [0.9, 0.1]]) == PROBE_PROBA[generation]


# ------------------------------------------------------------------------------------ 200 bodies, byte by byte


@pytest.mark.parametrize("generation", GENERATIONS)
def test_predict_bytes_are_the_servers_encoding_of_the_models_labels(
    generation: str, servers: dict[str, Any], trained: Any
) -> None:
    expected = encode(generation, trained.labels)  # the registered model's own predict() of the two records
    if trained.labels == ["yes", "no"]:
        assert expected == PROBE_PREDICT[generation]
    if trained.labels == ["no", "no"]:
        assert expected == REAL_NO_NO[generation]
    server = servers[generation]
    response = post(server.url, wrap(generation, trained.records), **{"X-Request-Id": f"bytes-{generation}"})
    assert response.status_code == 200, response.text
    assert response.content == expected
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(expected)
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert EXEC_MS.match(response.headers["x-ms-run-fn-exec-ms"])
    assert response.headers["x-request-id"] == f"bytes-{generation}"
    assert response.headers["x-ms-request-id"] == f"bytes-{generation}"


@pytest.mark.parametrize("generation", ["B", "C"])
def test_an_explicit_predict_is_the_same_as_none(generation: str, servers: dict[str, Any], trained: Any) -> None:
    response = post(servers[generation].url, wrap(generation, trained.records, "predict"))
    assert response.content == encode(generation, trained.labels)


@pytest.mark.parametrize("generation", ["B", "C"])
def test_predict_proba_matches_the_model(generation: str, servers: dict[str, Any], trained: Any) -> None:
    response = post(servers[generation].url, wrap(generation, trained.records, "predict_proba"))
    assert response.status_code == 200, response.text
    pairs = decode(generation, response.content)
    assert response.content == encode(generation, pairs)  # the probe's spacing and quoting, floats as repr
    assert len(pairs) == 2 and all(len(pair) == 2 for pair in pairs)
    for got, expected in zip(pairs, trained.proba, strict=True):
        assert got == pytest.approx(expected, abs=1e-9)  # [P(no), P(yes)]
        assert sum(got) == pytest.approx(1.0, abs=1e-12)
    assert pairs[0][1] > pairs[1][1]
    assert EXEC_MS.match(response.headers["x-ms-run-fn-exec-ms"])


def test_generation_a_has_no_method(servers: dict[str, Any], trained: Any) -> None:
    response = post(servers["A"].url, wrap("A", trained.records, "predict_proba"))
    assert response.content == encode("A", trained.labels)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_allowed_category_scores(generation: str, servers: dict[str, Any], trained: Any) -> None:
    # Categories the training sample never held (month "dec", education "illiterate") must still score.
    rows = [
        {**trained.no_record, f.wire_name: category}
        for f in FEATURES
        for category in f.categories
        if category != trained.no_record[f.wire_name]
    ]
    response = post(servers[generation].url, wrap(generation, rows))
    assert response.status_code == 200, response.text
    assert len(decode(generation, response.content)) == len(rows)


# ----------------------------------------------------------------------------------- health, specs, options


@pytest.mark.parametrize("generation", GENERATIONS)
def test_health(generation: str, servers: dict[str, Any]) -> None:
    response = httpx.get(servers[generation].url + "/", timeout=10)
    assert (response.status_code, response.text) == (200, "Healthy")
    assert response.headers["content-type"] == PROBE_HEALTH_CONTENT_TYPE
    missing = httpx.get(servers[generation].url + "/health", timeout=10)
    assert missing.status_code == 404  # as on Azure: there is no /health


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_served_specs_are_ours(generation: str, servers: dict[str, Any], trained: Any) -> None:
    server = servers[generation]
    swagger2 = httpx.get(server.url + "/swagger.json", timeout=10)
    openapi3 = httpx.get(server.url + "/swagger.json", params={"version": "3"}, timeout=10)
    for response, filename, version_key, version in (
        (swagger2, "swagger2.json", "swagger", "2.0"),
        (openapi3, "swagger3.json", "openapi", "3.0.3"),
    ):
        assert response.status_code == 200
        document = response.json()
        assert document == json.loads((server.folder / filename).read_text())
        assert document[version_key] == version
        assert document["x-bankscore"]["generation"] == generation
        assert document["x-bankscore"]["model_version"] == trained.model_version
        assert document["info"]["title"] == server.name
    invalid = httpx.get(server.url + "/swagger.json", params={"version": "4"}, timeout=10)
    assert (invalid.status_code, invalid.content) == (404, PROBE_SWAGGER_4)


def test_options_is_an_empty_200(servers: dict[str, Any]) -> None:
    response = httpx.options(servers["C"].url + "/score", timeout=10)
    assert (response.status_code, response.content) == (200, b"")


# ---------------------------------------------------------------------------------------------- input checks

RECORD_CASES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("wrong type", {"age": "forty"}, ('record 1: age="forty" must be an integer',)),
    ("missing field", {"job": ...}, ("record 1: job is missing",)),
    ("unknown field", {"salary": 1000}, ("record 1: salary is not an input feature of this model",)),
    ("unknown category", {"job": "astronaut"}, ('record 1: job="astronaut" is not one of admin., blue-collar',)),
    ("out of range", {"age": 150}, ("record 1: age=150 is outside the range 17..120",)),
    ("boolean for a number", {"emp.var.rate": True}, ("record 1: emp.var.rate=true must be a number",)),
    ("boolean for an integer", {"campaign": False}, ("record 1: campaign=false must be an integer",)),
    ("fraction for an integer", {"age": 41.5}, ("record 1: age=41.5 must be an integer",)),
    ("null", {"marital": None}, ("record 1: marital=null must be a string",)),
    ("NaN", {"cons.price.idx": float("nan")}, ("record 1: cons.price.idx=NaN must be a number",)),
    ("Infinity", {"euribor3m": float("inf")}, ("record 1: euribor3m=Infinity must be a number",)),
    ("number as text", {"pdays": "999"}, ('record 1: pdays="999" must be an integer',)),
]


def changed(record: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = {**record, **change}
    return {k: v for k, v in out.items() if v is not ...}


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize(("case", "change", "fragments"), RECORD_CASES, ids=[c[0] for c in RECORD_CASES])
def test_record_problems_are_400_naming_record_field_and_value(
    case: str,
    change: dict[str, Any],
    fragments: tuple[str, ...],
    generation: str,
    servers: dict[str, Any],
    trained: Any,
) -> None:
    del case
    rows = [trained.yes_record, changed(trained.no_record, change)]
    assert_error(post(servers[generation].url, wrap(generation, rows)), 400, *fragments)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_record_that_is_not_an_object(generation: str, servers: dict[str, Any], trained: Any) -> None:
    response = post(servers[generation].url, wrap(generation, [trained.yes_record, "age=41"]))
    assert_error(response, 400, 'record 1: must be an object of feature: value, not "age=41"')


@pytest.mark.parametrize("field", ["age", "nr.employed"])
def test_an_integer_beyond_float_range_is_a_400(field: str, servers: dict[str, Any], trained: Any) -> None:
    rows = [trained.yes_record, {**trained.no_record, field: 10**400}]
    assert_error(post(servers["C"].url, wrap("C", rows)), 400, f"record 1: {field}=1000")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_empty_data(generation: str, servers: dict[str, Any]) -> None:
    assert_error(post(servers[generation].url, wrap(generation, [])), 400, "data is empty")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_data_that_is_not_a_list(generation: str, servers: dict[str, Any], trained: Any) -> None:
    response = post(servers[generation].url, wrap(generation, trained.yes_record))
    assert_error(response, 400, "data must be a list of records, not dict")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_too_many_records(generation: str, servers: dict[str, Any]) -> None:
    limit = servers[generation].contract["max_records"]
    response = post(servers[generation].url, wrap(generation, [{}] * (limit + 1)))
    assert_error(response, 400, f"data holds {limit + 1} records; this deployment takes at most {limit}")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_malformed_json_and_a_list_body_get_the_servers_exact_answers(generation: str, servers: dict[str, Any]) -> None:
    bad = post(servers[generation].url, b"{bad")
    assert (bad.status_code, bad.content) == (400, PROBE_BAD_JSON)
    listed = post(servers[generation].url, b'[{"age": 41}]')
    assert (listed.status_code, listed.content) == (400, PROBE_LIST_BODY)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_missing_top_key_gets_the_servers_exact_answer(
    generation: str, servers: dict[str, Any], trained: Any
) -> None:
    # Each generation refuses the other shape: the v1 body sent to a v2 deployment and the reverse.
    other = wrap("A" if generation == "C" else "C", trained.records)
    response = post(servers[generation].url, other)
    assert (response.status_code, response.content) == (400, PROBE_MISSING_PARAM[generation])


@pytest.mark.parametrize("generation", ["B", "C"])
def test_a_bad_method_is_a_400(generation: str, servers: dict[str, Any], trained: Any) -> None:
    # Azure answers 200 with an error string (B) or 500 (C); bankscore names the mistake instead.
    response = post(servers[generation].url, wrap(generation, trained.records, "nope"))
    assert_error(response, 400, "method='nope' is not one of predict, predict_proba")


def test_empty_global_parameters_are_a_400_not_a_500(servers: dict[str, Any], trained: Any) -> None:
    response = post(servers["C"].url, {"Inputs": {"data": trained.records}, "GlobalParameters": {}})
    assert_error(response, 400, "GlobalParameters", '"method"')


@pytest.mark.parametrize("generation", GENERATIONS)
def test_no_content_type_is_415_with_the_servers_exact_answer(
    generation: str, servers: dict[str, Any], trained: Any
) -> None:
    content = json.dumps(wrap(generation, trained.records)).encode()
    response = httpx.post(servers[generation].url + "/score", content=content, timeout=10)
    assert "content-type" not in response.request.headers
    assert (response.status_code, response.content) == (415, PROBE_NO_CONTENT_TYPE)
    assert response.headers["x-ms-run-function-failed"] == "False"
    plain = post(servers[generation].url, content, **{"Content-Type": "text/plain"})
    assert_error(plain, 415, "Expects Content-Type to be application/json")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_an_oversized_body_is_413(generation: str, servers: dict[str, Any]) -> None:
    limit = servers[generation].contract["max_body_bytes"]
    oversized = b" " * (limit + 1)
    sized = post(servers[generation].url, oversized)
    assert_error(sized, 413, f"the body has {limit + 1} bytes; this deployment takes at most {limit}")

    def chunks() -> Any:
        for start in range(0, len(oversized), 1 << 20):
            yield oversized[start : start + (1 << 20)]

    chunked = httpx.post(servers[generation].url + "/score", content=chunks(), headers=JSON_HEADERS, timeout=30)
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert_error(chunked, 413, f"the body exceeds {limit} bytes")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_only_post_scores(generation: str, servers: dict[str, Any]) -> None:
    url = servers[generation].url + "/score"
    assert_error(httpx.get(url, timeout=10), 405, "POST")
    assert_error(httpx.put(url, json={}, timeout=10), 405)
    assert_error(httpx.delete(url, timeout=10), 405)


# ------------------------------------------------------------------------------------------------------ logs

LOG_KEYS = {"event", "request_id", "status", "latency_ms", "records", "method", "model", "model_version", "generation"}


def test_deploy_logs_has_one_json_line_per_request_and_no_feature_values(servers: dict[str, Any], trained: Any) -> None:
    server = servers["C"]
    secret_value = "zz-job-value-that-must-not-be-logged"
    sent = {
        "logs-ok": (post(server.url, wrap("C", trained.records), **{"X-Request-Id": "logs-ok"}), 200, 2),
        "logs-bad": (
            post(server.url, wrap("C", [{**trained.no_record, "job": secret_value}]), **{"X-Request-Id": "logs-bad"}),
            400,
            0,
        ),
        "logs-415": (
            httpx.post(server.url + "/score", content=b"{}", headers={"X-Request-Id": "logs-415"}, timeout=10),
            415,
            0,
        ),
    }
    for response, status, _ in sent.values():
        assert response.status_code == status
    assert secret_value in sent["logs-bad"][0].json()["message"]  # named to the caller, not to the log

    proc = trained.cli("deploy", "logs", "--name", server.name, "--lines", "100000")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for request_id, (_, status, records) in sent.items():
        mine = [line for line in lines if line.get("request_id") == request_id]
        assert len(mine) == 1, mine
        line = mine[0]
        assert set(line) == LOG_KEYS
        assert (line["event"], line["status"], line["records"]) == ("score", status, records)
        assert line["model_version"] == trained.model_version and line["generation"] == "C"
        assert isinstance(line["latency_ms"], float | int) and line["latency_ms"] >= 0
    assert lines and all(set(line) == LOG_KEYS for line in lines if line.get("event") == "score")
    log_text = (server.run_dir(trained.home) / "server.log").read_text()
    assert secret_value not in log_text
    assert json.dumps(trained.no_record)[:40] not in log_text
