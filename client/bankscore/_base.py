"""The core that ``Client`` and ``AsyncClient`` share: everything but the I/O.

Endpoint and key resolution, headers, batching, bodies, turning a response into predictions or the right
exception, the spec comparison of the drift check, and the bookkeeping of a ``predict_many`` run (which
record got which answer, which batch failed and why). The two clients only add how requests are sent and
awaited, so they cannot drift apart.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Final

import httpx

from bankscore._endpoint import Endpoint, resolve_endpoint
from bankscore._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BankscoreError,
    NotFoundError,
    PartialResultError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SchemaDriftError,
    ScoringError,
    status_error,
)
from bankscore._generations import WireGeneration
from bankscore._models_generated import BankMarketingRecord
from bankscore._progress import ProgressCallback
from bankscore._records import dump_json
from bankscore._results import Prediction, RecordFailure, ScoreResult
from bankscore._retry import RetryPolicy, parse_retry_after
from bankscore._version import __version__
from bankscore._wire import PREDICT, PREDICT_PROBA, DecodeError, decode_predictions, encode_body, supports_proba

__all__ = ["DEFAULT_TIMEOUT", "BaseClient", "Run", "batches", "drift_changes"]

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
_REQUEST_ID_HEADERS: Final = ("x-ms-request-id", "x-request-id")
_NO_VERSION_3: Final = frozenset({400, 404, 422})  # "no OpenAPI 3 here": ask for the default (2.0) spec
# A batch failing with these fails every batch the same way (wrong key, wrong URI, too big): stop sending.
_STOPS_THE_RUN: Final = (AuthenticationError, PermissionDeniedError, NotFoundError, PayloadTooLargeError)


class BaseClient:
    """Configuration and response handling common to ``Client`` and ``AsyncClient``."""

    def __init__(
        self,
        scoring_uri: str | None = None,
        *,
        key: str | None = None,
        generation: WireGeneration | str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        retry: RetryPolicy | None = None,
        probabilities: bool = True,
        deployment: str | None = None,
    ) -> None:
        self._endpoint: Endpoint = resolve_endpoint(scoring_uri, key, generation, deployment)
        self._generation: WireGeneration | None = self._endpoint.generation
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._retry = retry or RetryPolicy(max_retries=max_retries)
        self._probabilities = probabilities
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"bankscore/{__version__}",
        }
        if self._endpoint.key is not None:
            self._headers["Authorization"] = self._endpoint.key.header()

    @property
    def scoring_uri(self) -> str:
        return self._endpoint.scoring_uri

    @property
    def swagger_uri(self) -> str:
        return self._endpoint.swagger_uri

    def __repr__(self) -> str:
        generation = self._generation.value if self._generation else "auto"
        key = "set" if self._endpoint.key is not None else "none"
        return f"{type(self).__name__}(scoring_uri={self.scoring_uri!r}, generation={generation!r}, key=<{key}>)"

    # --- requests ----------------------------------------------------------------------------------------

    def _method(self, generation: WireGeneration) -> str:
        return PREDICT_PROBA if self._probabilities and supports_proba(generation) else PREDICT

    def _body(self, generation: WireGeneration, records: list[BankMarketingRecord], method: str) -> bytes:
        return encode_body(generation, dump_json(records), method)

    def _connection_error(self, exc: httpx.TransportError) -> APIConnectionError:
        text = self._scrub(str(exc) or type(exc).__name__)
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"{self.scoring_uri} did not answer in time ({text})", url=self.scoring_uri)
        return APIConnectionError(f"cannot reach {self.scoring_uri}: {text}", url=self.scoring_uri)

    def _scrub(self, text: str) -> str:
        key = self._endpoint.key
        return key.scrub(text) if key is not None else text

    # --- responses ---------------------------------------------------------------------------------------

    def _predictions(self, response: httpx.Response, method: str, expected: int) -> list[Prediction]:
        request_id = _request_id(response)
        if response.status_code >= 400:
            raise self._status_error(response, request_id)
        try:
            return decode_predictions(response.content, method, expected, request_id=request_id)
        except ScoringError as exc:
            raise ScoringError(self._scrub(exc.message), request_id=request_id) from None
        except DecodeError as exc:
            raise ScoringError(f"unexpected response: {exc}", request_id=request_id) from None

    def _status_error(self, response: httpx.Response, request_id: str | None) -> APIStatusError:
        message = self._scrub(_server_message(response)) or response.reason_phrase
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return status_error(response.status_code, message, request_id=request_id, retry_after=retry_after)

    def _spec_document(self, response: httpx.Response, url: str) -> dict[str, Any]:
        from bankscore.swagger import parse_document, to_openapi3

        if response.status_code >= 400:
            error = self._status_error(response, _request_id(response))
            raise type(error)(
                f"cannot fetch the spec at {url}: {error.message}",
                status=error.status,
                request_id=error.request_id,
                retry_after=error.retry_after,
            )
        return to_openapi3(parse_document(response.content, url))

    def _spec_urls(self) -> tuple[httpx.URL, httpx.URL]:
        plain = httpx.URL(self.swagger_uri)
        return plain.copy_merge_params({"version": "3"}), plain


def drift_changes(live: Mapping[str, Any]) -> list[Any]:
    """The changes between the client's record model and the record of the live spec (``SpecChange`` objects).

    Only the record's fields count: the client speaks every wire generation, so a generation change is not
    drift.
    """
    from bankscore.swagger import diff_specs

    record = BankMarketingRecord.model_json_schema(by_alias=True)
    mine = {
        "openapi": "3.0.3",
        "paths": {
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"data": {"type": "array", "items": record}},
                                }
                            }
                        }
                    },
                }
            }
        },
    }
    return [c for c in diff_specs(mine, dict(live)) if c.path.startswith("record.")]


def raise_on_drift(url: str, changes: list[Any]) -> None:
    breaking = [c for c in changes if c.breaking]
    if breaking:
        raise SchemaDriftError(url, breaking)


def batches(total: int, batch_size: int) -> list[tuple[int, int]]:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return [(start, min(start + batch_size, total)) for start in range(0, total, batch_size)]


class Run:
    """One ``predict_many`` run: a slot per record, failures per batch, and whether to stop sending.

    Thread-safe, and frozen once finished: an answer that arrives after an interruption is dropped rather than
    changing a result the caller already holds.
    """

    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self.predictions: list[Prediction | None] = [None] * total
        self.failures: list[RecordFailure] = []
        self.stopped_by: BankscoreError | None = None
        self._progress = progress
        self._done = 0
        self._finished = False
        self._lock = threading.Lock()

    def should_send(self, start: int, stop: int) -> bool:
        with self._lock:
            if self.stopped_by is None:
                return True
            self._fail(start, stop, f"not sent: an earlier batch failed with {self.stopped_by}", None)
            return False

    def succeeded(self, start: int, predictions: list[Prediction]) -> None:
        with self._lock:
            if self._finished:
                return
            self.predictions[start : start + len(predictions)] = predictions
            self._done += len(predictions)
            done = self._done
        if self._progress is not None:
            self._progress(done, len(self.predictions))

    def failed(self, start: int, stop: int, error: BankscoreError) -> None:
        with self._lock:
            self._fail(start, stop, str(error), error)
            if isinstance(error, _STOPS_THE_RUN) and self.stopped_by is None:
                self.stopped_by = error

    def _fail(self, start: int, stop: int, reason: str, error: BaseException | None) -> None:
        if not self._finished:
            self.failures.append(RecordFailure(start, stop, reason, error))

    def finish(self, *, interrupted: bool = False) -> ScoreResult:
        with self._lock:
            if interrupted:
                covered = {i for f in self.failures for i in f.indices}
                for start, stop in _runs(i for i, p in enumerate(self.predictions) if p is None and i not in covered):
                    self.failures.append(RecordFailure(start, stop, "interrupted before it was scored"))
            self._finished = True
            failures = sorted(self.failures, key=lambda f: f.start)
            return ScoreResult(list(self.predictions), failures, interrupted=interrupted)


def outcome(result: ScoreResult, *, raise_on_error: bool) -> ScoreResult:
    """``result``, or the error that describes what it misses."""
    if result.ok or not raise_on_error:
        return result
    errors = [f.error for f in result.failures if isinstance(f.error, BankscoreError)]
    if result.scored_count == 0 and errors:
        raise errors[0]  # nothing was scored: the cause itself (a wrong key is an AuthenticationError)
    raise PartialResultError(result)


def _runs(indices: Any) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for i in indices:
        if spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    return spans


def _request_id(response: httpx.Response) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)
    return None


def _server_message(response: httpx.Response) -> str:
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
