"""trigger / status / wait / cancel against Azure ML's URL forms and against the local publisher, and the CLI.

Azure ML itself is unreachable from the tests, so its service is played by ``AzureStandIn``: a real HTTP server
on 127.0.0.1 that records every request (method, path, query, headers, body) and answers in the shapes
Azure's pipelines REST API and Run History's swagger give. It is a fake of Azure's service, used to check the requests
bankscore sends and how it reads the answers. The local publisher and the real pipeline are used for real.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from bankscore_tests_loopback import Answer, Request, free_port, serve

from bankscore import pipeline
from bankscore._exceptions import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    BankscoreError,
    InternalServerError,
)
from bankscore.pipeline import (
    PipelineError,
    PipelineProgram,
    PipelinePublisher,
    PipelineRunStatus,
    PipelineTimeoutError,
)

TOKEN = "aad-TestToken-81d2c4f0e9b34a17Kq"
WS = (
    "subscriptions/5f1b2c3d-1111-2222-3333-444455556666/resourceGroups/rg-bank"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws-bank"
)
PIPELINE_ID = "0b7c5d2e-9a4f-4e1b-8c3d-2f6a7b8c9d0e"
RUN_ID = "6a3e2f1c-4b5d-4e6f-8a9b-0c1d2e3f4a5b"


# ------------------------------------------------------------------------------------------- URL forms


@pytest.mark.parametrize(
    ("url", "kind", "api"),
    [
        (f"https://westeurope.api.azureml.ms/pipelines/v1.0/{WS}/PipelineRuns/PipelineSubmit/{PIPELINE_ID}",
         "PipelineSubmit", "/pipelines/v1.0"),
        (f"https://eastus2.api.azureml.ms/pipelines/v1.0/{WS}/PipelineRuns/PipelineEndpointSubmit/Id/{PIPELINE_ID}",
         "PipelineEndpointSubmit/Id", "/pipelines/v1.0"),
        (f"https://eastus2.api.azureml.ms/pipelines/v1.0/{WS}/PipelineRuns/PipelineEndpointSubmit/Id/{PIPELINE_ID}/2",
         "PipelineEndpointSubmit/Id", "/pipelines/v1.0"),
        (f"https://eastus2.api.azureml.ms/pipelines/v1.0/{WS}/PipelineRuns/PipelineEndpointSubmit/Name?name=t&pipelineVersion=2",
         "PipelineEndpointSubmit/Name", "/pipelines/v1.0"),
        (f"https://westeurope.aether.ms/api/v1.0/{WS}/PipelineRuns/PipelineSubmit/{PIPELINE_ID}",
         "PipelineSubmit", "/api/v1.0"),
    ],
)  # fmt: skip
def test_every_azure_url_form_is_recognised_and_run_history_is_on_the_same_host(url: str, kind: str, api: str) -> None:
    endpoint = pipeline.parse_endpoint(url)
    assert endpoint.kind == kind and endpoint.api == api
    assert endpoint.workspace_path == WS
    host = urlsplit(url).netloc
    assert endpoint.run_url("pipeline-rest-endpoint", RUN_ID) == (
        f"https://{host}/history/v1.0/{WS}/experiments/pipeline-rest-endpoint/runs/{RUN_ID}"
    )
    assert endpoint.cancel_url(RUN_ID) == f"https://{host}{api}/{WS}/PipelineRuns/{RUN_ID}/Cancel"
    assert not endpoint.is_local


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:5001/score", "is not a pipeline REST endpoint"),
        (
            f"westeurope.api.azureml.ms/pipelines/v1.0/{WS}/PipelineRuns/PipelineSubmit/x",
            "is not a pipeline REST endpoint",
        ),
        (f"https://h/pipelines/v1.0/{WS}/PipelineRuns/PipelineEndpointSubmit/Name", "needs ?name=<endpoint name>"),
        (f"https://h/pipelines/v1.0/{WS}/PipelineRuns/Unknown/x", "is not a pipeline REST endpoint"),
    ],
)
def test_a_url_that_is_not_a_pipeline_endpoint_is_named(url: str, words: str) -> None:
    with pytest.raises(PipelineError) as caught:
        pipeline.parse_endpoint(url)
    assert words in str(caught.value) and repr(url) in str(caught.value)


# ------------------------------------------------------------------------------------------- Azure stand-in


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class AzureStandIn:
    """Records requests; answers submits with a PipelineRun entity and Run History reads from ``statuses``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.statuses: list[str] = ["NotStarted", "Running", "Completed"]
        self.error: dict[str, Any] | None = None  # the run's error once it ends
        self.fail_next: list[tuple[int, dict[str, Any]]] = []  # (status, body) answers to give first
        self._reads = 0
        self.base = ""  # set once it serves

    def __call__(self, request: Request) -> Answer:
        url = urlsplit(request.target)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(
            Recorded(request.method, url.path, parse_qs(url.query), headers, request.json() if request.body else None)
        )
        if self.fail_next:
            status, body = self.fail_next.pop(0)
            return status, {"x-ms-request-id": "req-42"}, json.dumps(body).encode()
        return 200, json.dumps(self.answer(request.method, url.path)).encode()

    def url(self, tail: str = f"PipelineSubmit/{PIPELINE_ID}") -> str:
        return f"{self.base}/pipelines/v1.0/{WS}/PipelineRuns/{tail}"

    def answer(self, method: str, path: str) -> Any:
        if method == "POST" and "/PipelineRuns/Pipeline" in path:
            return {"Id": RUN_ID, "Status": {"StatusCode": 0}, "RunHistoryExperimentName": "pipeline-rest-endpoint"}
        if path.endswith("/children"):
            done = self._reads >= len(self.statuses)
            return {"value": [{"runId": "s1", "name": "automl_module", "status": "Completed" if done else "Running"}]}
        if path.endswith("/Cancel"):
            return {}
        status = self.statuses[min(self._reads, len(self.statuses) - 1)]
        self._reads += 1
        return {"runId": RUN_ID, "status": status, "error": self.error if status == "Failed" else None}


