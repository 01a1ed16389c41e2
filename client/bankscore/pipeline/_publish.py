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

A Flask app served by werkzeug's threaded server. Every answer, errors included, is JSON in Azure's shapes
(``_rest``) with an ``x-ms-request-id`` header; errors carry that id as ``correlation.RequestId``.
"""

from __future__ import annotations

import hmac
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server, select_address_family

from bankscore._exceptions import BankscoreError
from bankscore.pipeline._publisher_state import (
    LOCAL_RESOURCE_GROUP,
    LOCAL_SUBSCRIPTION,
    LOCAL_WORKSPACE,
    PublisherInfo,
    save_publisher,
)
from bankscore.pipeline._queue import ParameterError, PipelineProgram, RunQueue, RunRecord, parse_assignments
from bankscore.pipeline._rest import (
    RequestError,
    error_body,
    parse_submit_body,
    run_details_json,
    run_json,
    step_json,
    submitted_json,
)

__all__ = ["MAX_TRIGGER_BODY_BYTES", "PipelinePublisher"]

MAX_TRIGGER_BODY_BYTES = 1 << 20  # the largest request body the publisher reads
_WS = "subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<ws>"
_RUNS = f"/pipelines/v1.0/{_WS}/PipelineRuns"
_HISTORY = f"/history/v1.0/{_WS}/experiments/<experiment>/runs/<run_id>"
Log = Callable[[str], None]


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
        log: Log | None = None,
    ) -> None:
        if not token:
            raise BankscoreError("the publisher needs a non-empty token")
        if program is None:
            from bankscore.pipeline._queue import default_program

            program = default_program()
        self._token = token
        self._log = log
        self.queue = RunQueue(program, log=self.log)
        self._server = _serve(_make_app(self), host, port, log=self.log)
        self.info = PublisherInfo(
            base_url=f"http://{host}:{self._server.port}",
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
        save_publisher(self.info, self._token)

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM-as-KeyboardInterrupt (werkzeug's loop then returns) or
        ``close()`` from another thread. The caller then calls ``close()`` to stop the runs."""
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

    # ----------------------------------------------------------------------------------------- checks

    def check_auth(self, header: str | None) -> None:
        if not header:
            raise RequestError(401, "the Authorization header is missing; send 'Authorization: Bearer <token>'")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise RequestError(401, "the Authorization header must have the form 'Bearer <token>'")
        if not hmac.compare_digest(given.strip().encode(), self._token.encode()):
            raise RequestError(401, "the bearer token is not valid for this publisher")

    def check_workspace(self, sub: str, rg: str, ws: str) -> None:
        info = self.info
        for given, expected, what in (
            (sub, info.subscription, "subscription"),
            (rg, info.resource_group, "resource group"),
            (ws, info.workspace, "workspace"),
        ):
            if given.lower() != expected.lower():
                raise RequestError(404, f"no {what} {given!r} here (this one is {expected!r})")

    def find(self, run_id: str) -> RunRecord:
        record = self.queue.get(run_id)
        if record is None:
            raise RequestError(404, f"no run with id {run_id!r}", target="runId")
        return record


# --------------------------------------------------------------------------------------------- the app


