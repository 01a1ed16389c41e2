"""``bankscore pipeline publish``: the retraining pipeline behind a REST endpoint in Azure's PublishedPipeline contract.

Routes (``{ws}`` is ``subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/
workspaces/{workspace}``; every route needs ``Authorization: Bearer <token>``):

    POST /pipelines/v1.0/{ws}/PipelineRuns/PipelineSubmit/{publishedPipelineId}        submit a run
    POST /pipelines/v1.0/{ws}/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}[/{version}]
    POST /pipelines/v1.0/{ws}/PipelineRuns/PipelineEndpointSubmit/Name?name={name}[&pipelineVersion=]
         body {"ExperimentName": ..., "ParameterAssignments": {...}, "RunSource": ...} -> {"Id": run id, ...}
    GET  /history/v1.0/{ws}/experiments/{experiment}/runs/{runId}                       Run (status, times, error)
    GET  /history/v1.0/{ws}/experiments/{experiment}/runs/{runId}/details               RunDetails
    GET  /history/v1.0/{ws}/experiments/{experiment}/runs/{runId}/children              the steps, as child runs
    POST /pipelines/v1.0/{ws}/PipelineRuns/{runId}/Cancel                                cancel a run
    GET  /pipelines/v1.0/{ws}/PipelineRuns/Queue        (bankscore's own) the running run, then the queued ones

Errors come in Run History's ErrorResponse shape: ``{"error": {"code", "message", "target", "details"},
"correlation": {"RequestId"}, ...}``. The endpoint URLs and the token are saved in the workspace
(``<workspace>/pipelines/publisher/``; the token file is mode 0600) so ``bankscore pipeline trigger`` finds them.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bankscore import workspace
from bankscore._exceptions import BankscoreError
from bankscore.pipeline._queue import (
    ParameterError,
    PipelineProgram,
    RunQueue,
    RunRecord,
    StepRecord,
    parse_assignments,
)

__all__ = [
    "LOCAL_RESOURCE_GROUP",
    "LOCAL_SUBSCRIPTION",
    "LOCAL_WORKSPACE",
    "PipelinePublisher",
    "PublisherInfo",
    "forget_publisher",
    "load_publisher",
    "new_token",
    "publisher_dir",
    "saved_token",
]

LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "local"
LOCAL_WORKSPACE = "bankscore"
MAX_BODY_BYTES = 1 << 20
# Body keys Azure's submit routes take. The data-path ones only mean something on Azure and must stay empty.
_BODY_KEYS = ("ExperimentName", "ParameterAssignments", "RunSource", "Description", "DataPathAssignments")
_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")  # Azure's experiment-name rule
_WS = (
    r"subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
)
_SUBMIT = re.compile(
    rf"^/pipelines/v1\.0/{_WS}/PipelineRuns/"
    r"(?:PipelineSubmit/(?P<pipeline>[^/]+)|PipelineEndpointSubmit/Id/(?P<endpoint>[^/]+)(?:/(?P<version>[^/]+))?"
    r"|(?P<by_name>PipelineEndpointSubmit/Name))$",
    re.IGNORECASE,
)
_CANCEL = re.compile(rf"^/pipelines/v1\.0/{_WS}/PipelineRuns/(?P<run>[^/]+)/Cancel$", re.IGNORECASE)
_QUEUE = re.compile(rf"^/pipelines/v1\.0/{_WS}/PipelineRuns/Queue$", re.IGNORECASE)
_HISTORY = re.compile(
    rf"^/history/v1\.0/{_WS}/experiments/(?P<exp>[^/]+)/runs/(?P<run>[^/]+)(?P<tail>/details|/children)?$",
    re.IGNORECASE,
)


def new_token() -> str:
    """A fresh bearer token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def publisher_dir() -> Path:
    return workspace.home() / "pipelines" / "publisher"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def saved_token() -> str | None:
    path = publisher_dir() / "token.json"
    return str(json.loads(path.read_text())["token"]) if path.is_file() else None


