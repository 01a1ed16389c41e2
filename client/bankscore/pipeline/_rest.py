"""Azure ML's pipeline REST shapes: the submit body it takes, and the JSON it answers with.

Answers follow Run History's ``Run`` (a pipeline run, and each step as a child run) and the pipelines API's
``PipelineRun`` entity; errors follow its ``ErrorResponse``: ``{"error": {"code", "message", "target",
"details"}, "correlation": {"RequestId"}, ...}``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bankscore._exceptions import BankscoreError
from bankscore.pipeline._publisher_state import PublisherInfo
from bankscore.pipeline._queue import RunRecord, StepRecord

__all__ = [
    "RequestError",
    "error_body",
    "parse_submit_body",
    "run_details_json",
    "run_json",
    "step_json",
    "submitted_json",
]

# Body keys Azure's submit routes take. The data-path ones only mean something on Azure and must stay empty.
_BODY_KEYS = ("ExperimentName", "ParameterAssignments", "RunSource", "Description", "DataPathAssignments")
_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")  # Azure's experiment-name rule


class RequestError(BankscoreError):
    """An error answer: HTTP status, Azure error code, message, and the field at fault."""

    def __init__(self, status: int, message: str, *, code: str = "UserError", target: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        super().__init__(message)


def error_body(error: RequestError, request_id: str) -> dict[str, Any]:
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


def run_json(record: RunRecord, info: PublisherInfo) -> dict[str, Any]:
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


def step_json(step: StepRecord, record: RunRecord) -> dict[str, Any]:
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


def submitted_json(record: RunRecord, info: PublisherInfo) -> dict[str, Any]:
    """The answer to a submit: Azure's PipelineRun entity (callers usually read only ``Id``)."""
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


def run_details_json(record: RunRecord, info: PublisherInfo) -> dict[str, Any]:
    """A pipeline run as Run History's ``RunDetails``."""
    run = run_json(record, info)
    keys = ("runId", "target", "status", "startTimeUtc", "endTimeUtc", "error", "warnings", "tags", "properties")
    return {**{k: run[k] for k in keys}, "runDefinition": {}, "logFiles": {}, "revision": 1}


def parse_submit_body(body: bytes) -> dict[str, Any]:
    """A submit route's JSON body, checked: ``ExperimentName`` named properly, only the keys Azure takes."""
    if not body.strip():
        raise RequestError(400, 'the body is empty; send {"ExperimentName": "..."}', code="ValidationError")
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the body is not valid JSON: {exc}", code="ValidationError") from None
    if not isinstance(request, dict):
        raise RequestError(400, "the body must be a JSON object", code="ValidationError")
    for key in request:
        if key not in _BODY_KEYS:
            raise RequestError(
                400,
                f"unknown field {key!r} in the body; accepted: {', '.join(_BODY_KEYS)}",
                code="ValidationError",
                target=key,
            )
    experiment = request.get("ExperimentName")
    if not isinstance(experiment, str) or not experiment:
        raise RequestError(
            400, f"ExperimentName={experiment!r}: a non-empty string is required", target="ExperimentName"
        )
    if not _EXPERIMENT_NAME.match(experiment):
        raise RequestError(
            400,
            f"ExperimentName={experiment!r}: use letters, digits, '_' and '-' (up to 255; not first: '_', '-')",
            code="ValidationError",
            target="ExperimentName",
        )
    assignments = request.get("ParameterAssignments")
    if assignments is not None and not isinstance(assignments, dict):
        raise RequestError(
            400,
            f"ParameterAssignments={assignments!r}: expected an object of name: value",
            code="ValidationError",
            target="ParameterAssignments",
        )
    if request.get("DataPathAssignments"):
        raise RequestError(
            400,
            "DataPathAssignments: data paths exist only on Azure; pass ParameterAssignments.dataset instead",
            code="ValidationError",
            target="DataPathAssignments",
        )
    return request
