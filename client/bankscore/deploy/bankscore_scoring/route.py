"""The server's side: ``init()`` loads the model once per worker, ``run()`` answers one request.

Per request: the raw body is read with a size bound (``@rawhttp``), then ``dispatch.score_body`` parses,
checks, scores and encodes it. A caller's mistake is a 400 (or 405, 413, 415) with ``{"message": ...}``;
never a 500. Every request, answered or refused, leaves one log line (``logline``).
"""

from __future__ import annotations

import gc
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .dispatch import Seen, score_body
from .facts import InputError
from .logline import log_request
from .model import Model, load_model

try:  # the inference server aliases these modules to its own; outside it they are absent
    from azureml.contrib.services.aml_request import rawhttp
    from azureml.contrib.services.aml_response import AMLResponse
except ImportError:  # imported by bankscore, which calls _handle directly in its tests
    rawhttp = None
    AMLResponse = None

__all__ = ["init", "run"]

_MODEL: Model | None = None


def init() -> None:
    """Called once per worker by the inference server: load the model."""
    global _MODEL  # noqa: PLW0603 - the server's init()/run() contract keeps state at module level
    model_dir = os.environ.get("AZUREML_MODEL_DIR") or str(Path(__file__).resolve().parents[1] / "azureml-models")
    _MODEL = load_model(model_dir)
    # The libraries and the model live as long as the worker: take them out of the collector's generations
    # so that no full collection walks them again, which would stall the request it happens in.
    gc.collect()
    gc.freeze()


def _respond(status: int, body: Any) -> Any:
    return AMLResponse(body, status, json_str=True) if AMLResponse is not None else (body, status)


def _read_body(request: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body.

    gunicorn's body object copies what it reads 1 KB at a time, which is slow for a large body; its reader
    underneath takes the socket's chunks whole. Anything else reads as usual.
    """
    environ = getattr(request, "environ", None)
    stream = environ.get("wsgi.input") if isinstance(environ, dict) else None
    reader, buffered = getattr(stream, "reader", None), getattr(stream, "buf", None)
    # Only gunicorn's own Body with nothing read yet; any other shape (another gunicorn) reads as usual.
    if type(stream).__module__ == "gunicorn.http.body" and isinstance(buffered, io.BytesIO) and not buffered.tell():
        return bytes(getattr(reader, "read", request.stream.read)(limit))
    return bytes(request.stream.read(limit))


def _handle(request: Any) -> Any:
    started = time.perf_counter()
    model = _MODEL
    if model is None:
        raise RuntimeError("init() has not loaded the model")
    # The server passes Flask's request proxy; every attribute read through it costs a context lookup.
    request = getattr(request, "_get_current_object", lambda: request)()
    seen, status = Seen(), 200
    try:
        if request.method == "OPTIONS":  # an empty 200, as the server answers OPTIONS itself
            return AMLResponse("", 200) if AMLResponse is not None else ("", 200)
        if request.method != "POST":
            raise InputError(405, "send the records with POST and Content-Type: application/json")
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise InputError(415, "Expects Content-Type to be application/json")
        length = request.content_length
        if length is not None and length > model.max_body_bytes:
            raise InputError(413, f"the body has {length} bytes; this deployment takes at most {model.max_body_bytes}")
        raw = _read_body(request, model.max_body_bytes + 1)
        if len(raw) > model.max_body_bytes:
            raise InputError(413, f"the body exceeds {model.max_body_bytes} bytes")
        return _respond(200, score_body(model, raw, seen)[0])
    except InputError as exc:
        status = exc.status
        return _respond(exc.status, {"message": exc.message})
    except Exception:
        status = 500  # the server answers it; the log line must say so too
        raise
    finally:
        log_request(model.log_tail, status, started, seen.records, seen.method)


run: Callable[[Any], Any] = rawhttp(_handle) if rawhttp is not None else _handle
