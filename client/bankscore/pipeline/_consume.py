"""Trigger and watch published pipelines: on Azure ML, and on bankscore's local publisher, with one API.

Azure ML's documented way to start a published pipeline is ``requests.post(published_pipeline.endpoint,
headers=auth_header, json={"ExperimentName": ...})``, reading ``response.json()["Id"]``. ``trigger`` does the same
against either URL form Azure hands out:

    https://{region}.api.azureml.ms/pipelines/v1.0/{ws}/PipelineRuns/PipelineSubmit/{publishedPipelineId}
    https://{region}.api.azureml.ms/pipelines/v1.0/{ws}/PipelineRuns/PipelineEndpointSubmit/Id/{endpointId}[/{version}]
    https://{region}.api.azureml.ms/pipelines/v1.0/{ws}/PipelineRuns/PipelineEndpointSubmit/Name?name=...

(``{ws}`` = ``subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{name}``).
``status`` and ``wait`` read the run from Run History on the same host
(``/history/v1.0/{ws}/experiments/{experiment}/runs/{runId}`` and its ``/children``, the steps), which is why
they need the experiment name the run was submitted to.

The bearer token is the one given, else the local publisher's saved token when the URL is the local
publisher's, else an Azure AD token for ``https://management.azure.com/.default`` from azure-identity's
``DefaultAzureCredential`` when that optional package is installed. Tokens never appear in reprs or errors.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from bankscore import workspace
from bankscore._auth import FixedToken, TokenAuth, TokenCredential
from bankscore._exceptions import APIConnectionError, APIStatusError, APITimeoutError, BankscoreError, status_error

__all__ = [
    "AZURE_SCOPE",
    "TERMINAL_STATUSES",
    "PipelineEndpoint",
    "PipelineError",
    "PipelineRunStatus",
    "PipelineTimeoutError",
    "StepStatus",
    "cancel",
    "parse_endpoint",
    "queue",
    "status",
    "trigger",
    "wait",
]

AZURE_SCOPE = "https://management.azure.com/.default"  # the ARM audience of Azure ML's bearer tokens
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_SUBMIT_PATH = re.compile(
    r"^(?P<api>/pipelines/v1\.0|/api/v1\.0)/"
    r"(?P<ws>subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+)"
    r"/PipelineRuns/(?P<kind>PipelineSubmit/[^/]+|PipelineEndpointSubmit/Id/[^/]+(?:/[^/]+)?|PipelineEndpointSubmit/Name)/?$",
    re.IGNORECASE,
)


class PipelineError(BankscoreError):
    """A pipeline endpoint URL, token or answer bankscore cannot use."""


class PipelineTimeoutError(PipelineError):
    """``wait`` gave up before the run ended. ``last`` is the last status read (the run goes on)."""

    def __init__(self, message: str, last: PipelineRunStatus | None) -> None:
        self.last = last
        super().__init__(message)


# --------------------------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class PipelineEndpoint:
    """A parsed published-pipeline or pipeline-endpoint URL, and the Run History URLs on the same host."""

    submit_url: str
    base: str  # scheme://host[:port]
    api: str  # /pipelines/v1.0 (or the older /api/v1.0 of *.aether.ms hosts)
    workspace_path: str
    kind: str  # "PipelineSubmit", "PipelineEndpointSubmit/Id" or "PipelineEndpointSubmit/Name"

    @property
    def is_local(self) -> bool:
        return (urlsplit(self.base).hostname or "") in _LOOPBACK

    def run_url(self, experiment: str, run_id: str) -> str:
        return f"{self.base}/history/v1.0/{self.workspace_path}/experiments/{quote(experiment)}/runs/{quote(run_id)}"

    def cancel_url(self, run_id: str) -> str:
        return f"{self.base}{self.api}/{self.workspace_path}/PipelineRuns/{quote(run_id)}/Cancel"

    def queue_url(self) -> str:
        return f"{self.base}{self.api}/{self.workspace_path}/PipelineRuns/Queue"


def parse_endpoint(url: str) -> PipelineEndpoint:
    """Check that ``url`` is a published-pipeline or pipeline-endpoint URL; raise ``PipelineError`` naming it if not."""
    parts = urlsplit(url.strip())
    match = _SUBMIT_PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or not parts.netloc or match is None:
        raise PipelineError(
            f"endpoint={url!r} is not a pipeline REST endpoint; expected https://<region>.api.azureml.ms/pipelines/"
            "v1.0/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/"
            "<ws>/PipelineRuns/PipelineSubmit/<id> (or .../PipelineEndpointSubmit/Id/<id>, or "
            ".../PipelineEndpointSubmit/Name?name=<name>)"
        )
    kind_path = match.group("kind").lower()
    if kind_path.startswith("pipelinesubmit/"):
        kind = "PipelineSubmit"
    elif kind_path.startswith("pipelineendpointsubmit/id/"):
        kind = "PipelineEndpointSubmit/Id"
    else:
        kind = "PipelineEndpointSubmit/Name"
        if "name=" not in parts.query:
            raise PipelineError(f"endpoint={url!r}: a PipelineEndpointSubmit/Name URL needs ?name=<endpoint name>")
    return PipelineEndpoint(
        submit_url=url.strip(),
        base=f"{parts.scheme}://{parts.netloc}",
        api=match.group("api"),
        workspace_path=match.group("ws"),
        kind=kind,
    )


# --------------------------------------------------------------------------------------------- auth


def _auth(source: TokenCredential) -> TokenAuth:
    """bankscore's bearer auth: a token given (``FixedToken``) or one a credential renews; failures are
    PipelineErrors."""

    def failed(exc: Exception) -> Exception:  # azure-identity raises its own ClientAuthenticationError
        return PipelineError(f"could not get an Azure token for {AZURE_SCOPE}: {type(exc).__name__}")

    return TokenAuth(source, AZURE_SCOPE, on_failure=failed)


def _resolve_auth(endpoint: PipelineEndpoint, token: str | None, credential: TokenCredential | None) -> TokenAuth:
    if token:
        return _auth(FixedToken(token))
    if credential is not None:
        return _auth(credential)
    if endpoint.is_local:
        from bankscore.pipeline._publisher_state import load_publisher, saved_token

        info, saved = load_publisher(), saved_token()
        if info is not None and saved and endpoint.base == info.base_url:
            return _auth(FixedToken(saved))
        if saved:
            # The usual causes once a publisher has stopped (Ctrl-C removes its record, the token stays) or was
            # restarted on another port: say so, rather than ask for a token the user already has.
            here = f"the local publisher of this workspace ({workspace.home()})"
            situation = (
                f"{here} is not running: start it with `bankscore pipeline publish`"
                if info is None
                else f"{here} now listens at {info.base_url}, not {endpoint.base}"
            )
            raise PipelineError(
                f"{situation} (the runs of a stopped publisher are gone; their MLflow records stay), or pass"
                " token= (CLI: --token) for a publisher elsewhere"
            )
        # An Azure AD token is never valid here, and DefaultAzureCredential would probe the network for one.
        raise PipelineError(
            f"no token for {endpoint.base}: pass token= (CLI: --token) with the local publisher's token "
            "(`bankscore pipeline publish` saved it in the workspace it ran in)"
        )
    try:
        from azure.identity import DefaultAzureCredential  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise PipelineError(
            f"no token for {endpoint.base}: pass token= (CLI: --token) with an Azure AD token "
            "(`az account get-access-token --resource https://management.azure.com`), or pip install azure-identity"
        ) from None
    return _auth(DefaultAzureCredential())


# --------------------------------------------------------------------------------------------- HTTP


def _message(response: httpx.Response) -> str:
    """The service's own words: Azure's ``{"error": {"message"}}``, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return response.text[:300]