@pytest.fixture
def azure() -> Iterator[AzureStandIn]:
    stand_in = AzureStandIn()
    with serve(stand_in, keep_alive=True) as stand_in.base:
        yield stand_in


def test_trigger_sends_azures_documented_request_to_a_published_pipeline(azure: AzureStandIn) -> None:
    run_id = pipeline.trigger(
        azure.url(),
        "pipeline-rest-endpoint",
        parameters={"time_budget_s": 30, "exclude": ["duration", "pdays"], "dry": False},
        token=TOKEN,
    )
    assert run_id == RUN_ID
    (sent,) = azure.requests
    assert sent.method == "POST"
    assert sent.path == f"/pipelines/v1.0/{WS}/PipelineRuns/PipelineSubmit/{PIPELINE_ID}"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == {
        "ExperimentName": "pipeline-rest-endpoint",
        "RunSource": "SDK",
        "ParameterAssignments": {"time_budget_s": "30", "exclude": "duration,pdays", "dry": "false"},
    }


def test_trigger_a_pipeline_endpoint_by_id_and_by_name_keeps_the_url_as_given(azure: AzureStandIn) -> None:
    pipeline.trigger(azure.url(f"PipelineEndpointSubmit/Id/{PIPELINE_ID}/3"), "exp", token=TOKEN)
    pipeline.trigger(
        azure.url("PipelineEndpointSubmit/Name?name=bankmarketing-train&pipelineVersion=3"), "exp", token=TOKEN
    )
    by_id, by_name = azure.requests
    assert by_id.path == f"/pipelines/v1.0/{WS}/PipelineRuns/PipelineEndpointSubmit/Id/{PIPELINE_ID}/3"
    assert by_name.path == f"/pipelines/v1.0/{WS}/PipelineRuns/PipelineEndpointSubmit/Name"
    assert by_name.query == {"name": ["bankmarketing-train"], "pipelineVersion": ["3"]}
    assert by_id.body == by_name.body == {"ExperimentName": "exp", "RunSource": "SDK"}


def test_wait_reads_run_history_until_the_run_ends_and_reports_every_change(azure: AzureStandIn) -> None:
    azure.statuses = ["NotStarted", "Queued", "Running", "Running", "Completed"]
    seen: list[str] = []
    final = pipeline.wait(
        RUN_ID,
        endpoint=azure.url(),
        experiment="pipeline-rest-endpoint",
        token=TOKEN,
        poll=0.01,
        on_status=lambda s: seen.append(s.describe()),
    )
    assert final.status == "Completed" and final.terminal and final.run_id == RUN_ID
    assert final.steps[0].name == "automl_module" and final.steps[0].status == "Completed"
    # One callback per change: the repeated Running read is not reported twice.
    assert seen == [
        "NotStarted [automl_module Running]",
        "Queued [automl_module Running]",
        "Running [automl_module Running]",
        "Completed [automl_module Completed]",
    ]
    history = f"/history/v1.0/{WS}/experiments/pipeline-rest-endpoint/runs/{RUN_ID}"
    assert {r.path for r in azure.requests} == {history, history + "/children"}
    assert all(r.method == "GET" and r.headers["authorization"] == f"Bearer {TOKEN}" for r in azure.requests)