def _answer(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


def _request_id() -> str:
    if "request_id" not in g:
        g.request_id = str(uuid.uuid4())
    return str(g.request_id)


def _error(error: RequestError) -> Response:
    return _answer(error_body(error, _request_id()), error.status)


def _make_app(publisher: PipelinePublisher) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_TRIGGER_BODY_BYTES
    # Routes answer exactly the methods they declare: no automatic OPTIONS answer that would skip the checks.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    _add_checks(app, publisher)
    _add_routes(app, publisher)
    app.wsgi_app = _AzurePaths(app)  # type: ignore[method-assign]
    return app


class _AzurePaths:
    """Azure's REST paths ignore case and a trailing slash; werkzeug's routing minds both.

    So before routing, a path that matches a route but for those is rewritten to the route's own spelling, its
    variable segments (ids, names) kept as sent.
    """

    def __init__(self, app: Flask) -> None:
        self._wsgi_app = app.wsgi_app
        rules = [rule.rule.strip("/").split("/") for rule in app.url_map.iter_rules()]
        self._rules = sorted(rules, key=lambda parts: sum(p.startswith("<") for p in parts))  # literal first

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ["PATH_INFO"] = self._canonical(environ.get("PATH_INFO", ""))
        return self._wsgi_app(environ, start_response)

    def _canonical(self, path: str) -> str:
        given = path.strip("/").split("/")
        for rule in self._rules:
            if len(rule) == len(given) and all(
                r.startswith("<") or r.lower() == g.lower() for r, g in zip(rule, given, strict=True)
            ):
                return "/" + "/".join(g if r.startswith("<") else r for r, g in zip(rule, given, strict=True))
        return path


def _add_checks(app: Flask, publisher: PipelinePublisher) -> None:
    """Auth and workspace before every route; Azure's error shape and headers on every answer."""

    @app.url_value_preprocessor
    def take_workspace(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values is not None and "ws" in values:  # every route has it; the views need not take it
            g.workspace = (values.pop("sub"), values.pop("rg"), values.pop("ws"))

    @app.before_request
    def check_request() -> None:
        publisher.check_auth(request.headers.get("Authorization"))  # first, so no route is shown to a stranger
        if "workspace" in g:
            publisher.check_workspace(*g.workspace)

    @app.after_request
    def add_headers(response: Response) -> Response:
        response.headers["x-ms-request-id"] = _request_id()
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.errorhandler(RequestError)
    def request_error(error: RequestError) -> Response:
        return _error(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if isinstance(error, NotFound):
            return _error(RequestError(404, f"no route {request.method} {request.path}"))
        if isinstance(error, MethodNotAllowed):
            allowed = ", ".join(m for m in error.valid_methods or () if m not in ("HEAD", "OPTIONS"))
            return _error(RequestError(405, f"{request.method} is not allowed on {request.path}; use {allowed}"))
        if isinstance(error, RequestEntityTooLarge):
            size = request.content_length
            if size is None:  # a chunked body
                return _error(RequestError(413, f"the body is over the limit of {MAX_TRIGGER_BODY_BYTES} bytes"))
            return _error(RequestError(413, f"the body has {size} bytes; the limit is {MAX_TRIGGER_BODY_BYTES}"))
        return _error(RequestError(error.code or 400, error.description or error.name))

    @app.errorhandler(Exception)
    def publisher_bug(exc: Exception) -> Response:  # answer 500 rather than drop the connection
        publisher.log(f"request {_request_id()} failed: {type(exc).__name__}: {exc}")
        return _error(RequestError(500, f"the publisher failed: {type(exc).__name__}", code="ServiceError"))


def _add_routes(app: Flask, publisher: PipelinePublisher) -> None:
    def submit() -> Response:
        """Queue a run from the request body; the route has checked the pipeline id or endpoint it names."""
        data = request.get_data(cache=False)
        # werkzeug stops a chunked body at the limit; reading on says if it was over
        if len(data) >= MAX_TRIGGER_BODY_BYTES:
            request.stream.read(1)
        body = parse_submit_body(data)
        experiment = body["ExperimentName"]
        assignments = body.get("ParameterAssignments") or {}
        try:
            parameters = parse_assignments(publisher.queue.program, experiment, assignments)
        except ParameterError as exc:
            raise RequestError(400, str(exc), code="ValidationError", target=exc.target) from None
        run_source = str(body.get("RunSource", "SDK"))
        try:
            record = publisher.queue.submit(experiment, parameters, dict(assignments), run_source)
        except BankscoreError as exc:
            raise RequestError(503, str(exc), code="TransientError") from None
        return _answer(submitted_json(record, publisher.info))

    @app.post(f"{_RUNS}/PipelineSubmit/<pipeline_id>")
    def submit_to_pipeline(pipeline_id: str) -> Response:
        if pipeline_id.lower() != publisher.info.pipeline_id.lower():
            raise RequestError(404, f"no published pipeline with id {pipeline_id!r}")
        return submit()

    @app.post(f"{_RUNS}/PipelineEndpointSubmit/Id/<endpoint_id>")
    @app.post(f"{_RUNS}/PipelineEndpointSubmit/Id/<endpoint_id>/<version>")
    def submit_to_endpoint(endpoint_id: str, version: str | None = None) -> Response:
        if endpoint_id.lower() != publisher.info.endpoint_id.lower():
            raise RequestError(404, f"no pipeline endpoint with id {endpoint_id!r}")
        return submit()  # the endpoint has one version: any version asked for runs it

    @app.post(f"{_RUNS}/PipelineEndpointSubmit/Name")
    def submit_to_endpoint_by_name() -> Response:
        name = request.args.get("name", "")
        if name != publisher.info.endpoint_name:
            raise RequestError(404, f"no pipeline endpoint named {name!r}", target="name")
        return submit()

    @app.post(f"{_RUNS}/<run_id>/Cancel")
    def cancel(run_id: str) -> Response:
        before = publisher.find(run_id)
        if before.status in ("Completed", "Failed", "Canceled"):
            raise RequestError(409, f"run {run_id!r} already ended {before.status}; nothing to cancel", target="runId")
        record = publisher.queue.cancel(run_id) or before
        publisher.log(f"run {run_id} cancel requested ({record.status})")
        return _answer(run_json(record, publisher.info))

    @app.get(f"{_RUNS}/Queue")
    def queue() -> Response:
        return _answer({"value": [run_json(r, publisher.info) for r in publisher.queue.active()]})

    def find_in(experiment: str, run_id: str) -> RunRecord:
        record = publisher.find(run_id)
        if experiment != record.experiment:
            raise RequestError(404, f"no run {run_id!r} in experiment {experiment!r}", target="experimentName")
        return record

    @app.get(_HISTORY)
    def run(experiment: str, run_id: str) -> Response:
        return _answer(run_json(find_in(experiment, run_id), publisher.info))

    @app.get(f"{_HISTORY}/details")
    def run_details(experiment: str, run_id: str) -> Response:
        return _answer(run_details_json(find_in(experiment, run_id), publisher.info))

    @app.get(f"{_HISTORY}/children")
    def run_steps(experiment: str, run_id: str) -> Response:
        record = find_in(experiment, run_id)
        return _answer({"value": [step_json(s, record) for s in record.steps], "continuationToken": None})


# --------------------------------------------------------------------------------------------- the server


def _serve(app: Flask, host: str, port: int, *, log: Log) -> BaseWSGIServer:
    """werkzeug's threaded server for ``app``, listening on ``host:port`` (0: a free port).

    The socket is bound here: werkzeug's own bind prints to stderr and exits the process when the port is taken,
    and the CLI names the port itself from the ``OSError``.
    """
    listener = socket.create_server((host, port), family=select_address_family(host, port))
    try:
        return make_server(host, port, app, threaded=True, request_handler=_request_log(log), fd=listener.fileno())
    finally:
        listener.close()  # werkzeug listens on its own duplicate of the socket


def _request_log(log: Log) -> type[WSGIRequestHandler]:
    class RequestLog(WSGIRequestHandler):
        """werkzeug's handler, logging to the publisher's log; errors only, since status polls come every few
        seconds and would drown it."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if str(code).isdigit() and int(code) < 400:
                return
            self.log("info", '"%s" %s %s', self.requestline, code, size)

        def log(self, type: str, message: str, *args: Any) -> None:
            log(f"{self.address_string()} {message % args}")

    return RequestLog
