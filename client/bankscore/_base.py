"""The core that ``Client`` and ``AsyncClient`` share: everything but the I/O.

Endpoint and key resolution, headers, batching, bodies, turning a response into predictions or the right
exception, the spec comparison of the drift check, and the bookkeeping of a ``predict_many`` run (which
record got which answer, which batch failed and why). The two clients only add how requests are sent and
awaited, so they cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, Generic

import httpx
from pydantic import BaseModel
from typing_extensions import TypeVar

from bankscore._bank_marketing_record import BankMarketingRecord
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
from bankscore._progress import ProgressCallback
from bankscore._records import RecordCodec
from bankscore._results import Prediction, RecordFailure, ScoreResult
from bankscore._retry import RetryPolicy, parse_retry_after
from bankscore._spec import (
    Document,
    RecordField,
    SwaggerError,
    detect_generation,
    diff_specs,
    parse_document,
    record_description,
    record_fields,
    record_model,
    record_spec,
    to_openapi3,
)
from bankscore._version import __version__
from bankscore._wire import (
    PREDICT,
    PREDICT_PROBA,
    DecodeError,
    decode_predictions,
    encode_body,
    supports_proba,
)

__all__ = ["DEFAULT_TIMEOUT", "BaseClient", "Run", "SpecBinding", "batches", "drift_changes"]

# A generated package binds its own Record; bankscore.Client is BaseClient[BankMarketingRecord].
R = TypeVar("R", bound=BaseModel, default=BankMarketingRecord)

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
_REQUEST_ID_HEADERS: Final = ("x-ms-request-id", "x-request-id")
# A batch failing with these fails every batch the same way (wrong key, wrong URI, too big): stop sending.
_STOPS_THE_RUN: Final = (AuthenticationError, PermissionDeniedError, NotFoundError, PayloadTooLargeError)


class SpecBinding(Generic[R]):
    """What a generated package fixes for its clients: its record model, wire generation and spec.

    ``bankscore swagger generate`` writes ``binding = SpecBinding(...)`` into the package's ``Client`` and
    ``AsyncClient``; the runtime then validates with ``record``, speaks ``generation`` without asking the
    endpoint, and ``check_schema`` compares the live spec with ``spec()``, spec to spec.
    """

    def __init__(self, record: type[R], generation: str, spec: Callable[[], Document], package: str) -> None:
        self.record = record
        self.generation = WireGeneration(generation)
        self.spec = spec
        self.package = package

    def __repr__(self) -> str:
        return f"SpecBinding({self.record.__name__}, generation={self.generation.value!r}, package={self.package!r})"


class BaseClient(Generic[R]):
    """Configuration and response handling common to ``Client`` and ``AsyncClient``.

    The record model and wire generation come, in this order, from the generated package's ``binding``, from
    the arguments, or from the endpoint's spec at first use (``bankscore.Client`` follows the endpoint: when
    the live record differs from ``BankMarketingRecord`` it validates with a model built from the live spec).
    """

    binding: ClassVar[SpecBinding[Any] | None] = None

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
        record_model: type[R] | None = None,
    ) -> None:
        self._endpoint: Endpoint = resolve_endpoint(scoring_uri, key, generation, deployment)
        binding = type(self).binding
        self._generation: WireGeneration | None = WireGeneration(generation) if generation is not None else None
        model: type[BaseModel] | None = record_model
        if binding is not None:
            model = model or binding.record
            self._generation = self._generation or binding.generation
        elif self._generation is not None:
            model = model or BankMarketingRecord
        # What check_schema compares the live spec with: the model the caller's code was written for.
        self._expected_model: type[BaseModel] = model or BankMarketingRecord
        # None until the spec has been read: the first request settles both (see _settle).
        self._codec: RecordCodec[Any] | None = _codec(model) if model is not None else None
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

    @property
    def record_model(self) -> type[BaseModel] | None:
        """The model records are validated with; ``None`` until the endpoint's spec has been read."""
        return self._codec.model if self._codec is not None else None

    def __repr__(self) -> str:
        generation = self._generation.value if self._generation else "auto"
        key = "set" if self._endpoint.key is not None else "none"
        return f"{type(self).__name__}(scoring_uri={self.scoring_uri!r}, generation={generation!r}, key=<{key}>)"

    # --- the spec ----------------------------------------------------------------------------------------

    def _settled(self) -> tuple[WireGeneration, RecordCodec[Any]] | None:
        if self._generation is not None and self._codec is not None:
            return self._generation, self._codec
        return None

    def _settle(self, spec: Document) -> tuple[WireGeneration, RecordCodec[Any]]:
        """Take the generation and, unless fixed, the record model from the endpoint's spec."""
        if self._generation is None:
            try:
                self._generation = detect_generation(spec)
            except ValueError as exc:
                raise SwaggerError(f"{self.swagger_uri}: {exc}; {_GENERATION_HINT}") from None
        if self._codec is None:
            self._codec = _codec_for_spec(spec)
        return self._generation, self._codec

    def _settle_without_spec(self, exc: BankscoreError) -> tuple[WireGeneration, RecordCodec[Any]]:
        """After the spec could not be read: the local deployment's saved generation, or ``exc`` with a hint."""
        fallback = self._endpoint.generation
        if fallback is not None and isinstance(exc, APIStatusError | SwaggerError):
            self._generation = self._generation or fallback
            self._codec = self._codec or _codec(BankMarketingRecord)
            return self._generation, self._codec
        if isinstance(exc, APIStatusError) and exc.status not in {401, 403}:
            raise type(exc)(
                f"{exc.message}; {_GENERATION_HINT}", status=exc.status, request_id=exc.request_id, retry_after=None
            ) from None
        if isinstance(exc, SwaggerError):
            raise SwaggerError(f"{exc}; {_GENERATION_HINT}") from None
        raise exc

    def _drift(self, live: Document) -> list[Any]:
        binding = type(self).binding
        if binding is not None:
            changes = [
                c
                for c in diff_specs(binding.spec(), live)
                if c.path.startswith("record.") or c.kind.startswith("generation")
            ]
        else:
            changes = drift_changes(live, self._expected_model)
        breaking = [c for c in changes if c.breaking]
        if breaking:
            package = binding.package if binding is not None else "<package>"
            command = f"bankscore swagger generate --spec {self.swagger_uri} --output {package}"
            if self._endpoint.key is not None:
                command += " --key $BANKSCORE_KEY"
            raise SchemaDriftError(self.swagger_uri, breaking, command=command)
        return changes

    # --- requests ----------------------------------------------------------------------------------------

    def _method(self, generation: WireGeneration) -> str:
        return PREDICT_PROBA if self._probabilities and supports_proba(generation) else PREDICT

    def _body(self, generation: WireGeneration, codec: RecordCodec[Any], records: list[Any], method: str) -> bytes:
        return encode_body(generation, codec.dump_json(records), method)

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