@dataclass(frozen=True)
class PublisherInfo:
    """Where a running local publisher listens. Saved as ``publisher.json``; the token is kept apart."""

    base_url: str
    subscription: str
    resource_group: str
    workspace: str
    pipeline_id: str
    endpoint_id: str
    endpoint_name: str
    pid: int
    started_at: str

    @property
    def workspace_path(self) -> str:
        return (
            f"subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    @property
    def published_pipeline_url(self) -> str:
        """The published pipeline's REST endpoint (Azure's ``published_pipeline.endpoint``)."""
        return f"{self.base_url}/pipelines/v1.0/{self.workspace_path}/PipelineRuns/PipelineSubmit/{self.pipeline_id}"

    @property
    def pipeline_endpoint_url(self) -> str:
        """The pipeline endpoint's REST endpoint (Azure's ``PipelineEndpoint.endpoint``)."""
        return (
            f"{self.base_url}/pipelines/v1.0/{self.workspace_path}/PipelineRuns/PipelineEndpointSubmit/Id/"
            f"{self.endpoint_id}"
        )

    @property
    def queue_url(self) -> str:
        return f"{self.base_url}/pipelines/v1.0/{self.workspace_path}/PipelineRuns/Queue"

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "published_pipeline_url": self.published_pipeline_url,
            "pipeline_endpoint_url": self.pipeline_endpoint_url,
            "queue_url": self.queue_url,
        }


def load_publisher() -> PublisherInfo | None:
    """The local publisher saved in the workspace, or None when none was started here."""
    path = publisher_dir() / "publisher.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return PublisherInfo(**{k: data[k] for k in PublisherInfo.__dataclass_fields__})


def forget_publisher(pid: int | None = None) -> None:
    """Remove the saved publisher state (only ``pid``'s, when given); the token stays for the next start."""
    info = load_publisher()
    if info is not None and (pid is None or info.pid == pid):
        (publisher_dir() / "publisher.json").unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------- Azure shapes


