"""The local publisher over real HTTP on 127.0.0.1: Azure's submit/status/cancel routes, the queue, errors, tokens.

The pipeline behind it is a controllable stand-in (``GatedRunner``): each run stops at its "train" step until
the test opens that run's gate, so the tests decide when runs end and can watch the queue in between.
The real pipeline behind the same publisher is exercised end to end in test_consume.py (slow).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
import pytest

from bankscore._exceptions import BankscoreError
from bankscore.pipeline import PipelineProgram, PipelinePublisher

TOKEN = "pp-TestToken-3c9e1f77a2b04d58Zy"  # odd enough that finding it in output cannot be a coincidence
T = TypeVar("T")


# ------------------------------------------------------------------------------------------- the stand-in


@dataclasses.dataclass(frozen=True)
class FakeParameters:
    """The shape of bankscore's PipelineParameters, plus a label to tell runs apart."""

    experiment: str = "bank-marketing"
    label: str = "run"
    time_budget_s: float = 60.0
    exclude: tuple[str, ...] = ()
    port: int | None = None
    workers: int = 1
    fail_step: str | None = None


class StepFailedError(BankscoreError):
    """Like the pipeline's PipelineStepError(step, reason, result): ``result`` is the run as it ended."""

    def __init__(self, step: str, reason: str, result: object = None) -> None:
        self.result = result
        super().__init__(f"step {step} failed: {reason}")


def _event(step: str, status: str, message: str = "") -> SimpleNamespace:
    return SimpleNamespace(step=step, status=status, message=message, elapsed_s=0.01)


class GatedRunner:
    """``run_pipeline``'s signature. Records the order runs start in and how many ever ran at once."""

    def __init__(self, wait_limit: float = 60.0) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Event] = {}
        self.started: list[str] = []
        self.parameters: list[FakeParameters] = []
        self.running = 0
        self.max_running = 0
        self.wait_limit = wait_limit  # bounds a test that forgets a gate; not a timing check

    def gate(self, label: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(label, threading.Event())

    def __call__(
        self, params: FakeParameters, *, on_event: Callable[[Any], None], cancel: threading.Event
    ) -> SimpleNamespace:
        with self._lock:
            self.started.append(params.label)
            self.parameters.append(params)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            on_event(_event("register_data", "Running"))
            on_event(_event("register_data", "Completed", "bankmarketing_train:1"))
            on_event(_event("train", "Running"))
            gate, limit = self.gate(params.label), time.monotonic() + self.wait_limit
            while not gate.wait(0.02):
                if cancel.is_set():
                    on_event(_event("train", "Canceled", "canceled"))
                    return SimpleNamespace(run_id=None, status="Canceled", error="canceled during train")
                if time.monotonic() > limit:
                    raise StepFailedError("train", "the test never opened the gate")
            if params.fail_step == "train":
                on_event(_event("train", "Failed", "the dataset has no 'y' column"))
                ended = SimpleNamespace(run_id=f"mlflow-{params.label}", status="Failed", model_version=None)
                raise StepFailedError("train", "the dataset has no 'y' column", ended)
            on_event(_event("train", "Completed", "AUC_weighted 0.94"))
            return SimpleNamespace(run_id=f"mlflow-{params.label}", status="Completed", error=None, model_version="7")
        finally:
            with self._lock:
                self.running -= 1


def gated_program() -> PipelineProgram:
    """For `bankscore pipeline publish --program test_publish:gated_program` in a subprocess."""
    return PipelineProgram(parameters=FakeParameters, run=GatedRunner(wait_limit=120))


def poll_until(read: Callable[[], T], done: Callable[[T], bool], limit: float = 60.0) -> T:
    """Read until ``done``; a bounded wait for a background state change (never a check on how long it took)."""
    deadline = time.monotonic() + limit
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not there after {limit:g} s: {value!r}")
        time.sleep(0.02)
        value = read()
    return value


# ------------------------------------------------------------------------------------------- fixtures


@dataclasses.dataclass
class Served:
    publisher: PipelinePublisher
    runner: GatedRunner
    http: httpx.Client
    log: list[str]

    @property
    def submit_url(self) -> str:
        return self.publisher.info.published_pipeline_url

    @property
    def history(self) -> str:
        info = self.publisher.info
        return f"{info.base_url}/history/v1.0/{info.workspace_path}"

    def submit(self, label: str, experiment: str = "pipeline-rest-endpoint", **params: object) -> str:
        body = {"ExperimentName": experiment, "ParameterAssignments": {"label": label, **params}}
        response = self.http.post(self.submit_url, json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["Id"])

    def run(self, run_id: str, experiment: str = "pipeline-rest-endpoint") -> dict[str, Any]:
        response = self.http.get(f"{self.history}/experiments/{experiment}/runs/{run_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def steps(self, run_id: str, experiment: str = "pipeline-rest-endpoint") -> dict[str, str]:
        response = self.http.get(f"{self.history}/experiments/{experiment}/runs/{run_id}/children")
        assert response.status_code == 200, response.text
        return {child["name"]: child["status"] for child in response.json()["value"]}

    def status(self, run_id: str) -> str:
        return str(self.run(run_id)["status"])

    def queue(self) -> list[tuple[str, str]]:
        response = self.http.get(self.publisher.info.queue_url)
        assert response.status_code == 200, response.text
        return [(r["runId"], r["status"]) for r in response.json()["value"]]

    def wait_status(self, run_id: str, *statuses: str) -> dict[str, Any]:
        return poll_until(lambda: self.run(run_id), lambda r: r["status"] in statuses)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "ws"))
    runner = GatedRunner()
    log: list[str] = []
    publisher = PipelinePublisher(TOKEN, program=PipelineProgram(FakeParameters, runner), log=log.append)
    with publisher, httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        yield Served(publisher, runner, http, log)
        for label in ("a", "b", "c", "run"):  # let any run still waiting end, so close() returns at once
            runner.gate(label).set()