def test_wait_returns_a_failed_run_with_its_error_instead_of_raising(azure: AzureStandIn) -> None:
    azure.statuses = ["Running", "Failed"]
    azure.error = {"error": {"code": "UserError", "message": "AutoML step failed: no 'y' column"}}
    final = pipeline.wait(RUN_ID, endpoint=azure.url(), experiment="e", token=TOKEN, poll=0.01)
    assert final.status == "Failed" and final.error == "AutoML step failed: no 'y' column"


def test_wait_retries_transient_answers_and_gives_up_on_a_4xx(azure: AzureStandIn) -> None:
    azure.fail_next = [(503, {"error": {"message": "busy"}}), (502, {"error": {"message": "gateway"}})]
    assert pipeline.wait(RUN_ID, endpoint=azure.url(), experiment="e", token=TOKEN, poll=0.01).status == "Completed"

    azure.fail_next = [(404, {"error": {"code": "UserError", "message": "Run not found"}})]
    with pytest.raises(BankscoreError, match="Run not found"):
        pipeline.wait(RUN_ID, endpoint=azure.url(), experiment="e", token=TOKEN, poll=0.01)

    azure.fail_next = [(500, {"error": {"message": "down"}})] * 3
    with pytest.raises(InternalServerError, match="down"):
        pipeline.wait(RUN_ID, endpoint=azure.url(), experiment="e", token=TOKEN, poll=0.01, max_read_failures=2)


def test_wait_gives_up_after_its_timeout_with_the_last_status(azure: AzureStandIn) -> None:
    azure.statuses = ["Running"]  # never ends
    with pytest.raises(PipelineTimeoutError) as caught:
        pipeline.wait(RUN_ID, endpoint=azure.url(), experiment="e", token=TOKEN, poll=0.01, timeout=0.3)
    assert caught.value.last is not None and caught.value.last.status == "Running"
    assert f"run {RUN_ID} did not end within 0.3 s (last status: Running" in str(caught.value)


def test_status_and_cancel_use_azures_routes(azure: AzureStandIn) -> None:
    azure.statuses = ["Running"]
    current = pipeline.status(RUN_ID, endpoint=azure.url(), experiment="pipeline-rest-endpoint", token=TOKEN)
    assert isinstance(current, PipelineRunStatus) and current.status == "Running" and not current.terminal
    pipeline.cancel(RUN_ID, endpoint=azure.url(), token=TOKEN)
    assert (azure.requests[-1].method, azure.requests[-1].path) == (
        "POST",
        f"/pipelines/v1.0/{WS}/PipelineRuns/{RUN_ID}/Cancel",
    )


def test_azures_error_response_becomes_a_bankscore_error_without_the_token(azure: AzureStandIn) -> None:
    azure.fail_next = [
        (400, {"error": {"code": "UserError", "message": "Parameter 'max_depth' is not defined"}, "correlation": {}})
    ]
    with pytest.raises(BadRequestError) as bad:
        pipeline.trigger(azure.url(), "e", parameters={"max_depth": 3}, token=TOKEN)
    assert bad.value.status == 400 and bad.value.request_id == "req-42"
    assert "Parameter 'max_depth' is not defined" in str(bad.value)

    azure.fail_next = [(401, {"error": {"code": "InvalidAuthenticationToken", "message": "The token is expired"}})]
    with pytest.raises(AuthenticationError) as denied:
        pipeline.trigger(azure.url(), "e", token=TOKEN)
    for text in (str(denied.value), repr(denied.value), str(bad.value), repr(bad.value)):
        assert TOKEN not in text


def test_a_credential_gets_an_arm_token_once_per_call(azure: AzureStandIn) -> None:
    scopes: list[tuple[str, ...]] = []

    class Credential:
        def get_token(self, *requested: str) -> Any:
            scopes.append(requested)
            return SimpleNamespace(token=TOKEN, expires_on=time.time() + 3600)

    pipeline.wait(RUN_ID, endpoint=azure.url(), experiment="e", credential=Credential(), poll=0.01)
    assert scopes == [("https://management.azure.com/.default",)]
    assert {r.headers["authorization"] for r in azure.requests} == {f"Bearer {TOKEN}"}


