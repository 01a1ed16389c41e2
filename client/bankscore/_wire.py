"""Request and response bodies of the three wire generations (``bankscore.deploy.WireGeneration``).

Bodies are built from the records' JSON bytes (pydantic dumps a batch in one call), so a batch is serialized
once and never re-parsed. Decoding follows the one rule that works for every generation:
parse, parse again if the result is a string (A and B double-encode), then read ``result``, ``Results`` or
``error``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from bankscore._exceptions import ScoringError
from bankscore._generations import WireGeneration
from bankscore._results import Prediction

__all__ = [
    "PREDICT",
    "PREDICT_PROBA",
    "DecodeError",
    "decode_predictions",
    "encode_body",
    "supports_proba",
]

PREDICT: Final = "predict"
PREDICT_PROBA: Final = "predict_proba"
_CLASSES: Final = ("no", "yes")  # sorted, as predict_proba orders its columns


class DecodeError(ValueError):
    """A 200 body that is not a result of the expected shape."""


def supports_proba(generation: WireGeneration) -> bool:
    """A can only ``predict``; B and C also take ``method: predict_proba``."""
    return generation is not WireGeneration.A


def encode_body(generation: WireGeneration, records_json: bytes, method: str) -> bytes:
    """The request body for a batch whose records are already the JSON array ``records_json``."""
    if generation is WireGeneration.C:
        params = b"" if method == PREDICT else b',"GlobalParameters":{"method":"' + method.encode() + b'"}'
        return b'{"Inputs":{"data":' + records_json + b"}" + params + b"}"
    if generation is WireGeneration.B and method != PREDICT:
        return b'{"data":' + records_json + b',"method":"' + method.encode() + b'"}'
    if method != PREDICT:
        raise ValueError(f"wire generation {generation} cannot {method}")
    return b'{"data":' + records_json + b"}"


def decode_predictions(
    content: bytes, method: str, expected: int, *, request_id: str | None = None
) -> list[Prediction]:
    """The predictions in a 200 body. Raises ``ScoringError`` for ``{"error": ...}``, ``DecodeError`` otherwise."""
    try:
        body: Any = json.loads(content)
        if isinstance(body, str):  # A and B: the result is a JSON string holding JSON
            body = json.loads(body)
    except ValueError as exc:
        raise DecodeError(f"the 200 body is not JSON: {exc}") from None
    if isinstance(body, Mapping):
        if "error" in body:
            raise ScoringError(str(body["error"]), request_id=request_id)
        items = body.get("result", body.get("Results"))
    else:
        items = body  # some hand-written scoring scripts return the bare list
    if not isinstance(items, list) or len(items) != expected:
        got = f"{len(items)} results" if isinstance(items, list) else type(items).__name__
        raise DecodeError(f"expected {expected} results in the 200 body, got {got}")
    if method == PREDICT_PROBA:
        return [_from_proba(item) for item in items]
    return [Prediction(_label(item)) for item in items]


def _from_proba(item: Any) -> Prediction:
    if not (isinstance(item, list) and len(item) == len(_CLASSES)):
        raise DecodeError(f"expected [P(no), P(yes)], got {json.dumps(item)[:80]}")
    p_yes = float(item[1])
    # The threshold the scoring script and the model's own predict() use: P(yes) >= 0.5 is "yes".
    return Prediction(_CLASSES[1] if p_yes >= 0.5 else _CLASSES[0], p_yes)


def _label(item: Any) -> str:
    if isinstance(item, bool):
        raise DecodeError(f"expected a label, got {item!r}")
    if isinstance(item, int | float):  # scripts that return 0/1 classes
        return _CLASSES[int(item)]
    if isinstance(item, str):
        return item
    raise DecodeError(f"expected a label, got {json.dumps(item)[:80]}")
