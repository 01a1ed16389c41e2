"""bankscore's exceptions. Every error bankscore raises on purpose is a ``BankscoreError``.

The tree::

    BankscoreError
     ├── DataError                  a data file (CSV) that does not fit the feature contract; nothing was loaded
     ├── ValidationError            records that do not fit the request model; nothing was sent
     ├── APIConnectionError         the endpoint could not be reached (refused, reset, DNS, TLS)
     │    └── APITimeoutError       ... or did not answer in time
     ├── APIStatusError             the endpoint answered 4xx/5xx: status, message, request_id
     │    ├── BadRequestError            400
     │    ├── AuthenticationError        401
     │    ├── PermissionDeniedError      403
     │    ├── NotFoundError              404
     │    ├── RequestTimeoutError        408
     │    ├── PayloadTooLargeError       413
     │    ├── ModelError                 424 (a managed endpoint's model container failed), and D's script 500
     │    ├── RateLimitError             429
     │    └── InternalServerError        5xx
     ├── ScoringError               a 200 whose body holds {"error": ...} (wire generations A and B)
     ├── SchemaDriftError           the live spec breaks the request model the client was generated from
     ├── SwaggerError               a spec could not be fetched, read, converted, compared or generated from
     └── PartialResultError         predict_many could not score every record: .result holds the rest

    ScoringInterrupted (a KeyboardInterrupt)  Ctrl-C during predict_many: .result holds what was scored

Messages name the file, the record, the field and the value at fault, and never contain a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bankscore.features import ValueProblem

if TYPE_CHECKING:
    from bankscore._results import ScoreResult

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BankscoreError",
    "DataError",
    "InternalServerError",
    "ModelError",
    "NotFoundError",
    "PartialResultError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RecordProblem",
    "RequestTimeoutError",
    "RowProblems",
    "SchemaDriftError",
    "ScoringError",
    "ScoringInterrupted",
    "SwaggerError",
    "ValidationError",
    "status_error",
]


class BankscoreError(Exception):
    """Base class of every error bankscore raises on purpose."""


@dataclass(frozen=True, slots=True)
class RowProblems:
    """The problems of one data row. ``line`` is the 1-based line number in the file (the header is line 1)."""

    line: int
    problems: tuple[ValueProblem, ...]

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(str(p) for p in self.problems)


@dataclass(eq=False)
class DataError(BankscoreError):
    """A data file does not fit the feature contract. It lists every offending column and the first bad rows."""

    source: str
    column_problems: list[str] = field(default_factory=list)
    row_problems: list[RowProblems] = field(default_factory=list)
    bad_row_count: int = 0
    row_count: int = 0
    unreadable: str | None = None  # why the file could not be read at all ("no such file: data.csv")

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.unreadable is not None:  # nothing was read, so nothing can be said about the contract
            return self.unreadable
        parts = [f"{self.source} does not fit the Bank Marketing feature contract; nothing was loaded."]
        if self.column_problems:
            parts.append("Columns:")
            parts.extend(f"  - {problem}" for problem in self.column_problems)
        if self.row_problems:
            shown = len(self.row_problems)
            head = f"Rows: {self.bad_row_count} of {self.row_count} have bad values"
            parts.append(head + (f" (the first {shown} below):" if shown < self.bad_row_count else ":"))
            parts.extend(f"  - {rp}" for rp in self.row_problems)
        return "\n".join(parts)


# --------------------------------------------------------------------------------------------- the client


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """Why one input record does not fit the request model. ``index`` is its 0-based position in the input."""

    index: int
    field: str
    value: object
    message: str
    line: int | None = None  # the CSV line the record ends on, when it came from a file

    def __str__(self) -> str:
        shown = "(missing)" if self.message == "Field required" else repr(self.value)
        where = f"record {self.index}" + (f" (line {self.line})" if self.line is not None else "")
        return f"{where}: {self.field}={shown}: {self.message}"


class ValidationError(BankscoreError):
    """Records that do not fit the request model. Raised before any record is sent.

    ``problems`` lists every problem found (record index, field, value, reason); the message shows the first.
    """

    MAX_SHOWN = 10

    def __init__(self, problems: list[RecordProblem], record_count: int, *, bad_count: int | None = None) -> None:
        self.problems = problems
        self.record_count = record_count
        self.bad_records = sorted({p.index for p in problems})
        # Exact even when only the first problems are kept (``problems`` may stop at the first thousand).
        self.bad_count = bad_count if bad_count is not None else len(self.bad_records)
        super().__init__(str(self))

    def __str__(self) -> str:
        bad = self.bad_count
        verb = "does" if bad == 1 else "do"
        head = f"{bad} of {self.record_count} record{'s' if self.record_count != 1 else ''} {verb} not fit the model"
        lines = [head + "; nothing was sent:"]
        lines.extend(f"  - {p}" for p in self.problems[: self.MAX_SHOWN])
        if len(self.problems) > self.MAX_SHOWN:
            lines.append(f"  ... and {len(self.problems) - self.MAX_SHOWN} more problems")
        return "\n".join(lines)


# The userinfo of a URL (https://user:secret@host/): a credential, shown as <redacted>.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@]+@")


def redact_userinfo(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced (a key in a URL must not reach a message)."""
    return _USERINFO.sub(r"\1<redacted>@", text)