_GENERATION_HINT: Final = (
    "without the endpoint's spec, pass its wire generation: generation='A', 'B' or 'C' "
    "(--generation on the command line)"
)


@functools.cache
def _codec(model: type[BaseModel]) -> RecordCodec[Any]:
    return RecordCodec(model)


def _codec_for_spec(spec: Document) -> RecordCodec[Any]:
    """``BankMarketingRecord`` (categories and ranges checked) when the live record has its fields and types,
    else a model of the live record (the endpoint is what the records must fit)."""
    fields = record_fields(spec)
    default = _codec(BankMarketingRecord)
    if {(f.wire_name, _kind(f.type)) for f in fields} == _shape(default):
        return default
    return _codec(_live_model(tuple(fields), record_description(spec)))


@functools.lru_cache(maxsize=32)
def _live_model(fields: tuple[RecordField, ...], description: str) -> type[BaseModel]:
    return record_model(list(fields), "Record", doc=description)


def _kind(field_type: str) -> str:
    return "number" if field_type == "integer" else field_type  # integer widens to number on the wire


@functools.cache
def _shape(codec: RecordCodec[Any]) -> frozenset[tuple[str, str]]:
    schema = codec.model.model_json_schema(by_alias=True)
    shape = set()
    for wire, prop in (schema.get("properties") or {}).items():
        types = {p.get("type") for p in prop.get("anyOf", [prop])} - {"null"}
        shape.add((wire, _kind(str(next(iter(types), "any")))))
    return frozenset(shape)


def drift_changes(live: Mapping[str, Any], model: type[BaseModel] = BankMarketingRecord) -> list[Any]:
    """The changes between a record model and the record of the live spec (``SpecChange`` objects).

    Only the record's fields count: the client speaks every wire generation, so a generation change is not
    drift.
    """
    mine = record_spec(model.model_json_schema(by_alias=True))
    return [c for c in diff_specs(mine, dict(live)) if c.path.startswith("record.")]


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