class _RequestError(Exception):
    """An error answer: HTTP status, Azure error code, message, and the field at fault."""

    def __init__(self, status: int, message: str, *, code: str = "UserError", target: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        super().__init__(message)


def _error_body(error: _RequestError, request_id: str) -> dict[str, Any]:
    root: dict[str, Any] = {"code": error.code, "message": error.message, "details": []}
    if error.target:
        root["target"] = error.target
    return {
        "error": root,
        "correlation": {"operation": request_id, "request": request_id, "RequestId": request_id},
        "environment": "local",
        "location": "local",
        "time": datetime.now(UTC).isoformat(),
    }


def _run_error(message: str | None) -> dict[str, Any] | None:
    return {"error": {"code": "UserError", "message": message}} if message else None


def _run_json(record: RunRecord, info: PublisherInfo) -> dict[str, Any]:
    """A pipeline run as Run History's ``Run``."""
    return {
        "runId": record.run_id,
        "rootRunId": record.run_id,
        "parentRunId": None,
        "experimentId": record.experiment,
        "name": record.experiment,
        "status": record.status,
        "createdUtc": record.created,
        "startTimeUtc": record.started,
        "endTimeUtc": record.ended,
        "error": _run_error(record.error),
        "warnings": [],
        "runType": "azureml.PipelineRun",
        "target": "local",
        "properties": {
            "azureml.runsource": "azureml.PipelineRun",
            "runSource": record.run_source,
            "azureml.pipelineid": info.pipeline_id,
            **record.outputs,
        },
        "tags": {k: json.dumps(v) if not isinstance(v, str) else v for k, v in record.assignments.items()},
    }


def _step_json(step: StepRecord, record: RunRecord) -> dict[str, Any]:
    """A step as a child ``Run`` (Azure's StepRun)."""
    properties = {"message": step.message} if step.message else {}
    if step.elapsed_s is not None:
        properties["elapsedSeconds"] = f"{step.elapsed_s:.3f}"
    return {
        "runId": step.run_id,
        "rootRunId": record.run_id,
        "parentRunId": record.run_id,
        "experimentId": record.experiment,
        "name": step.name,
        "status": step.status,
        "startTimeUtc": step.started,
        "endTimeUtc": step.ended,
        "error": _run_error(step.message) if step.status == "Failed" else None,
        "runType": "azureml.StepRun",
        "target": "local",
        "properties": properties,
    }


def _submitted_json(record: RunRecord, info: PublisherInfo) -> dict[str, Any]:
    """The answer to a submit: Azure's PipelineRun entity (the seed reads only ``Id``)."""
    return {
        "Id": record.run_id,
        "Description": None,
        "Status": {"StatusCode": 0, "StatusDetail": record.status, "CreationTime": record.created, "EndTime": None},
        "IsSubmitted": True,
        "HasErrors": False,
        "HasWarnings": False,
        "ParameterAssignments": record.assignments,
        "RunHistoryExperimentName": record.experiment,
        "PipelineId": info.pipeline_id,
        "RunSource": record.run_source,
        "tags": {},
        "Properties": {},
    }


# --------------------------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    server: _PublisherServer
    protocol_version = "HTTP/1.1"
    server_version = "bankscore-pipelines"
    # Headers and body leave in one write, without Nagle: otherwise every answer waits ~40 ms for a delayed ACK.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) < 400:  # status polls every few seconds would drown the log
            return
        super().log_request(code, size)

    def log_message(self, format: str, *args: Any) -> None:
        self.server.publisher.log(f"{self.address_string()} {format % args}")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        request_id = str(uuid.uuid4())
        try:
            # Read the body first so that an error answer leaves the connection usable.
            body = self._read_body()
            status, answer = self.server.publisher.handle(method, self.path, self.headers.get("Authorization"), body)
        except _RequestError as error:
            status, answer = error.status, _error_body(error, request_id)
        except Exception as exc:  # a publisher bug: answer 500 rather than drop the connection
            self.server.publisher.log(f"request {request_id} failed: {type(exc).__name__}: {exc}")
            failure = _RequestError(500, f"the publisher failed: {type(exc).__name__}", code="ServiceError")
            status, answer = failure.status, _error_body(failure, request_id)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", request_id)
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", "Bearer")
        if self.close_connection:  # tell the client, so it does not send its next request down a closed socket
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True  # where the body ends is unknown
            raise _RequestError(400, f"Content-Length {length!r} is not a number", target="Content-Length") from None
        if size > MAX_BODY_BYTES:
            # Drain a moderately large body so the connection stays usable; close it after a huge one.
            if size <= 16 * MAX_BODY_BYTES:
                while size > 0:
                    size -= len(self.rfile.read(min(size, 1 << 16))) or size
            else:
                self.close_connection = True
            raise _RequestError(413, f"the body has {length} bytes; the limit is {MAX_BODY_BYTES}")
        return self.rfile.read(size)


class _PublisherServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], publisher: PipelinePublisher) -> None:
        self.publisher = publisher
        super().__init__(address, _Handler)