class APIConnectionError(BankscoreError):
    """The endpoint could not be reached: connection refused or reset, name not resolved, TLS failure."""

    def __init__(self, message: str, *, url: str = "") -> None:
        self.message = redact_userinfo(message)
        self.url = redact_userinfo(url)
        super().__init__(self.message)


class APITimeoutError(APIConnectionError):
    """The endpoint did not answer within the timeout."""


class APIStatusError(BankscoreError):
    """The endpoint answered with an error status. Carries ``status``, the server's ``message`` and ``request_id``."""

    def __init__(
        self, message: str, *, status: int, request_id: str | None = None, retry_after: float | None = None
    ) -> None:
        self.message = message = redact_userinfo(message)
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after  # seconds the server asked to wait (Retry-After), when it said
        text = f"{status}: {message}" if message else str(status)
        super().__init__(text + (f" (request id {request_id})" if request_id else ""))


class BadRequestError(APIStatusError):
    """400: the server refused the body (it names the record, field and value)."""


class AuthenticationError(APIStatusError):
    """401: the key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but may not call this endpoint."""


class NotFoundError(APIStatusError):
    """404: no scoring route at this URI."""


class RequestTimeoutError(APIStatusError):
    """408: the model ran longer than the endpoint's request timeout; retried."""


class PayloadTooLargeError(APIStatusError):
    """413: the body is larger than the endpoint accepts; use a smaller ``batch_size``."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried, honouring ``Retry-After``."""


class InternalServerError(APIStatusError):
    """5xx: the endpoint failed; retried."""


class ModelError(APIStatusError):
    """The model's container refused or failed on the request: not retried, the same body fails the same way.

    A managed online endpoint answers 424 for any non-200 from its container: ``model_status`` is the
    container's own status (``ms-azureml-model-error-statuscode``) and ``reason`` Azure's word for it
    (``ms-azureml-model-error-reason``), ``message`` the container's message. Locally, a no-code (D) container
    answers its generic 500 with ``x-ms-run-function-failed: True``: a ``ModelError`` with status and
    ``model_status`` 500.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        retry_after: float | None = None,
        model_status: int | None = None,
        reason: str | None = None,
    ) -> None:
        self.model_status = model_status
        self.reason = reason
        super().__init__(message, status=status, request_id=request_id, retry_after=retry_after)


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    413: PayloadTooLargeError,
    424: ModelError,
    429: RateLimitError,
}


def status_error(
    status: int, message: str, *, request_id: str | None = None, retry_after: float | None = None
) -> APIStatusError:
    """The ``APIStatusError`` subclass for ``status``."""
    cls = InternalServerError if status >= 500 else _BY_STATUS.get(status, APIStatusError)
    return cls(message, status=status, request_id=request_id, retry_after=retry_after)


class ScoringError(BankscoreError):
    """The endpoint answered 200 with ``{"error": ...}`` (wire generations A and B): its ``run()`` failed."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.message = message
        self.request_id = request_id
        super().__init__(
            f"the scoring script failed: {message}" + (f" (request id {request_id})" if request_id else "")
        )


class SchemaDriftError(BankscoreError):
    """The endpoint's live spec changed the request in a way that breaks the client's record model.

    ``changes`` are ``bankscore.swagger.SpecChange`` objects; the message lists the breaking ones and the
    command that regenerates the client from the live spec.
    """

    def __init__(self, url: str, changes: list[Any], *, command: str | None = None) -> None:
        self.url = url
        self.changes = changes
        self.command = command  # the command that regenerates the typed package from the live spec
        lines = [f"the spec at {url} breaks the client's record model:"]
        lines.extend(f"  {c}" for c in changes)
        if command:
            lines.append(f"regenerate the typed package from the live spec: {command}")
        super().__init__("\n".join(lines))


class SwaggerError(BankscoreError):
    """A spec could not be fetched, read, converted, compared or generated from.

    Messages name the file or URL at fault and never contain the key that was sent.
    """


class PartialResultError(BankscoreError):
    """``predict_many`` scored some records but not all: ``result`` holds every prediction and every failure."""

    def __init__(self, result: ScoreResult) -> None:
        self.result = result
        super().__init__(result.describe_failures())


class ScoringInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``predict_many``; still a ``KeyboardInterrupt``. ``result`` holds what was scored."""

    def __init__(self, result: ScoreResult) -> None:
        self.result = result
        super().__init__(result.describe_failures())
