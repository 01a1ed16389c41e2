"""What the load generator sends, and how it judges a 2xx body.

Every body is built before the run starts (a pool rotated request by request), so encoding costs nothing while
load is generated. Two providers:

- ``fixed_payload``: ab's ``-p``/``-u`` file, sent byte for byte; ``records`` is 0 (its size is unknown).
- ``bank_marketing_payloads``: realistic records drawn with a seed from the data shipped in ``bankscore``,
  ``batch_size`` per request, encoded for the endpoint's wire generation by the client's own encoder, so a
  request looks exactly like one ``bankscore.Client`` would send.

``ScoringChecker`` decodes a 2xx body with the client's decoder; a body that is not a result for the records
sent is a ``BAD_BODY`` failure, so ab's ``Failed requests`` counts wrong answers, not only broken connections.
Everything here pickles: the distributed runner and the tests ship a plan to another process.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from pathlib import Path

from bankscore._bank_marketing_record import BankMarketingRecord
from bankscore._exceptions import ScoringError
from bankscore._generations import WireGeneration
from bankscore._records import RecordCodec
from bankscore._wire import PREDICT, PREDICT_PROBA, DecodeError, decode_predictions, encode_body, supports_proba

__all__ = [
    "DEFAULT_POOL_SIZE",
    "Payload",
    "PayloadPool",
    "ScoringChecker",
    "bank_marketing_payloads",
    "detect_endpoint_generation",
    "fixed_payload",
    "scoring_method",
]

DEFAULT_POOL_SIZE = 1000  # distinct bodies; enough that a cache in front of the model sees few repeats


@dataclasses.dataclass(frozen=True, slots=True)
class Payload:
    body: bytes
    records: int  # records the body asks to score (0: unknown, e.g. ab's -p file)


@dataclasses.dataclass(frozen=True, slots=True)
class PayloadPool:
    """Bodies sent in turn, request ``i`` gets ``payloads[i % len(payloads)]``."""

    payloads: tuple[Payload, ...]
    content_type: str | None = None

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


def bank_marketing_payloads(
    generation: WireGeneration | str,
    *,
    batch_size: int = 1,
    pool_size: int = DEFAULT_POOL_SIZE,
    seed: int = 0,
    method: str | None = None,
) -> PayloadPool:
    """``pool_size`` bodies of ``batch_size`` shipped records each, drawn with ``seed``, encoded for ``generation``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if pool_size < 1:
        raise ValueError(f"pool_size must be at least 1, got {pool_size}")
    try:
        wire = WireGeneration(str(generation).upper())
    except ValueError:
        raise ValueError(f"generation must be A, B or C, got {generation!r}") from None
    chosen = method or scoring_method(wire)
    from bankscore.data import load_training_data

    rows = list(load_training_data().records())
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    needed = batch_size * pool_size
    picked = [rows[rng.randrange(len(rows))] for _ in range(needed)]
    # Validated and serialized by the client's pydantic model, as Client.predict_many does.
    codec = RecordCodec(BankMarketingRecord)
    records = codec.validate(picked)
    payloads = tuple(
        Payload(encode_body(wire, codec.dump_json(records[start : start + batch_size]), chosen), batch_size)
        for start in range(0, needed, batch_size)
    )
    return PayloadPool(payloads, "application/json")


@dataclasses.dataclass(frozen=True, slots=True)
class ScoringChecker:
    """Judges a 2xx body: ``None`` when it holds ``records`` predictions, else the reason it does not."""

    method: str

    def __call__(self, body: bytes, records: int) -> str | None:
        try:
            decode_predictions(body, self.method, records)
        except ScoringError as exc:
            return f"the scoring script failed: {exc.message}"[:200]
        except DecodeError as exc:
            return str(exc)[:200]
        return None


def detect_endpoint_generation(scoring_uri: str, headers: Mapping[str, str] | None = None) -> WireGeneration:
    """The endpoint's generation read from its /swagger.json, the way ``bankscore.Client`` does it."""
    from bankscore import Client

    key = None
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value.lower().startswith("bearer "):
            key = value[len("bearer ") :].strip()
    with Client(scoring_uri, key=key, max_retries=0) as client:
        return client.generation
