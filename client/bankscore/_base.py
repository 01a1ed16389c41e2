"""The core that ``Client`` and ``AsyncClient`` share: everything but the I/O.

Endpoint and key resolution, headers, bodies, turning a response into predictions or the right exception,
and the drift check. The two clients only add how requests are sent and awaited, so they cannot drift apart.
What records are validated with lives in ``_binding``, what an error answer means in ``_responses``, and the
bookkeeping of a ``predict_many`` run in ``_run``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Final, Generic

import httpx
from pydantic import BaseModel

from bankscore._auth import AZURE_ML_SCOPE, TokenAuth, TokenCredential
from bankscore._bank_marketing_record import BankMarketingRecord
from bankscore._binding import R, SpecBinding, codec_for_model, codec_for_spec, drift_changes
from bankscore._endpoint import Endpoint, resolve_endpoint
from bankscore._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BankscoreError,
    PayloadTooLargeError,
    SchemaDriftError,
    ScoringError,
    redact_userinfo,
)
from bankscore._facts import DEPLOYMENT_HEADER
from bankscore._generations import WireGeneration
from bankscore._records import RecordCodec
from bankscore._responses import request_id_of, server_message, status_error_for
from bankscore._results import Prediction
from bankscore._retry import RetryPolicy
from bankscore._spec import Document, SwaggerError, detect_generation, diff_specs, parse_document, to_openapi3
from bankscore._version import __version__
from bankscore._wire import PREDICT, PREDICT_PROBA, DecodeError, decode_predictions, supports_proba

# SpecBinding and drift_changes are defined in _binding and re-exported here, where they were first defined.
__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_REQUEST_BODY_BYTES",
    "BaseClient",
    "R",
    "SpecBinding",
    "drift_changes",
]

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
# Azure's documented request payload limit for online endpoints is 1.5 MB (413 above it); predict_many splits a
# batch whose body would be larger, so callers need not know the records' encoded size.
MAX_REQUEST_BODY_BYTES: Final = 1_500_000
_log: Final = logging.getLogger("bankscore")  # a NullHandler until the application (or the CLI) configures it


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
        self._codec: RecordCodec[Any] | None = codec_for_model(model) if model is not None else None
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
            self._codec = codec_for_spec(spec)
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
            self._codec = self._codec or codec_for_model(BankMarketingRecord)
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
        request_id = request_id_of(response)
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
        message = self._scrub(server_message(response)) or response.reason_phrase
        return status_error_for(response, message, request_id, self._generation)

    def _spec_document(self, response: httpx.Response, url: str) -> dict[str, Any]:
        if response.status_code >= 400:
            error = self._status_error(response, request_id_of(response))
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