class PipelinePublisher:
    """The REST publisher: an HTTP server on ``host:port`` and the queue its runs go through."""

    def __init__(
        self,
        token: str,
        *,
        program: PipelineProgram | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        pipeline_id: str | None = None,
        endpoint_id: str | None = None,
        endpoint_name: str = "bankmarketing-train",
        log: Any = None,
    ) -> None:
        if not token:
            raise BankscoreError("the publisher needs a non-empty token")
        if program is None:
            from bankscore.pipeline._queue import default_program

            program = default_program()
        self._token = token.encode()
        self._log = log
        self.queue = RunQueue(program, log=self.log)
        self._server = _PublisherServer((host, port), self)
        bound_port = int(self._server.server_address[1])
        self.info = PublisherInfo(
            base_url=f"http://{host}:{bound_port}",
            subscription=LOCAL_SUBSCRIPTION,
            resource_group=LOCAL_RESOURCE_GROUP,
            workspace=LOCAL_WORKSPACE,
            pipeline_id=pipeline_id or str(uuid.uuid4()),
            endpoint_id=endpoint_id or str(uuid.uuid4()),
            endpoint_name=endpoint_name,
            pid=os.getpid(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # the token stays out
        return f"PipelinePublisher({self.info.base_url!r})"

    def log(self, line: str) -> None:
        if self._log is not None:
            self._log(line)

    # ----------------------------------------------------------------------------------------- lifecycle

    def save(self) -> None:
        """Record the endpoint URLs, and the token (mode 0600), in the workspace for the CLI and scripts."""
        folder = publisher_dir()
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(folder / "token.json", json.dumps({"token": self._token.decode()}) + "\n")
        (folder / "publisher.json").write_text(json.dumps(self.info.to_dict(), indent=2) + "\n")

    def serve_forever(self) -> None:
        """Serve in this thread until ``shutdown()`` (or Ctrl-C, which the caller handles with ``close()``)."""
        self.queue.start()
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> None:
        """Serve in a background thread (tests, notebooks)."""
        self._thread = threading.Thread(target=self.serve_forever, name="bankscore-publisher", daemon=True)
        self._thread.start()

    def close(self, timeout: float | None = 60.0) -> bool:
        """Stop accepting requests, cancel the queued runs and the running one. True if the running one stopped."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        stopped = self.queue.close(timeout)
        self._server.server_close()
        return stopped

    def __enter__(self) -> PipelinePublisher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------- requests

    def _check_auth(self, header: str | None) -> None:
        if not header:
            raise _RequestError(401, "the Authorization header is missing; send 'Authorization: Bearer <token>'")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise _RequestError(401, "the Authorization header must have the form 'Bearer <token>'")
        if not hmac.compare_digest(given.strip().encode(), self._token):
            raise _RequestError(401, "the bearer token is not valid for this publisher")

    def _check_workspace(self, match: re.Match[str]) -> None:
        info = self.info
        for group, expected, what in (
            ("sub", info.subscription, "subscription"),
            ("rg", info.resource_group, "resource group"),
            ("ws", info.workspace, "workspace"),
        ):
            if unquote(match.group(group)).lower() != expected.lower():
                raise _RequestError(404, f"no {what} {unquote(match.group(group))!r} here (this one is {expected!r})")

    def handle(self, method: str, target: str, authorization: str | None, body: bytes) -> tuple[int, Any]:
        """Answer one request: (status, JSON body). Raises ``_RequestError`` for every error answer."""
        url = urlsplit(target)
        path = url.path.rstrip("/")
        self._check_auth(authorization)
        routes: list[tuple[str, re.Pattern[str], Any]] = [
            ("POST", _SUBMIT, lambda m: self._submit(m, parse_qs(url.query), body)),
            ("POST", _CANCEL, self._cancel),
            ("GET", _QUEUE, lambda m: (200, {"value": [_run_json(r, self.info) for r in self.queue.active()]})),
            ("GET", _HISTORY, self._history),
        ]
        for route_method, pattern, answer in routes:
            match = pattern.match(path)
            if match is None:
                continue
            if method != route_method:
                raise _RequestError(405, f"{method} is not allowed on {path}; use {route_method}")
            self._check_workspace(match)
            result: tuple[int, Any] = answer(match)
            return result
        raise _RequestError(404, f"no route {method} {path}")

    def _submit(self, match: re.Match[str], query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        info = self.info
        if match.group("pipeline") is not None and match.group("pipeline").lower() != info.pipeline_id.lower():
            raise _RequestError(404, f"no published pipeline with id {match.group('pipeline')!r}")
        if match.group("endpoint") is not None and match.group("endpoint").lower() != info.endpoint_id.lower():
            raise _RequestError(404, f"no pipeline endpoint with id {match.group('endpoint')!r}")
        if match.group("by_name") is not None and query.get("name", [""])[0] != info.endpoint_name:
            raise _RequestError(404, f"no pipeline endpoint named {query.get('name', [''])[0]!r}", target="name")
        request = self._parse_body(body)
        experiment = request["ExperimentName"]
        assignments = request.get("ParameterAssignments") or {}
        try:
            parameters = parse_assignments(self.queue.program, experiment, assignments)
        except ParameterError as exc:
            raise _RequestError(400, str(exc), code="ValidationError", target=exc.target) from None
        try:
            record = self.queue.submit(experiment, parameters, dict(assignments), str(request.get("RunSource", "SDK")))
        except BankscoreError as exc:
            raise _RequestError(503, str(exc), code="TransientError") from None
        return 200, _submitted_json(record, info)

    @staticmethod
    def _parse_body(body: bytes) -> dict[str, Any]:
        if not body.strip():
            raise _RequestError(400, 'the body is empty; send {"ExperimentName": "..."}', code="ValidationError")
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _RequestError(400, f"the body is not valid JSON: {exc}", code="ValidationError") from None
        if not isinstance(request, dict):
            raise _RequestError(400, "the body must be a JSON object", code="ValidationError")
        for key in request:
            if key not in _BODY_KEYS:
                raise _RequestError(
                    400,
                    f"unknown field {key!r} in the body; accepted: {', '.join(_BODY_KEYS)}",
                    code="ValidationError",
                    target=key,
                )
        experiment = request.get("ExperimentName")
        if not isinstance(experiment, str) or not experiment:
            raise _RequestError(
                400, f"ExperimentName={experiment!r}: a non-empty string is required", target="ExperimentName"
            )
        if not _EXPERIMENT_NAME.match(experiment):
            raise _RequestError(
                400,
                f"ExperimentName={experiment!r}: use letters, digits, '_' and '-' (up to 255; not first: '_', '-')",
                code="ValidationError",
                target="ExperimentName",
            )
        assignments = request.get("ParameterAssignments")
        if assignments is not None and not isinstance(assignments, dict):
            raise _RequestError(
                400,
                f"ParameterAssignments={assignments!r}: expected an object of name: value",
                code="ValidationError",
                target="ParameterAssignments",
            )
        if request.get("DataPathAssignments"):
            raise _RequestError(
                400,
                "DataPathAssignments: data paths exist only on Azure; pass ParameterAssignments.dataset instead",
                code="ValidationError",
                target="DataPathAssignments",
            )
        return request

    def _find(self, run_id: str) -> RunRecord:
        record = self.queue.get(run_id)
        if record is None:
            raise _RequestError(404, f"no run with id {run_id!r}", target="runId")
        return record

    def _history(self, match: re.Match[str]) -> tuple[int, Any]:
        record = self._find(unquote(match.group("run")))
        experiment = unquote(match.group("exp"))
        if experiment != record.experiment:
            raise _RequestError(404, f"no run {record.run_id!r} in experiment {experiment!r}", target="experimentName")
        tail = (match.group("tail") or "").lower()
        if tail == "/children":
            return 200, {"value": [_step_json(s, record) for s in record.steps], "continuationToken": None}
        run = _run_json(record, self.info)
        if tail == "/details":
            keys = (
                "runId",
                "target",
                "status",
                "startTimeUtc",
                "endTimeUtc",
                "error",
                "warnings",
                "tags",
                "properties",
            )
            return 200, {**{k: run[k] for k in keys}, "runDefinition": {}, "logFiles": {}, "revision": 1}
        return 200, run

    def _cancel(self, match: re.Match[str]) -> tuple[int, Any]:
        run_id = unquote(match.group("run"))
        before = self._find(run_id)
        if before.status in ("Completed", "Failed", "Canceled"):
            raise _RequestError(409, f"run {run_id!r} already ended {before.status}; nothing to cancel", target="runId")
        record = self.queue.cancel(run_id) or before
        self.log(f"run {run_id} cancel requested ({record.status})")
        return 200, _run_json(record, self.info)