def test_a_connection_refused_is_an_api_connection_error() -> None:
    port = free_port()
    with pytest.raises(APIConnectionError) as caught:
        pipeline.trigger(f"http://127.0.0.1:{port}/pipelines/v1.0/{WS}/PipelineRuns/PipelineSubmit/x", "e", token=TOKEN)
    assert TOKEN not in str(caught.value)


# ------------------------------------------------------------------------------------------- Azure credentials
# azure-identity is optional: these two check the import-or-explain path of one function, with no network.

AZURE_URL = f"https://westeurope.api.azureml.ms/pipelines/v1.0/{WS}/PipelineRuns/PipelineSubmit/{PIPELINE_ID}"


def test_without_a_token_or_azure_identity_the_error_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if the optional package were not installed
    with pytest.raises(PipelineError) as caught:
        pipeline.trigger(AZURE_URL, "pipeline-rest-endpoint")
    assert "no token for https://westeurope.api.azureml.ms" in str(caught.value)
    assert "az account get-access-token" in str(caught.value) and "pip install azure-identity" in str(caught.value)


def test_default_azure_credential_is_used_when_azure_identity_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from bankscore.pipeline._consume import _resolve_auth

    scopes: list[str] = []

    class DefaultAzureCredential:
        def get_token(self, *requested: str) -> Any:
            scopes.extend(requested)
            return SimpleNamespace(token=TOKEN, expires_on=time.time() + 3600)

    monkeypatch.setitem(sys.modules, "azure.identity", SimpleNamespace(DefaultAzureCredential=DefaultAzureCredential))
    auth = _resolve_auth(pipeline.parse_endpoint(AZURE_URL), None, None)
    request = next(auth.sync_auth_flow(httpx.Request("POST", AZURE_URL)))
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert scopes == ["https://management.azure.com/.default"]
    assert TOKEN not in repr(auth)


# ------------------------------------------------------------------------------------------- local publisher


@dataclasses.dataclass(frozen=True)
class Parameters:
    experiment: str = "bank-marketing"
    outcome: str = "Completed"  # Completed, Failed, Canceled or Hang
    time_budget_s: float = 60.0


def scripted(params: Parameters, *, on_event: Callable[[Any], None], cancel: threading.Event) -> Any:
    """Ends as ``params.outcome`` says: quickly, or (Hang) only when canceled."""
    on_event(SimpleNamespace(step="automl", status="Running", message="", elapsed_s=0.0))
    if params.outcome == "Failed":
        on_event(SimpleNamespace(step="automl", status="Failed", message="bad dataset", elapsed_s=0.1))
        raise BankscoreError("step automl failed: bad dataset")
    if params.outcome == "Hang":
        cancel.wait(120)  # bounded: a test that forgets to cancel ends anyway
    status = "Canceled" if cancel.is_set() or params.outcome == "Canceled" else "Completed"
    on_event(SimpleNamespace(step="automl", status=status, message="", elapsed_s=0.1))
    return SimpleNamespace(run_id="mlflow-1", status=status, error="canceled" if status == "Canceled" else None)


@pytest.fixture
def publisher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PipelinePublisher]:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "ws"))
    published = PipelinePublisher(TOKEN, program=PipelineProgram(Parameters, scripted))
    published.save()
    with published:
        yield published


def test_trigger_and_wait_against_the_local_publisher_use_its_saved_token(publisher: PipelinePublisher) -> None:
    url = publisher.info.published_pipeline_url
    run_id = pipeline.trigger(url, "pipeline-rest-endpoint", parameters={"time_budget_s": 5})  # no token: the saved one
    final = pipeline.wait(run_id, endpoint=url, experiment="pipeline-rest-endpoint", poll=0.02, timeout=60)
    assert final.status == "Completed"
    assert [(s.name, s.status) for s in final.steps] == [("automl", "Completed")]
    assert final.properties["mlflowRunId"] == "mlflow-1"

    hanging = pipeline.trigger(url, "e", parameters={"outcome": "Hang"})
    queued = pipeline.trigger(url, "e")
    listed = [(r.run_id, r.status) for r in pipeline.queue(url)]
    assert listed[0][0] == hanging and listed[1] == (queued, "Queued")
    pipeline.cancel(hanging, endpoint=url)
    assert pipeline.wait(hanging, endpoint=url, experiment="e", poll=0.02, timeout=60).status == "Canceled"
    assert pipeline.wait(queued, endpoint=url, experiment="e", poll=0.02, timeout=60).status == "Completed"


