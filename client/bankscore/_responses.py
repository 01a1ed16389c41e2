"""What an endpoint's error answer means: its request id, its message, and the exception it raises.

Azure's answers differ by who failed: the front end (401, 404, 429, ...), the model's container behind a
managed endpoint (a 424 naming the container's own status), or the scoring script itself (a 500; a no-code
D container marks it with a header). The exception says which, with the hint that helps.
"""

from __future__ import annotations

import json
from typing import Final

import httpx

from bankscore._exceptions import APIStatusError, ModelError, status_error
from bankscore._generations import WireGeneration
from bankscore._retry import parse_retry_after

__all__ = ["request_id_of", "server_message", "status_error_for"]

# D's container answers every script error with this generic 500 and this header (the cloud makes it a 424).
_FUNCTION_FAILED_HEADER: Final = "x-ms-run-function-failed"
_NO_CODE_HINT: Final = (
    "the no-code scoring script answers every model error alike (a missing column, a wrong type, a null, an "
    "empty batch): the container's log has the cause"
)
# A 500 from the container of a scoring script (A to C): run() raised, and only the container saw why.
_SCRIPT_HINT: Final = "the scoring script's run() raised on the request: the container's log has the cause"
_REQUEST_ID_HEADERS: Final = ("x-ms-request-id", "x-request-id")


def status_error_for(
    response: httpx.Response, message: str, request_id: str | None, generation: WireGeneration | None
) -> APIStatusError:
    """The exception for an error ``response``; ``message`` is the server's, already scrubbed of secrets."""
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    status = response.status_code
    if status == 424:
        return _model_error(response, message, request_id, generation)
    script_failed = response.headers.get(_FUNCTION_FAILED_HEADER, "").lower() == "true"
    if status == 500 and script_failed and generation is WireGeneration.D:
        return ModelError(f"{message} ({_NO_CODE_HINT})", status=500, request_id=request_id, model_status=500)
    return status_error(status, message, request_id=request_id, retry_after=retry_after)


def _model_error(
    response: httpx.Response, message: str, request_id: str | None, generation: WireGeneration | None
) -> ModelError:
    code = response.headers.get("ms-azureml-model-error-statuscode", "").strip()
    model_status = int(code) if code.isdigit() else None
    reason = response.headers.get("ms-azureml-model-error-reason") or None
    said = ", ".join(
        part
        for part in (f"container status {model_status}" if model_status else "", f"reason {reason}" if reason else "")
        if part
    )
    text = f"the model's container failed ({said}): {message}" if said else f"the model's container failed: {message}"
    if model_status == 500 and generation is not None:
        text += f" ({_NO_CODE_HINT if generation is WireGeneration.D else _SCRIPT_HINT})"
    return ModelError(text, status=424, request_id=request_id, model_status=model_status, reason=reason)


def request_id_of(response: httpx.Response) -> str | None:
    """The id the endpoint gave the request (Azure's, or the one a proxy set), for support and logs."""
    for name in _REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)
    return None


def server_message(response: httpx.Response) -> str:
    """The message of an error body: its ``message``, ``error`` or ``detail``, else the text, shortened."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text.strip()[:300]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return str(body)[:300]
    if isinstance(body, dict):
        for name in ("message", "error", "detail"):
            if isinstance(body.get(name), str):
                return str(body[name])[:1000]
    return response.text.strip()[:300]