# ------------------------------------------------------------------------------------------- submit and run


def test_submit_answers_azures_pipeline_run_entity_and_the_run_completes(served: Served) -> None:
    response = served.http.post(served.submit_url, json={"ExperimentName": "pipeline-rest-endpoint"})
    assert response.status_code == 200
    entity = response.json()
    run_id = entity["Id"]
    assert uuid.UUID(run_id)  # a GUID, as Azure's
    assert entity["RunHistoryExperimentName"] == "pipeline-rest-endpoint"
    assert entity["PipelineId"] == served.publisher.info.pipeline_id
    assert entity["Status"]["StatusDetail"] == "NotStarted" and entity["IsSubmitted"] is True

    running = served.wait_status(run_id, "Running")
    assert running["runType"] == "azureml.PipelineRun" and running["startTimeUtc"] and running["endTimeUtc"] is None
    poll_until(lambda: served.steps(run_id), lambda s: s.get("train") == "Running")
    assert served.steps(run_id)["register_data"] == "Completed"

    served.runner.gate("run").set()
    done = served.wait_status(run_id, "Completed", "Failed", "Canceled")
    assert done["status"] == "Completed" and done["error"] is None and done["endTimeUtc"]
    assert done["properties"]["mlflowRunId"] == "mlflow-run" and done["properties"]["modelVersion"] == "7"
    assert served.steps(run_id) == {"register_data": "Completed", "train": "Completed"}
    details = served.http.get(f"{served.history}/experiments/pipeline-rest-endpoint/runs/{run_id}/details").json()
    assert details["runId"] == run_id and details["status"] == "Completed"
    assert served.runner.parameters[0].experiment == "pipeline-rest-endpoint"  # ExperimentName reaches the run


def test_runs_execute_one_at_a_time_in_submission_order_with_a_visible_queue(served: Served) -> None:
    first, second, third = served.submit("a"), served.submit("b"), served.submit("c")
    served.wait_status(first, "Running")
    assert served.queue() == [(first, "Running"), (second, "Queued"), (third, "Queued")]
    assert served.status(second) == "Queued" and served.steps(second) == {}

    served.runner.gate("a").set()
    served.wait_status(second, "Running")
    assert served.status(first) == "Completed"
    assert served.queue() == [(second, "Running"), (third, "Queued")]

    served.runner.gate("b").set()
    served.runner.gate("c").set()
    served.wait_status(third, "Completed")
    assert served.runner.started == ["a", "b", "c"]
    assert served.runner.max_running == 1
    assert served.queue() == []
    for run_id in (first, second, third):  # the log tells each run's story in order
        lines = [line.split(run_id, 1)[1].split()[0] for line in served.log if f"run {run_id} " in line]
        assert lines[:2] == ["submitted", "Running"] and lines[-1] == "Completed", lines


