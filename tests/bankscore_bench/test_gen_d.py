"""bankscore-bench and wire generation D (a managed online endpoint serving an MLflow model without a script).

Unit tests: ``--generation D``, ``--model-deployment`` (parsing, refusals, where the header goes) and the plan
for a D endpoint. End to end, with the real engine (Locust) on 127.0.0.1 only, every run bounded by ``-n`` and
``-t``:

- a managed-endpoint stub that records every request's headers: the deployment pin reaches the spec's GET
  and every POST, Azure's 424 and the no-code script's generic 500 are reported as ab reports any non-2xx,
  every D answer shape counts as OK and a body one answer short counts as failed;
- ``bankscore deploy local --generation D`` (bankscore's own score.py speaking D) and the oracle, Microsoft's
  no-code script unmodified on the real inference server (``tests/no_code_oracle.py``): ``-n 200 -c 4`` gets
  200 complete requests and 0 failed, with and without ``--proba``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bankscore_tests_loopback import NOT_FOUND, Answer, Handle, Request, serve

from bankscore import WireGeneration
from bankscore._endpoint import KEY_ENV, URI_ENV
from bankscore.features import FEATURE_NAMES
from bankscore_bench._abargs import parse_ab_args
from bankscore_bench._aboptions import AbUsageError, format_usage
from bankscore_bench._abspec import EXIT_USAGE
from bankscore_bench._payloads import ScoringChecker
from bankscore_bench._plan import BenchTarget, PlanError, build_plan

BENCH = [sys.executable, "-c", "from bankscore_bench.cli import main; main()"]
URL = "http://127.0.0.1:9/score"
HEADER = "azureml-model-deployment"
GENERIC_500 = b'{"message": "An unexpected error occurred in scoring script. Check the logs for more info."}'


def _bench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {URI_ENV, KEY_ENV}}
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, timeout=timeout, check=False, env=env)


def _field(report: str, name: str) -> str | None:
    """The value of one ab report line ("Complete requests:      200" -> "200"), None when absent."""
    match = re.search(rf"^{re.escape(name)}:\s+(.*)$", report, re.MULTILINE)
    return match.group(1).strip() if match else None


def _rate(report: str) -> float:
    value = _field(report, "Requests per second")
    assert value is not None, report
    return float(value.split()[0])


def _d_body(plan_body: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(plan_body)
    assert set(body) <= {"input_data", "params"}
    return body


# --- the command line ------------------------------------------------------------------------------------------


def test_generation_d_is_accepted_and_the_help_names_d_and_the_deployment_flag() -> None:
    assert parse_ab_args(["--generation", "d", URL]).generation == "D"
    usage = format_usage()
    assert "A, B, C, D or auto" in usage
    assert "--model-deployment NAME" in usage
    assert HEADER in usage
    with pytest.raises(AbUsageError, match="expected one of A, B, C, D, auto"):
        parse_ab_args(["--generation", "E", URL])


def test_the_deployment_header_comes_after_abs_own_and_before_the_h_headers() -> None:
    options = parse_ab_args(["--model-deployment", "blue", "-H", "X-Trace: 1", "--key", "k-1", URL])
    assert options.model_deployment == "blue"
    headers = options.request_headers()
    names = [name for name, _ in headers]
    assert (HEADER, "blue") in headers
    assert names.index("Authorization") < names.index(HEADER) < names.index("X-Trace")
    assert "model_deployment='blue'" in repr(options)  # a name, not a secret: it shows
    assert HEADER not in [name for name, _ in parse_ab_args([URL]).request_headers()]


@pytest.mark.parametrize("value", ["", "   ", "blue green", "blue\r\nX-Injected: 1", "blü"])
def test_a_bad_deployment_name_is_refused_naming_the_flag(value: str) -> None:
    with pytest.raises(AbUsageError) as caught:
        parse_ab_args(["--model-deployment", value, URL])
    assert caught.value.exit_code == EXIT_USAGE
    assert "--model-deployment" in caught.value.message
    assert "such as blue" in caught.value.message


def test_the_flag_and_an_h_header_for_the_same_pin_are_refused_not_merged() -> None:
    with pytest.raises(AbUsageError) as caught:
        parse_ab_args(["--model-deployment", "blue", "-H", "AzureML-Model-Deployment: green", URL])
    assert "--model-deployment and -H azureml-model-deployment" in caught.value.message
    # Either alone is fine, and -H alone is sent as given.
    alone = parse_ab_args(["-H", "azureml-model-deployment: green", URL])
    assert ("azureml-model-deployment", "green") in alone.request_headers()


# --- the plan --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "params"), [([], None), (["--proba"], {"predict_method": "predict_proba"})])
def test_a_d_plan_sends_frames_pins_the_deployment_and_checks_any_d_answer(
    flags: list[str], params: dict[str, str] | None
) -> None:
    argv = ["-n", "5", "--generation", "D", "--batch-size", "3", "--model-deployment", "blue", *flags, URL]
    options = parse_ab_args(argv)
    plan, described = build_plan(options, BenchTarget(URL, generation=WireGeneration.D))

    assert plan.method == "POST"
    assert plan.payloads is not None and plan.payloads.content_type == "application/json"
    for payload in plan.payloads.payloads:
        body = _d_body(payload.body)
        assert body["input_data"]["columns"] == list(FEATURE_NAMES)
        assert body["input_data"]["index"] == [0, 1, 2]
        assert [len(row) for row in body["input_data"]["data"]] == [len(FEATURE_NAMES)] * 3
        assert body.get("params") == params
        assert payload.records == 3
    assert (HEADER, "blue") in plan.headers
    method = "predict_proba" if params else "predict"
    assert plan.checker == ScoringChecker(method, WireGeneration.D)
    assert f"generation D, {method}," in described
    assert "deployment blue" in described


def test_the_d_checker_takes_every_answer_shape_and_counts_answers() -> None:
    proba = ScoringChecker("predict_proba", WireGeneration.D)
    for body in (
        b'["no", "yes"]',  # a model without a params schema ignores predict_method: labels
        b"[[0.9, 0.1], [0.2, 0.8]]",  # pyfunc_predict_fn="predict_proba"
        b'[{"no": 0.9, "yes": 0.1}, {"no": 0.2, "yes": 0.8}]',  # params model: a DataFrame as records
        b"[0.1, 0.8]",  # a custom pyfunc returning P(yes)
    ):
        assert proba(body, 2) is None, body
    assert proba(b'["no"]', 2) == "expected 2 results in the 200 body, got 1 results"
    assert (proba(GENERIC_500, 2) or "").startswith("expected 2 results")  # an error body is never a result
    assert "expected a probability named 'yes'" in (proba(b'[{"no": 1.0}, {"no": 1.0}]', 2) or "")
    # Only D may answer labels to a probability request.
    assert "expected [P(no), P(yes)]" in (ScoringChecker("predict_proba", WireGeneration.C)(b'["no", "yes"]', 2) or "")


# --- a managed-endpoint stub that records headers --------------------------------------------------------------


def _d_spec() -> dict[str, Any]:
    """A no-code endpoint's OpenAPI 3 document, in the shape Microsoft's script serves (GEN-D-CONTRACT §4)."""
    example = {"input_data": {"columns": list(FEATURE_NAMES), "index": [], "data": []}, "params": {}}
    service_input = {
        "type": "object",
        "properties": {
            "input_data": {
                "type": "object",
                "required": ["columns", "index", "data"],
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "index": {"type": "array", "items": {"type": "object"}},
                    "data": {"type": "array", "items": {"type": "object"}},
                },
                "format": "pandas.DataFrame:split",
            },
            "params": {"type": "object"},
        },
        "example": example,
    }
    ok = {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}}
    score = {
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}},
        "responses": {"200": ok},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "ML service", "version": "1.0"},
        "paths": {"/score": {"post": score}},
        "components": {
            "schemas": {
                "In": service_input,
                "Out": {"type": "array", "items": {"type": "object"}, "format": "numpy.ndarray"},
            }
        },
    }


@dataclass
class ManagedStub:
    """Answers ``/swagger.json`` with a D spec (or 404 when ``spec`` is None) and ``POST /score`` by ``answer``:
    labels / pairs / records / floats (one per row), ``short`` (one answer too few), or ``424-500`` (Azure's
    424 and the script's generic 500 in turn). Every request's method, path and headers are kept in ``seen``."""

    answer: str = "labels"
    spec: dict[str, Any] | None = field(default_factory=_d_spec)
    url: str = ""
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def scoring_uri(self) -> str:
        return self.url + "/score"

    def posts(self) -> list[dict[str, str]]:
        return [headers for method, _, headers in self.seen if method == "POST"]

    def score(self, body: dict[str, Any], count: int) -> tuple[int, dict[str, str], bytes]:
        rows = len(body["input_data"]["data"])
        shapes: dict[str, list[Any]] = {
            "labels": ["no"] * rows,
            "pairs": [[0.75, 0.25]] * rows,
            "records": [{"no": 0.75, "yes": 0.25}] * rows,
            "floats": [0.25] * rows,
            "short": ["no"] * (rows - 1),
        }
        if self.answer in shapes:
            return 200, {}, json.dumps(shapes[self.answer]).encode()
        if count % 2:  # Azure's front end turns the container's non-200 into a 424 (GEN-D-CONTRACT §5)
            headers = {"ms-azureml-model-error-statuscode": "500", "ms-azureml-model-error-reason": "model_error"}
            return 424, headers, GENERIC_500
        return 500, {"x-ms-run-function-failed": "True"}, GENERIC_500


def _stub_handle(stub: ManagedStub) -> Handle:
    def handle(request: Request) -> Answer:
        with stub.lock:
            stub.seen.append((request.method, request.target, {k.lower(): v for k, v in request.headers.items()}))
            count = len(stub.seen)
        if request.method == "POST":
            return stub.score(request.json(), count)
        if request.path == "/swagger.json" and stub.spec is not None:
            return 200, json.dumps(stub.spec).encode()
        return NOT_FOUND

    return handle


@pytest.fixture
def managed() -> Iterator[ManagedStub]:
    stub = ManagedStub()
    with serve(_stub_handle(stub)) as stub.url:
        yield stub


def test_detection_reads_the_pinned_deployments_spec_and_failing_names_d(managed: ManagedStub) -> None:
    options = parse_ab_args(["-n", "1", "--model-deployment", "green", managed.scoring_uri])
    plan, described = build_plan(options, BenchTarget(managed.scoring_uri))
    assert "generation D" in described
    assert managed.seen and all(headers.get(HEADER) == "green" for _, _, headers in managed.seen)
    assert plan.payloads is not None and "input_data" in _d_body(plan.payloads.payloads[0].body)

    managed.spec = None  # the spec answers 404: the bench says which flag settles it
    with pytest.raises(PlanError, match=r"give --generation A, B, C or D"):
        build_plan(options, BenchTarget(managed.scoring_uri))


@pytest.mark.slow
def test_model_deployment_reaches_the_endpoint_on_every_request(managed: ManagedStub, tmp_path: Path) -> None:
    report = tmp_path / "run.json"
    result = _bench(
        "-t", "60", "-n", "20", "-c", "2", "--model-deployment", "blue", "--json", str(report), managed.scoring_uri
    )
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "Complete requests") == "20"
    assert _field(result.stdout, "Failed requests") == "0"
    assert "generation D, predict," in result.stderr
    assert "deployment blue" in result.stderr
    gets = [headers for method, _, headers in managed.seen if method == "GET"]
    assert gets, "the generation was detected from the spec"
    assert len(managed.posts()) == 20
    assert all(headers.get(HEADER) == "blue" for _, _, headers in managed.seen)
    assert json.loads(report.read_text())["run"]["extra"]["model_deployment"] == "blue"


@pytest.mark.slow
def test_424_and_the_generic_500_are_reported_as_non_2xx(managed: ManagedStub) -> None:
    managed.answer = "424-500"
    result = _bench("-t", "60", "-n", "20", "-c", "2", "--generation", "D", managed.scoring_uri)
    assert result.returncode == 0, result.stderr  # ab's rule: non-2xx answers are answers, not a failed run
    assert _field(result.stdout, "Complete requests") == "20"
    assert _field(result.stdout, "Non-2xx responses") == "20"
    assert _field(result.stdout, "Failed requests") == "0"  # as ab: a non-2xx is not a "failed request"
    assert "(Bad body" not in result.stdout  # the checker judges 2xx bodies only
    assert "errors 20 = 100.00%" in result.stdout
    assert "HTTP 424 x10" in result.stdout
    assert "HTTP 500 x10" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("answer", ["labels", "pairs", "records", "floats", "short"])
def test_every_d_answer_shape_counts_ok_and_a_short_one_fails(managed: ManagedStub, answer: str) -> None:
    managed.answer = answer
    result = _bench(
        "-t", "60", "-n", "20", "-c", "2", "--generation", "D", "--proba", "--batch-size", "3", managed.scoring_uri
    )
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "Complete requests") == "20"
    if answer == "short":
        assert _field(result.stdout, "Failed requests") == "20"
        assert "(Bad body: 20: 2xx responses that are not a scoring result)" in result.stdout
    else:
        assert _field(result.stdout, "Failed requests") == "0", result.stdout
    assert _field(result.stdout, "Non-2xx responses") is None


# --- real D endpoints: deploy local --generation D, and Microsoft's no-code script ------------------------------


@pytest.fixture(scope="module")
def local_d(trained: Any) -> Iterator[str]:
    """A real `bankscore deploy local --generation D`; its scoring URI."""
    fixtures = sys.modules["bankscore_tests_deploy_fixtures"]  # loaded by conftest.py
    with fixtures.local_deployment(trained, "bench-gen-d", "--generation", "D") as uri:
        yield uri


def _every_answer_ok(uri: str, flags: list[str]) -> float:
    """``bankscore-bench -n 200 -c 4 [flags] uri`` with the generation detected: all 200 OK; its requests/s."""
    result = _bench("-t", "180", "-n", "200", "-c", "4", *flags, uri)
    assert result.returncode == 0, result.stderr
    method = "predict_proba" if "--proba" in flags else "predict"
    assert f"generation D, {method}," in result.stderr  # read from the endpoint's spec
    assert _field(result.stdout, "Complete requests") == "200", result.stdout
    assert _field(result.stdout, "Failed requests") == "0", result.stdout
    assert _field(result.stdout, "Non-2xx responses") is None, result.stdout
    assert _field(result.stdout, "Document Length") == "Variable"
    # What the endpoint answered, from ab's -v 2 response dump: probabilities for --proba, labels without.
    dump = _bench("-t", "60", "-n", "1", "-v", "2", "--batch-size", "2", *flags, uri)
    assert dump.returncode == 0, dump.stderr
    match = re.search(r"^LOG: header received:\n.*?\n\n(\[.*?\])$", dump.stdout, re.MULTILINE | re.DOTALL)
    assert match is not None, dump.stdout
    answers = json.loads(match.group(1))
    assert len(answers) == 2
    if "--proba" in flags:
        assert not any(isinstance(answer, str) for answer in answers), answers
    else:
        assert set(answers) <= {"no", "yes"}, answers
    return _rate(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("flags", [[], ["--proba"]], ids=["labels", "proba"])
def test_deploy_local_d_answers_every_request_ok(local_d: str, flags: list[str]) -> None:
    rate = _every_answer_ok(local_d, flags)
    print(f"deploy local --generation D {flags}: {rate:.1f} requests/s")


@pytest.mark.slow
@pytest.mark.parametrize("flags", [[], ["--proba"]], ids=["labels", "proba"])
def test_microsofts_no_code_script_answers_every_request_ok(no_code_oracle: Any, flags: list[str]) -> None:
    rate = _every_answer_ok(no_code_oracle.scoring_uri, flags)
    print(f"no-code oracle {flags}: {rate:.1f} requests/s")


@pytest.mark.slow
def test_a_body_of_another_generation_is_refused_by_the_no_code_script(no_code_oracle: Any) -> None:
    """Told C, the bench sends {"Inputs": ...}: the real script answers 400 (no input_data) to every request."""
    result = _bench("-t", "60", "-n", "20", "-c", "2", "--generation", "C", no_code_oracle.scoring_uri)
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "Complete requests") == "20"
    assert _field(result.stdout, "Non-2xx responses") == "20"
    assert "HTTP 400 x20" in result.stdout
