"""The core that ``Client`` and ``AsyncClient`` share: everything but the I/O.

Endpoint and key resolution, headers, batching, bodies, turning a response into predictions or the right
exception, the spec comparison of the drift check, and the bookkeeping of a ``predict_many`` run (which
record got which answer, which batch failed and why). The two clients only add how requests are sent and
awaited, so they cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, Generic

import httpx
from pydantic import BaseModel
from typing_extensions import TypeVar

from bankscore._auth import AZURE_ML_SCOPE, TokenAuth, TokenCredential
from bankscore._bank_marketing_record import BankMarketingRecord
from bankscore._endpoint import Endpoint, resolve_endpoint
from bankscore._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BankscoreError,
    ModelError,
    NotFoundError,
    PartialResultError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SchemaDriftError,
    ScoringError,
    redact_userinfo,
    status_error,
)
from bankscore._facts import DEPLOYMENT_HEADER
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
    supports_proba,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_REQUEST_BODY_BYTES",
    "BaseClient",
    "Run",
    "SpecBinding",
    "batches",
    "drift_changes",
]

# A generated package binds its own Record; bankscore.Client is BaseClient[BankMarketingRecord].
R = TypeVar("R", bound=BaseModel, default=BankMarketingRecord)

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
# Azure's documented request payload limit for online endpoints is 1.5 MB (413 above it); predict_many splits a
# batch whose body would be larger, so callers need not know the records' encoded size.
MAX_REQUEST_BODY_BYTES: Final = 1_500_000
# D's container answers every script error with this generic 500 and this header (the cloud makes it a 424).
_FUNCTION_FAILED_HEADER: Final = "x-ms-run-function-failed"
_NO_CODE_HINT: Final = (
    "the no-code scoring script answers every model error alike (a missing column, a wrong type, a null, an "
    "empty batch): the container's log has the cause"
)
# A 500 from the container of a scoring script (A to C): run() raised, and only the container saw why.
_SCRIPT_HINT: Final = "the scoring script's run() raised on the request: the container's log has the cause"
_REQUEST_ID_HEADERS: Final = ("x-ms-request-id", "x-request-id")
# A batch failing with these fails every batch the same way (wrong key, wrong URI, too big): stop sending.
_STOPS_THE_RUN: Final = (AuthenticationError, PermissionDeniedError, NotFoundError, PayloadTooLargeError)
_log: Final = logging.getLogger("bankscore")  # a NullHandler until the application (or the CLI) configures it


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

    # Every argument is required here: the defaults are the public constructors' own (Client, AsyncClient),
    # where users read them, and both pass every one.
    def __init__(
        self,
        scoring_uri: str | None,
        *,
        key: str | None,
        generation: WireGeneration | str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        retry: RetryPolicy | None,
        probabilities: bool,
        deployment: str | None,
        record_model: type[R] | None,
        model_deployment: str | None,
        credential: TokenCredential | None,
        classes: tuple[str, str],
        max_body_bytes: int | None,
        drop_unknown: bool,
        strict: bool,
    ) -> None:
        if credential is not None and key is not None:
            raise ValueError("pass key= or credential=, not both: a request carries one Authorization header")
        endpoint = resolve_endpoint(scoring_uri, key, generation, deployment)
        if credential is not None:  # the credential's token, not BANKSCORE_KEY or a local deployment's key
            endpoint = Endpoint(endpoint.scoring_uri, None, endpoint.generation)
        self._endpoint: Endpoint = endpoint
        self._auth = TokenAuth(credential, AZURE_ML_SCOPE) if credential is not None else None
        if len(classes) != 2 or classes[0] == classes[1]:
            raise ValueError(f"classes must name the two classes in predict_proba's order, got {classes!r}")
        self._classes = (str(classes[0]), str(classes[1]))
        if max_body_bytes is not None and max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive (or None for no limit)")
        self._max_body_bytes = max_body_bytes
        if strict and drop_unknown:
            raise ValueError(
                "strict refuses every column the endpoint's record does not have: drop_unknown cannot be given with it"
            )
        self._columns = {"drop_unknown": drop_unknown, "strict": strict}  # for RecordCodec.validate
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
        if model_deployment is not None:
            if not model_deployment.strip():
                raise ValueError("model_deployment must name a deployment of the endpoint")
            # Pins one deployment of a managed endpoint, past its traffic rules (blue/green testing).
            self._headers[DEPLOYMENT_HEADER] = model_deployment
        self.model_deployment = model_deployment

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
        key = "credential" if self._auth is not None else "set" if self._endpoint.key is not None else "none"
        uri = redact_userinfo(self.scoring_uri)
        return f"{type(self).__name__}(scoring_uri={uri!r}, generation={generation!r}, key=<{key}>)"

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
            _log.debug(
                "%s: wire generation %s, records validated by %s (%d fields)",
                redact_userinfo(self.swagger_uri),
                self._generation.value,
                self._codec.model.__name__,
                len(self._codec.columns),
            )
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
        return codec.encode(generation, records, method)

    def _sized_bodies(
        self, generation: WireGeneration, codec: RecordCodec[Any], records: list[Any], start: int, method: str
    ) -> list[tuple[int, int, bytes]]:
        """``records`` (from index ``start``) as bodies under ``max_body_bytes``: halved until each fits.

        A single record over the limit is kept whole; ``_too_large`` then fails it without sending.
        """
        body = self._body(generation, codec, records, method)
        limit = self._max_body_bytes
        if limit is None or len(body) <= limit or len(records) == 1:
            return [(start, start + len(records), body)]
        half = len(records) // 2
        return self._sized_bodies(generation, codec, records[:half], start, method) + self._sized_bodies(
            generation, codec, records[half:], start + half, method
        )

    def _too_large(self, body: bytes) -> PayloadTooLargeError | None:
        limit = self._max_body_bytes
        if limit is None or len(body) <= limit:
            return None
        return PayloadTooLargeError(
            f"not sent: one record encodes to {len(body):,} bytes, over the {limit:,}-byte request limit "
            "(max_body_bytes)",
            status=413,
        )

    def _connection_error(self, exc: httpx.TransportError) -> APIConnectionError:
        text = self._scrub(str(exc) or type(exc).__name__)
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"{self.scoring_uri} did not answer in time ({text})", url=self.scoring_uri)
        return APIConnectionError(f"cannot reach {self.scoring_uri}: {text}", url=self.scoring_uri)

    def _scrub(self, text: str) -> str:
        text = redact_userinfo(text)
        key = self._endpoint.key
        text = key.scrub(text) if key is not None else text
        return self._auth.scrub(text) if self._auth is not None else text

    # --- responses ---------------------------------------------------------------------------------------

    def _predictions(self, response: httpx.Response, method: str, expected: int) -> list[Prediction]:
        request_id = _request_id(response)
        if response.status_code >= 400:
            raise self._status_error(response, request_id)
        try:
            return decode_predictions(
                response.content,
                method,
                expected,
                request_id=request_id,
                classes=self._classes,
                generation=self._generation,
            )
        except ScoringError as exc:
            raise ScoringError(self._scrub(exc.message), request_id=request_id) from None
        except DecodeError as exc:
            raise ScoringError(f"unexpected response: {exc}", request_id=request_id) from None

    def _status_error(self, response: httpx.Response, request_id: str | None) -> APIStatusError:
        message = self._scrub(_server_message(response)) or response.reason_phrase
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        status = response.status_code
        if status == 424:
            return _model_error(response, message, request_id, self._generation)
        script_failed = response.headers.get(_FUNCTION_FAILED_HEADER, "").lower() == "true"
        if status == 500 and script_failed and self._generation is WireGeneration.D:
            return ModelError(f"{message} ({_NO_CODE_HINT})", status=500, request_id=request_id, model_status=500)
        return status_error(status, message, request_id=request_id, retry_after=retry_after)

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
    "without the endpoint's spec, pass its wire generation: generation='A', 'B', 'C' or 'D' "
    "(--generation on the command line)"
)


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


@functools.cache
def _codec(model: type[BaseModel]) -> RecordCodec[Any]:
    return RecordCodec(model)


def _codec_for_spec(spec: Document) -> RecordCodec[Any]:
    """``BankMarketingRecord`` (categories and ranges checked) when the live record has its fields and types,
    else a model of the live record (the endpoint is what the records must fit).

    A field the spec gives no type (D's columns, typed only by example rows that Azure may leave empty) fits
    any type. A D spec that names no columns (a model logged without a signature) takes whatever it is sent:
    ``BankMarketingRecord`` then, as the records are Bank Marketing's.
    """
    default = _codec(BankMarketingRecord)
    try:
        fields = record_fields(spec)
    except SwaggerError:
        if detect_generation(spec) is WireGeneration.D:
            return default
        raise
    expected = dict(_shape(default))
    live = {f.wire_name: _kind(f.type) for f in fields}
    if live.keys() == expected.keys() and all(kind in {"any", expected[name]} for name, kind in live.items()):
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

    def failed(self, start: int, stop: int, error: BankscoreError, *, stops_run: bool = True) -> None:
        """``stops_run=False``: the failure is this batch's own (a record too large to send), not the endpoint's."""
        with self._lock:
            self._fail(start, stop, str(error), error)
            if stops_run and isinstance(error, _STOPS_THE_RUN) and self.stopped_by is None:
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
