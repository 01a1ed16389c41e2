"""What the load generator sends, and how it judges a 2xx body.

Every body is built before the run starts (a pool rotated request by request), so encoding costs nothing while
load is generated. Two providers:

- ``fixed_payload``: ab's ``-p``/``-u`` file, sent byte for byte; ``records`` is 0 (its size is unknown).
- ``bank_marketing_payloads``: realistic records drawn with a seed from the data shipped in ``bankscore``,
  ``batch_size`` per request, encoded for the endpoint's wire generation by the client's own encoder, so a
  request looks exactly like one ``bankscore.Client`` would send: validated by the endpoint's own record (read
  from its spec, as the client reads it), and without the columns that record does not have (``duration``
  for a model trained without it), which the pool names in ``dropped_columns``.

The pool is small whatever ``-n`` is: at most ``pool_size`` bodies, at most ``POOL_RECORDS`` records across all of
them, and never more bodies than requests, so set-up time and memory stay bounded (request ``i`` gets body
``i % len(pool)``, and body ``j`` is the same for a seed whatever the pool's size). Each distinct record is
validated once, however many bodies it lands in. A batch the endpoint would refuse (over
``MAX_RECORDS_PER_REQUEST`` records or ``DEPLOYMENT_MAX_BODY_BYTES`` bytes) is refused here, before anything
is built.

``ScoringChecker`` decodes a 2xx body with the client's decoder; a body that is not a result for the records
sent is a ``BAD_BODY`` failure, so ab's ``Failed requests`` counts wrong answers, not only broken connections.
Everything here pickles: the distributed runner and the tests ship a plan to another process.
"""

from __future__ import annotations

import dataclasses
import random
import warnings
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from bankscore._bank_marketing_record import BankMarketingRecord
from bankscore._exceptions import ScoringError
from bankscore._facts import DEPLOYMENT_HEADER, DEPLOYMENT_MAX_BODY_BYTES, MAX_RECORDS_PER_REQUEST
from bankscore._generations import WireGeneration
from bankscore._records import ColumnsDropped, RecordCodec
from bankscore._wire import PREDICT, PREDICT_PROBA, DecodeError, decode_predictions, supports_proba

__all__ = [
    "DEFAULT_POOL_SIZE",
    "DEPLOYMENT_MAX_BODY_BYTES",
    "MAX_RECORDS_PER_REQUEST",
    "POOL_RECORDS",
    "Payload",
    "PayloadPool",
    "ScoringChecker",
    "bank_marketing_payloads",
    "detect_endpoint",
    "detect_endpoint_generation",
    "fixed_payload",
    "pool_bodies",
    "scoring_method",
]

DEFAULT_POOL_SIZE = 1000  # distinct bodies; enough that a cache in front of the model sees few repeats
# Records in the whole pool: about 7 MB of bodies and half a second of validation. Without this bound the pool
# held pool_size x batch_size records (a million at --batch-size 1000: 3.2 GB and 16 s before the first request).
POOL_RECORDS = 20_000
# What the local deployment's score script accepts (MAX_RECORDS_PER_REQUEST, DEPLOYMENT_MAX_BODY_BYTES): larger
# batches would only measure how fast the server answers 400 or 413.


@dataclasses.dataclass(frozen=True, slots=True)
class Payload:
    body: bytes
    records: int  # records the body asks to score (0: unknown, e.g. ab's -p file)


@dataclasses.dataclass(frozen=True, slots=True)
class PayloadPool:
    """Bodies sent in turn, request ``i`` gets ``payloads[i % len(payloads)]``."""

    payloads: tuple[Payload, ...]
    content_type: str | None = None
    dropped_columns: tuple[str, ...] = ()  # shipped columns the endpoint's record does not have, not sent

    def __post_init__(self) -> None:
        if not self.payloads:
            raise ValueError("a payload pool needs at least one body")


def fixed_payload(path: str | Path, content_type: str = "text/plain") -> PayloadPool:
    """ab's ``-p``/``-u FILE``: the file's bytes as is, every request (ab's default ``-T`` is text/plain)."""
    file = Path(path)
    try:
        body = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the body file {str(file)!r}: {exc.strerror or exc}") from None
    return PayloadPool((Payload(body, 0),), content_type)


def scoring_method(generation: WireGeneration) -> str:
    """What ``bankscore.Client`` asks for by default: probabilities wherever the generation has them."""
    return PREDICT_PROBA if supports_proba(generation) else PREDICT


