"""One JSON line per request: request id, status, latency, record count, method and the model (never
features or keys)."""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = ["log_request"]

request_globals: Any = None  # inside the server: Flask's per-request globals, which hold the request id
try:  # the inference server aliases this module to its own; outside it, it is absent
    from azureml.contrib.services.aml_request import rawhttp as _server_present
except ImportError:  # imported by bankscore for the pure functions
    _server_present = None
if _server_present is not None:
    import flask

    request_globals = flask.g


def _request_id() -> str:
    try:
        return str(getattr(request_globals, "request_id", "")) if request_globals is not None else ""
    except RuntimeError:  # no request context: called outside a request
        return ""


def log_request(log_tail: str, status: int, started: float, records: int, method: str) -> None:
    """Print the request's line; ``log_tail`` is the model's fixed fields, pre-encoded (``Model.log_tail``)."""
    # print() inside run() goes to the server's azmlinfsrv.print logger, which also feeds Application Insights.
    # Built as text around the model's pre-encoded tail: the same JSON as json.dumps of the whole dict.
    latency = round((time.perf_counter() - started) * 1000, 3)
    print(
        f'{{"event": "score", "request_id": {json.dumps(_request_id())}, "status": {status}, '
        f'"latency_ms": {latency!r}, "records": {records}, "method": {json.dumps(method)}, {log_tail}',
        flush=True,
    )