def test_a_local_url_without_a_saved_token_is_refused_before_sending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "empty"))
    with pytest.raises(PipelineError, match=r"pass token= .* with the local publisher's token"):
        pipeline.trigger(f"http://127.0.0.1:9/pipelines/v1.0/{WS}/PipelineRuns/PipelineSubmit/x", "e")


def test_a_stopped_or_moved_local_publisher_is_named_rather_than_its_token_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bankscore.pipeline._publisher_state import forget_publisher

    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "ws"))
    stopped = PipelinePublisher(TOKEN, program=PipelineProgram(Parameters, scripted))
    # Made while the first one still holds its port, so the two cannot share one.
    restarted = PipelinePublisher(TOKEN, program=PipelineProgram(Parameters, scripted))
    url = stopped.info.published_pipeline_url
    try:
        stopped.save()
        forget_publisher(stopped.info.pid)  # what Ctrl-C of `bankscore pipeline publish` does; the token stays
        with pytest.raises(PipelineError, match=r"workspace .* is not running: start it with `bankscore pipeline"):
            pipeline.status("some-run", endpoint=url, experiment="e")

        restarted.save()  # the same workspace's publisher, started again on another port
        with pytest.raises(PipelineError, match=rf"now listens at {restarted.info.base_url}, not http://127"):
            pipeline.status("some-run", endpoint=url, experiment="e")
    finally:
        stopped.close()
        restarted.close()