def test_canceling_a_queued_run_ends_it_before_it_starts(served: Served) -> None:
    first, second = served.submit("a"), served.submit("b")
    served.wait_status(first, "Running")
    cancel_url = f"{served.publisher.info.base_url}/pipelines/v1.0/{served.publisher.info.workspace_path}"
    response = served.http.post(f"{cancel_url}/PipelineRuns/{second}/Cancel")
    assert response.status_code == 200 and response.json()["status"] == "Canceled"
    assert served.queue() == [(first, "Running")]

    served.runner.gate("a").set()
    served.wait_status(first, "Completed")
    assert served.runner.started == ["a"]  # the canceled run never ran
    assert served.run(second)["error"]["error"]["message"] == "canceled before it started"


def test_canceling_the_running_run_stops_it_and_the_next_one_runs(served: Served) -> None:
    first, second = served.submit("a"), served.submit("b")
    poll_until(lambda: served.steps(first), lambda s: s.get("train") == "Running")
    base = f"{served.publisher.info.base_url}/pipelines/v1.0/{served.publisher.info.workspace_path}"
    response = served.http.post(f"{base}/PipelineRuns/{first}/Cancel")
    assert response.status_code == 200
    assert response.json()["status"] in ("CancelRequested", "Canceled")

    canceled = served.wait_status(first, "Completed", "Failed", "Canceled")
    assert canceled["status"] == "Canceled"
    assert served.steps(first)["train"] == "Canceled"
    served.wait_status(second, "Running")
    served.runner.gate("b").set()
    assert served.wait_status(second, "Completed", "Failed", "Canceled")["status"] == "Completed"

    again = served.http.post(f"{base}/PipelineRuns/{first}/Cancel")
    assert again.status_code == 409
    assert "already ended Canceled" in again.json()["error"]["message"]


def test_a_failing_step_fails_the_run_names_the_step_and_the_queue_goes_on(served: Served) -> None:
    failing = served.submit("a", fail_step="train")
    after = served.submit("b")
    served.runner.gate("a").set()
    failed = served.wait_status(failing, "Completed", "Failed", "Canceled")
    assert failed["status"] == "Failed"
    assert failed["error"]["error"]["message"] == "step train failed: the dataset has no 'y' column"
    assert failed["properties"]["mlflowRunId"] == "mlflow-a"  # so the failure can be looked up in MLflow
    children = served.http.get(f"{served.history}/experiments/pipeline-rest-endpoint/runs/{failing}/children").json()
    train = next(c for c in children["value"] if c["name"] == "train")
    assert train["status"] == "Failed" and train["error"]["error"]["message"] == "the dataset has no 'y' column"
    served.runner.gate("b").set()
    assert served.wait_status(after, "Completed", "Failed", "Canceled")["status"] == "Completed"


def test_parameter_assignments_become_the_pipelines_typed_parameters(served: Served) -> None:
    run_id = served.submit("a", time_budget_s="12.5", exclude="duration, pdays", port=5123, workers="2")
    served.runner.gate("a").set()
    served.wait_status(run_id, "Completed")
    (params,) = served.runner.parameters
    assert params == FakeParameters(
        experiment="pipeline-rest-endpoint",
        label="a",
        time_budget_s=12.5,
        exclude=("duration", "pdays"),
        port=5123,
        workers=2,
    )
    assert served.run(run_id)["tags"]["exclude"] == "duration, pdays"  # what was sent, as Azure keeps it


def test_pipeline_endpoint_urls_by_id_and_by_name_submit_too(served: Served) -> None:
    info = served.publisher.info
    body = {"ExperimentName": "pipeline-rest-endpoint", "RunSource": "SDK", "ParameterAssignments": {"label": "a"}}
    by_id = served.http.post(info.pipeline_endpoint_url, json=body)
    by_version = served.http.post(info.pipeline_endpoint_url + "/1", json=body)
    by_name_url = f"{info.base_url}/pipelines/v1.0/{info.workspace_path}/PipelineRuns/PipelineEndpointSubmit/Name"
    by_name = served.http.post(by_name_url, params={"name": info.endpoint_name, "pipelineVersion": "1"}, json=body)
    assert [r.status_code for r in (by_id, by_version, by_name)] == [200, 200, 200]
    wrong_name = served.http.post(by_name_url, params={"name": "other"}, json=body)
    assert (
        wrong_name.status_code == 404 and "no pipeline endpoint named 'other'" in wrong_name.json()["error"]["message"]
    )


# ------------------------------------------------------------------------------------------- 4xx