def _request(client: httpx.Client, method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise APITimeoutError(f"{method} {_shown(url)} did not answer in time", url=_shown(url)) from None
    except httpx.TransportError as exc:
        raise APIConnectionError(f"{method} {_shown(url)} failed: {exc}", url=_shown(url)) from None
    if response.status_code >= 400:
        request_id = response.headers.get("x-ms-request-id") or response.headers.get("x-request-id")
        raise status_error(response.status_code, _message(response), request_id=request_id)
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise PipelineError(
            f"{method} {_shown(url)} answered {response.status_code} with a body that is not JSON"
        ) from None


def _shown(url: str) -> str:
    """The URL without its query (a SAS-style secret could sit there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _client(
    endpoint: PipelineEndpoint, token: str | None, credential: TokenCredential | None, timeout: float
) -> httpx.Client:
    return httpx.Client(auth=_resolve_auth(endpoint, token, credential), timeout=timeout, follow_redirects=False)


@contextlib.contextmanager
def _session(
    endpoint: str, token: str | None, credential: TokenCredential | None, timeout: float
) -> Iterator[tuple[PipelineEndpoint, httpx.Client]]:
    """The parsed ``endpoint`` and a client authorised for it, closed at the end."""
    parsed = parse_endpoint(endpoint)
    with _client(parsed, token, credential, timeout) as client:
        yield parsed, client


def _as_assignment(name: str, value: object) -> str:
    """ParameterAssignments travel as strings, the way Azure's REST API takes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if value is None or isinstance(value, dict):
        raise PipelineError(f"parameters[{name!r}]={value!r}: give a string, a number, true/false or a list of names")
    return str(value)


# --------------------------------------------------------------------------------------------- API


def trigger(
    endpoint: str,
    experiment: str,
    *,
    parameters: Mapping[str, object] | None = None,
    token: str | None = None,
    credential: TokenCredential | None = None,
    run_source: str = "SDK",
    timeout: float = 60.0,
) -> str:
    """Submit a run of the pipeline at ``endpoint`` into ``experiment``; returns the run id (Azure's ``Id``)."""
    parsed = parse_endpoint(endpoint)
    body: dict[str, Any] = {"ExperimentName": experiment, "RunSource": run_source}
    if parameters:
        body["ParameterAssignments"] = {k: _as_assignment(k, v) for k, v in parameters.items()}
    with _client(parsed, token, credential, timeout) as client:
        answer = _request(client, "POST", parsed.submit_url, json=body)
    run_id = answer.get("Id") if isinstance(answer, dict) else None
    if not isinstance(run_id, str) or not run_id:
        raise PipelineError(f"POST {_shown(parsed.submit_url)} answered without a run Id")
    return run_id


@dataclass(frozen=True)
class StepStatus:
    """One step (a child run): name, Azure status, times and the step's message or error."""

    name: str
    status: str
    started: str | None = None
    ended: str | None = None
    message: str = ""


@dataclass(frozen=True)
class PipelineRunStatus:
    """A pipeline run as Run History reports it."""

    run_id: str
    status: str
    experiment: str
    started: str | None = None
    ended: str | None = None
    error: str | None = None
    steps: tuple[StepStatus, ...] = ()
    properties: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def describe(self) -> str:
        """One line: status, then each step's status."""
        steps = ", ".join(f"{s.name} {s.status}" for s in self.steps)
        return f"{self.status}" + (f" [{steps}]" if steps else "") + (f": {self.error}" if self.error else "")


def _error_text(error: object) -> str | None:
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return None


def _parse_run(run: Any, children: Any, experiment: str) -> PipelineRunStatus:
    if not isinstance(run, dict) or not isinstance(run.get("status"), str):
        raise PipelineError("Run History answered without a run status")
    steps = []
    for child in (children or {}).get("value") or []:
        props = child.get("properties") or {}
        message = _error_text(child.get("error")) or str(props.get("message", ""))
        name = child.get("displayName") or child.get("name") or child.get("runId", "?")
        steps.append(
            StepStatus(str(name), str(child.get("status")), child.get("startTimeUtc"), child.get("endTimeUtc"), message)
        )
    return PipelineRunStatus(
        run_id=str(run.get("runId")),
        status=run["status"],
        experiment=experiment,
        started=run.get("startTimeUtc"),
        ended=run.get("endTimeUtc"),
        error=_error_text(run.get("error")),
        steps=tuple(steps),
        properties={str(k): str(v) for k, v in (run.get("properties") or {}).items()},
    )


def _read_status(client: httpx.Client, parsed: PipelineEndpoint, run_id: str, experiment: str) -> PipelineRunStatus:
    url = parsed.run_url(experiment, run_id)
    return _parse_run(_request(client, "GET", url), _request(client, "GET", url + "/children"), experiment)


def status(
    run_id: str,
    *,
    endpoint: str,
    experiment: str,
    token: str | None = None,
    credential: TokenCredential | None = None,
    timeout: float = 60.0,
) -> PipelineRunStatus:
    """The run's current status and its steps."""
    with _session(endpoint, token, credential, timeout) as (parsed, client):
        return _read_status(client, parsed, run_id, experiment)


def wait(
    run_id: str,
    *,
    endpoint: str,
    experiment: str,
    token: str | None = None,
    credential: TokenCredential | None = None,
    timeout: float | None = None,
    poll: float = 5.0,
    on_status: Callable[[PipelineRunStatus], None] | None = None,
    request_timeout: float = 60.0,
    max_read_failures: int = 5,
) -> PipelineRunStatus:
    """Poll until the run is Completed, Failed or Canceled and return that status (it does not raise for them).

    ``on_status`` gets every status that differs from the one before (the run's or a step's). Connection
    errors and 5xx answers are retried up to ``max_read_failures`` polls in a row. ``PipelineTimeoutError``
    after ``timeout`` seconds (None: no limit); the run itself goes on.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    last: PipelineRunStatus | None = None
    failures = 0
    with _session(endpoint, token, credential, request_timeout) as (parsed, client):
        while True:
            try:
                current = _read_status(client, parsed, run_id, experiment)
                failures = 0
            except (APIConnectionError, APIStatusError) as exc:
                transient = isinstance(exc, APIConnectionError) or (
                    isinstance(exc, APIStatusError) and exc.status >= 500
                )
                failures += 1
                if not transient or failures >= max_read_failures:
                    raise
            else:
                if current != last and on_status is not None:
                    on_status(current)
                last = current
                if current.terminal:
                    return current
            if deadline is not None and time.monotonic() + poll > deadline:
                shown = last.describe() if last else "unknown"
                raise PipelineTimeoutError(
                    f"run {run_id} did not end within {timeout:g} s (last status: {shown})", last
                )
            time.sleep(poll)


def cancel(
    run_id: str,
    *,
    endpoint: str,
    token: str | None = None,
    credential: TokenCredential | None = None,
    timeout: float = 60.0,
) -> None:
    """Ask the service to cancel the run (``POST .../PipelineRuns/{runId}/Cancel``)."""
    with _session(endpoint, token, credential, timeout) as (parsed, client):
        _request(client, "POST", parsed.cancel_url(run_id))


def queue(
    endpoint: str, *, token: str | None = None, credential: TokenCredential | None = None, timeout: float = 60.0
) -> list[PipelineRunStatus]:
    """The local publisher's running run and queued runs, in the order they run (bankscore's publisher only)."""
    with _session(endpoint, token, credential, timeout) as (parsed, client):
        answer = _request(client, "GET", parsed.queue_url())
    return [_parse_run(run, None, str(run.get("name", ""))) for run in (answer or {}).get("value", [])]