# ------------------------------------------------------------------------------------------- the CLI


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("BANKSCORE_PIPELINE_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "pipeline", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_trigger_status_and_wait_exit_codes(publisher: PipelinePublisher, tmp_path: Path) -> None:
    home = tmp_path / "ws"
    codes = {}
    for outcome in ("Completed", "Failed", "Canceled"):
        submitted = _cli("trigger", "--experiment", "cli-exp", "--param", f"outcome={outcome}", home=home)
        assert submitted.returncode == 0, submitted.stderr
        run_id = submitted.stdout.strip()
        assert f"Submitted pipeline run: {run_id}" in submitted.stderr
        waited = _cli("wait", run_id, "--poll", "0.05", home=home)  # endpoint and experiment remembered
        codes[outcome] = waited.returncode
        assert f"{run_id} {outcome}" in waited.stdout
        assert "run Running" in waited.stderr or f"run {outcome}" in waited.stderr
        assert TOKEN not in waited.stdout + waited.stderr + submitted.stdout + submitted.stderr
    assert codes == {"Completed": 0, "Failed": 3, "Canceled": 4}

    shown = _cli("status", run_id, "--json", home=home)
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "Canceled"

    hanging = _cli("trigger", "--param", "outcome=Hang", home=home).stdout.strip()
    listed = _cli("status", home=home)
    assert hanging in listed.stdout and "Running" in listed.stdout
    timed_out = _cli("wait", hanging, "--poll", "0.05", "--timeout", "0.5", home=home)
    assert timed_out.returncode == 5 and "did not end within 0.5 s" in timed_out.stderr
    assert _cli("cancel", hanging, home=home).returncode == 0
    assert _cli("wait", hanging, "--poll", "0.05", home=home).returncode == 4


def test_cli_errors_are_one_clear_line(publisher: PipelinePublisher, tmp_path: Path) -> None:
    home = tmp_path / "ws"
    unknown = _cli("trigger", "--param", "max_depth=3", home=home)
    assert unknown.returncode == 1
    assert "ParameterAssignments.max_depth: unknown pipeline parameter" in unknown.stderr
    bad_value = _cli("trigger", "--param", "time_budget_s=soon", home=home)
    assert "ParameterAssignments.time_budget_s: 'soon' is not a number" in bad_value.stderr
    malformed = _cli("trigger", "--param", "outcome", home=home)
    assert malformed.returncode == 2 and "'outcome': expected NAME=VALUE" in malformed.stderr
    wrong_token = _cli("trigger", "--token", "nope", home=home)
    assert wrong_token.returncode == 1 and "401: the bearer token is not valid" in wrong_token.stderr
    bad_url = _cli("trigger", "--endpoint", "http://127.0.0.1:5001/score", "--token", "t", home=home)
    assert bad_url.returncode == 1 and "is not a pipeline REST endpoint" in bad_url.stderr
    unknown_run = _cli("wait", "no-such-run", home=home)
    assert unknown_run.returncode == 1 and "pass --experiment NAME" in unknown_run.stderr
    for proc in (unknown, bad_value, malformed, wrong_token, bad_url, unknown_run):
        assert "Traceback" not in proc.stderr


def test_cli_without_a_publisher_says_how_to_start_one(tmp_path: Path) -> None:
    proc = _cli("trigger", home=tmp_path / "nothing")
    assert proc.returncode == 1
    assert "no local publisher in this workspace: start one with `bankscore pipeline publish`" in proc.stderr


def test_the_example_script_triggers_and_waits(publisher: PipelinePublisher, tmp_path: Path) -> None:
    script = Path(__file__).parents[3] / "examples" / "trigger_pipeline.py"
    env = {**os.environ, "BANKSCORE_HOME": str(tmp_path / "ws")}
    proc = subprocess.run(
        [sys.executable, str(script), "--param", "time_budget_s=5", "--poll", "0.05"],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split("Submitted pipeline run:  ", 1)[1].split()[0]
    assert f"run {run_id} ended Completed" in proc.stdout
    progress = [line for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert progress and all(a != b for a, b in itertools.pairwise(progress))  # no line repeated

    for args, code, words in (
        (["--param", "time_budget_s"], 2, "'time_budget_s': expected NAME=VALUE"),
        (["--token", "nope"], 1, "401: the bearer token is not valid"),
        (["--param", "max_depth=3"], 1, "ParameterAssignments.max_depth: unknown pipeline parameter"),
    ):
        wrong = subprocess.run(
            [sys.executable, str(script), *args], check=False, capture_output=True, text=True, env=env, timeout=300
        )
        assert wrong.returncode == code and words in wrong.stderr, wrong.stderr
        assert "Traceback" not in wrong.stderr and TOKEN not in wrong.stderr


# ------------------------------------------------------------------------------------------- end to end


def _poll(read: Callable[[], Any], limit: float = 120.0) -> Any:
    deadline = time.monotonic() + limit
    while (value := read()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {limit:g} s")
        time.sleep(0.2)
    return value


@pytest.mark.slow
def test_publish_trigger_over_rest_and_wait_for_a_real_pipeline_run(tmp_path: Path) -> None:
    """Azure ML's flow on one machine: publish, POST {"ExperimentName"} with a Bearer token, wait for Completed."""
    pytest.importorskip("flaml")
    pytest.importorskip("azureml_inference_server_http")
    home = tmp_path / "ws"
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    publisher_proc = subprocess.Popen(
        [sys.executable, "-m", "bankscore.cli", "pipeline", "publish", "--port", "0", "--new-token"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deployment, port = "pipeline-e2e", free_port()
    try:
        state = home / "pipelines" / "publisher" / "publisher.json"
        info = _poll(lambda: json.loads(state.read_text()) if state.is_file() else None)
        token = json.loads((home / "pipelines" / "publisher" / "token.json").read_text())["token"]
        # Azure ML's documented request, word for word: requests.post(endpoint, headers=auth_header, json={...}).
        response = httpx.post(
            info["published_pipeline_url"],
            headers={"Authorization": f"Bearer {token}"},
            json={
                "ExperimentName": "pipeline-rest-endpoint",
                "ParameterAssignments": {"time_budget_s": "15", "deployment": deployment, "port": str(port)},
            },
            timeout=60,
        )
        assert response.status_code == 200, response.text
        run_id = response.json()["Id"]
        waited = subprocess.run(
            [sys.executable, "-m", "bankscore.cli", "pipeline", "wait", run_id,
             "--endpoint", info["published_pipeline_url"], "--experiment", "pipeline-rest-endpoint",
             "--poll", "1", "--timeout", "1500"],
            check=False, env=env, capture_output=True, text=True, timeout=1600,
        )  # fmt: skip
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert f"{run_id} Completed" in waited.stdout
        assert "run Running" in waited.stderr
        assert token not in waited.stdout + waited.stderr
        run = pipeline.status(
            run_id, endpoint=info["published_pipeline_url"], experiment="pipeline-rest-endpoint", token=token
        )
        assert run.status == "Completed" and run.properties.get("mlflowRunId")
        assert run.steps and all(step.status == "Completed" for step in run.steps)
    finally:
        publisher_proc.terminate()
        _, err = publisher_proc.communicate(timeout=300)
        subprocess.run(
            [sys.executable, "-m", "bankscore.cli", "deploy", "stop", "--name", deployment],
            check=False, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert publisher_proc.returncode == 0, err
    assert "Traceback" not in err