def pool_bodies(batch_size: int, pool_size: int = DEFAULT_POOL_SIZE, requests: int | None = None) -> int:
    """How many distinct bodies a pool of ``batch_size``-record bodies holds (see the module docstring)."""
    count = min(pool_size, max(1, POOL_RECORDS // batch_size))
    return count if requests is None else max(1, min(count, requests))


def bank_marketing_payloads(
    generation: WireGeneration | str,
    *,
    batch_size: int = 1,
    pool_size: int = DEFAULT_POOL_SIZE,
    seed: int = 0,
    method: str | None = None,
    requests: int | None = None,
    max_body_bytes: int = DEPLOYMENT_MAX_BODY_BYTES,
    record_model: type[BaseModel] | None = None,
) -> PayloadPool:
    """Up to ``pool_size`` bodies of ``batch_size`` shipped records each, drawn with ``seed``, encoded for
    ``generation`` (fewer when ``POOL_RECORDS`` or ``requests``, the requests the run will send, says so).

    ``record_model`` is the endpoint's record (default ``BankMarketingRecord``): shipped columns it does not
    have are left out, and named in the pool's ``dropped_columns``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if batch_size > MAX_RECORDS_PER_REQUEST:
        raise ValueError(
            f"batch_size must be at most {MAX_RECORDS_PER_REQUEST} (the records an endpoint scores in one request), "
            f"got {batch_size}"
        )
    if pool_size < 1:
        raise ValueError(f"pool_size must be at least 1, got {pool_size}")
    try:
        wire = WireGeneration(str(generation).upper())
    except ValueError:
        raise ValueError(f"generation must be A, B, C or D, got {generation!r}") from None
    chosen = method or scoring_method(wire)
    from bankscore.data import load_training_data

    rows = list(load_training_data().records())
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    # Drawn in the same order whatever the pool's size, so body j is the same for a seed in every run.
    picked = [rng.randrange(len(rows)) for _ in range(batch_size * pool_bodies(batch_size, pool_size, requests))]
    # Validated by the client's pydantic model, as Client.predict_many does, but each distinct row only once.
    codec = RecordCodec(record_model or BankMarketingRecord)
    dropped = tuple(codec.columns_to_drop(rows[0])) if rows else ()  # every shipped row has the same columns
    distinct = list(dict.fromkeys(picked))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColumnsDropped)  # named once, in dropped_columns
        validated = dict(zip(distinct, codec.validate([rows[i] for i in distinct]), strict=True))
    payloads = []
    for start in range(0, len(picked), batch_size):
        batch = [validated[i] for i in picked[start : start + batch_size]]
        body = codec.encode(wire, batch, chosen)
        if len(body) > max_body_bytes:
            raise ValueError(
                f"a body of {batch_size} records is {len(body)} bytes, over the {max_body_bytes} bytes an endpoint "
                "takes in one request"
            )
        payloads.append(Payload(body, batch_size))
    return PayloadPool(tuple(payloads), "application/json", dropped)


@dataclasses.dataclass(frozen=True, slots=True)
class ScoringChecker:
    """Judges a 2xx body: ``None`` when it holds ``records`` predictions, else the reason it does not."""

    method: str
    generation: WireGeneration | None = None  # D may answer labels to a predict_proba request (see _wire)

    def __call__(self, body: bytes, records: int) -> str | None:
        try:
            decode_predictions(body, self.method, records, generation=self.generation)
        except ScoringError as exc:
            return f"the scoring script failed: {exc.message}"[:200]
        except DecodeError as exc:
            return str(exc)[:200]
        return None


def detect_endpoint_generation(scoring_uri: str, headers: Mapping[str, str] | None = None) -> WireGeneration:
    """The endpoint's generation read from its /swagger.json (see ``detect_endpoint``)."""
    return detect_endpoint(scoring_uri, headers)[0]


def detect_endpoint(
    scoring_uri: str, headers: Mapping[str, str] | None = None
) -> tuple[WireGeneration, type[BaseModel]]:
    """The endpoint's generation and record model read from its /swagger.json, the way ``bankscore.Client``
    does it.

    Of ``headers`` (the run's), a bearer ``Authorization`` and ``azureml-model-deployment`` are sent with the
    spec's request too: the spec is then the pinned deployment's, not whichever one the traffic rules pick.
    """
    from bankscore import Client

    key = None
    model_deployment = None
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value.lower().startswith("bearer "):
            key = value[len("bearer ") :].strip()
        elif name.lower() == DEPLOYMENT_HEADER and value.strip():
            model_deployment = value.strip()
    with Client(scoring_uri, key=key, max_retries=0, model_deployment=model_deployment) as client:
        return client.generation, client.record_model or BankMarketingRecord