@pytest.mark.parametrize(
    ("body", "status", "target", "words"),
    [
        (b'{"ExperimentName": "x",', 400, None, "the body is not valid JSON"),
        (b"", 400, None, "the body is empty"),
        (b'["ExperimentName"]', 400, None, "the body must be a JSON object"),
        (b"{}", 400, "ExperimentName", "ExperimentName=None: a non-empty string is required"),
        (b'{"ExperimentName": "bad name!"}', 400, "ExperimentName", "ExperimentName='bad name!'"),
        (b'{"ExperimentName": "x", "Parameters": {}}', 400, "Parameters", "unknown field 'Parameters' in the body"),
        (
            b'{"ExperimentName": "x", "ParameterAssignments": {"max_depth": "3"}}',
            400,
            "ParameterAssignments.max_depth",
            "ParameterAssignments.max_depth: unknown pipeline parameter; the pipeline accepts: label, time_budget_s",
        ),
        (
            b'{"ExperimentName": "x", "ParameterAssignments": {"time_budget_s": "soon"}}',
            400,
            "ParameterAssignments.time_budget_s",
            "ParameterAssignments.time_budget_s: 'soon' is not a number",
        ),
        (
            b'{"ExperimentName": "x", "ParameterAssignments": {"workers": "1.5"}}',
            400,
            "ParameterAssignments.workers",
            "'1.5' is not a whole number",
        ),
        (
            b'{"ExperimentName": "x", "ParameterAssignments": {"experiment": "y"}}',
            400,
            "ParameterAssignments.experiment",
            "set by the body's ExperimentName",
        ),
        (b'{"ExperimentName": "x", "ParameterAssignments": ["a"]}', 400, "ParameterAssignments", "expected an object"),
        (
            b'{"ExperimentName": "x", "DataPathAssignments": {"d": {}}}',
            400,
            "DataPathAssignments",
            "data paths exist only on Azure",
        ),
    ],
)
def test_bad_submissions_get_a_clear_400_in_azures_error_shape(
    served: Served, body: bytes, status: int, target: str | None, words: str
) -> None:
    response = served.http.post(served.submit_url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    answer = response.json()
    assert words in answer["error"]["message"]
    assert answer["error"]["code"] in ("UserError", "ValidationError")
    assert answer["error"].get("target") == target
    assert answer["correlation"]["RequestId"] == response.headers["x-ms-request-id"]
    assert served.queue() == []  # nothing was queued
    assert served.runner.started == []


def test_a_body_over_the_limit_gets_413_without_being_read(served: Served) -> None:
    from bankscore.pipeline._publish import MAX_TRIGGER_BODY_BYTES

    body = b'{"ExperimentName": "x", "Description": "' + b"x" * MAX_TRIGGER_BODY_BYTES + b'"}'
    response = served.http.post(served.submit_url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert f"the limit is {MAX_TRIGGER_BODY_BYTES}" in response.json()["error"]["message"]
    assert served.queue() == []


def test_unknown_ids_routes_and_methods_are_named_in_4xx_answers(served: Served) -> None:
    info = served.publisher.info
    body = {"ExperimentName": "x"}
    prefix = f"{info.base_url}/pipelines/v1.0/{info.workspace_path}/PipelineRuns"
    cases = [
        ("POST", f"{prefix}/PipelineSubmit/0b7c5d2e-0000-4000-8000-000000000000", 404, "no published pipeline with id"),
        (
            "POST",
            info.published_pipeline_url.replace("/workspaces/bankscore/", "/workspaces/other/"),
            404,
            "no workspace 'other'",
        ),
        ("GET", info.published_pipeline_url, 405, "GET is not allowed"),
        ("GET", f"{served.history}/experiments/x/runs/no-such-run", 404, "no run with id 'no-such-run'"),
        ("POST", f"{prefix}/no-such-run/Cancel", 404, "no run with id 'no-such-run'"),
        ("GET", f"{info.base_url}/score", 404, "no route GET /score"),
    ]
    for method, url, status, words in cases:
        response = served.http.request(method, url, json=body)
        assert response.status_code == status, (url, response.text)
        assert words in response.json()["error"]["message"], response.text

    run_id = served.submit("a")
    wrong_experiment = served.http.get(f"{served.history}/experiments/elsewhere/runs/{run_id}")
    assert wrong_experiment.status_code == 404
    assert f"no run '{run_id}' in experiment 'elsewhere'" in wrong_experiment.json()["error"]["message"]


def test_a_missing_malformed_or_wrong_token_gets_401_and_the_token_never_shows(served: Served) -> None:
    url = served.submit_url
    body = {"ExperimentName": "x"}
    cases = [
        ({}, "the Authorization header is missing"),
        ({"Authorization": TOKEN}, "must have the form 'Bearer <token>'"),
        ({"Authorization": f"Basic {TOKEN}"}, "must have the form 'Bearer <token>'"),
        ({"Authorization": "Bearer"}, "must have the form 'Bearer <token>'"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "the bearer token is not valid for this publisher"),
    ]
    with httpx.Client(timeout=30) as anonymous:
        for headers, words in cases:
            for response in (
                anonymous.post(url, json=body, headers=headers),
                anonymous.get(served.publisher.info.queue_url, headers=headers),
            ):
                assert response.status_code == 401, headers
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert words in response.json()["error"]["message"]
                assert TOKEN not in response.text
    assert served.runner.started == []
    assert served.log and not any(TOKEN in line for line in served.log)
    assert TOKEN not in repr(served.publisher)


def test_the_publisher_saves_its_urls_and_a_private_token_in_the_workspace(served: Served, tmp_path: Path) -> None:
    from bankscore.pipeline import load_publisher

    served.publisher.save()
    info = load_publisher()
    assert info == served.publisher.info
    token_file = tmp_path / "ws" / "pipelines" / "publisher" / "token.json"
    assert json.loads(token_file.read_text()) == {"token": TOKEN}
    assert token_file.stat().st_mode & 0o077 == 0
    assert TOKEN not in (tmp_path / "ws" / "pipelines" / "publisher" / "publisher.json").read_text()


# ------------------------------------------------------------------------------------------- the command


def _bankscore(*args: str, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "BANKSCORE_HOME": str(home), "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.Popen(
        [sys.executable, "-m", "bankscore.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_publish_command_serves_and_ctrl_c_cancels_the_running_and_queued_runs(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    proc = _bankscore(
        "pipeline", "publish", "--port", "0", "--token", TOKEN, "--program", "test_publish:gated_program", home=home
    )
    try:
        state = home / "pipelines" / "publisher" / "publisher.json"
        info = poll_until(lambda: json.loads(state.read_text()) if state.is_file() else None, lambda i: i is not None)
        assert info["pid"] == proc.pid
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
            submitted = [
                http.post(
                    info["published_pipeline_url"], json={"ExperimentName": "x", "ParameterAssignments": {"label": n}}
                )
                for n in ("a", "b")
            ]
            assert [r.status_code for r in submitted] == [200, 200]
            poll_until(lambda: http.get(info["queue_url"]).json()["value"][0]["status"], lambda s: s == "Running")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert info["published_pipeline_url"] in out
    first, second = (r.json()["Id"] for r in submitted)
    assert f"run {second} Canceled (it was queued)" in err
    assert f"run {first} Canceled: canceled during train" in err
    assert "Traceback" not in err
    assert TOKEN not in out + err
    assert not state.exists()  # no stale endpoint left for `trigger` to find
    assert (home / "pipelines" / "publisher" / "token.json").is_file()  # the token stays for the next start


def test_publish_command_names_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = _bankscore(
            "pipeline", "publish", "--port", str(port), "--program", "test_publish:gated_program", home=tmp_path / "ws"
        )
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_the_real_pipelines_parameters_are_checked_before_anything_is_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "ws"))
    cases = {
        # The pipeline's own checks are named like the publisher's: the parameter, then the value as sent.
        "exclude": ("salary", "ParameterAssignments.exclude: 'salary': salary is not a Bank Marketing feature"),
        "time_budget_s": ("-5", "ParameterAssignments.time_budget_s: '-5': must be a positive number of seconds"),
        "port": ("80", "ParameterAssignments.port: '80': must be between 1024 and 65535 (a port below 1024 is a"),
        "seed": ("1.5", "ParameterAssignments.seed: '1.5' is not a whole number"),
        "budget": ("60", "ParameterAssignments.budget: unknown pipeline parameter; the pipeline accepts: dataset"),
    }
    with (
        PipelinePublisher(TOKEN) as publisher,  # bankscore's own pipeline behind it
        httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
    ):
        for name, (value, words) in cases.items():
            body = {"ExperimentName": "x", "ParameterAssignments": {name: value}}
            response = http.post(publisher.info.published_pipeline_url, json=body)
            assert response.status_code == 400, response.text
            assert words in response.json()["error"]["message"]
            assert response.json()["error"]["target"] == f"ParameterAssignments.{name}"
        assert publisher.queue.active() == []
