"""Request and response bodies of the wire generations (``bankscore.WireGeneration``).

A, B and C bodies are built from the records' JSON bytes (pydantic dumps a batch in one call), so a batch is
serialized once and never re-parsed; D's pandas "split" frame is built from the records' values in column
order. Decoding follows the one rule that works for every generation: parse, parse again if the result is a
string (A and B double-encode), then read ``result``, ``Results``, ``predictions`` or ``error``, or take the
bare array (D). Each answer is read by its shape, because a D endpoint answers however its model was logged:

- a label (``"yes"``), or a class index (``1``) into ``classes``;
- a probability of the positive class ``classes[1]`` (``0.73``, a JSON number with a fraction or exponent);
- a pair ``[P(classes[0]), P(classes[1])]`` in ``classes`` order: the order of scikit-learn's ``classes_``,
  sorted, which the body does not state, so the caller states it (``classes=``, default ``("no", "yes")``);
- a record ``{"no": .., "yes": ..}``, read by class name.

A probability gives the label by the models' own rule: ``classes[1]`` when it is at least 0.5.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from bankscore._exceptions import ScoringError
from bankscore._generations import WireGeneration
from bankscore._results import Prediction

__all__ = [
    "CLASSES",
    "PREDICT",
    "PREDICT_METHOD_PARAM",
    "PREDICT_PROBA",
    "DecodeError",
    "decode_predictions",
    "encode_body",
    "encode_frame",
    "supports_proba",
]

PREDICT: Final = "predict"
PREDICT_PROBA: Final = "predict_proba"
CLASSES: Final = ("no", "yes")  # sorted, as scikit-learn's classes_ and so predict_proba's columns are
# The params key bankscore's registered MLflow model reads (its signature's params schema, default "predict").
PREDICT_METHOD_PARAM: Final = "predict_method"


class DecodeError(ValueError):
    """A 200 body that is not a result of the expected shape."""


def supports_proba(generation: WireGeneration) -> bool:
    """A can only ``predict``; B and C also take ``method: predict_proba``, D ``params.predict_method``."""
    return generation is not WireGeneration.A


def encode_body(generation: WireGeneration, records_json: bytes, method: str) -> bytes:
    """The A, B or C request body for a batch whose records are already the JSON array ``records_json``."""
    if generation is WireGeneration.D:
        raise ValueError("wire generation D sends a frame: use encode_frame")
    if generation is WireGeneration.C:
        params = b"" if method == PREDICT else b',"GlobalParameters":{"method":"' + method.encode() + b'"}'
        return b'{"Inputs":{"data":' + records_json + b"}" + params + b"}"
    if generation is WireGeneration.B and method != PREDICT:
        return b'{"data":' + records_json + b',"method":"' + method.encode() + b'"}'
    if method != PREDICT:
        raise ValueError(f"wire generation {generation} cannot {method}")
    return b'{"data":' + records_json + b"}"


def encode_frame(columns: Sequence[str], rows: Sequence[Sequence[Any]], method: str) -> bytes:
    """The D request body: the rows as a pandas "split" frame, and ``predict_method`` when not ``predict``.

    ``index`` is sent although the frame's schema makes it optional: a model logged without a signature
    (pandas 2) reads a frame only when ``columns``, ``index`` and ``data`` are all there.
    """
    body: dict[str, Any] = {"input_data": {"columns": list(columns), "index": list(range(len(rows))), "data": rows}}
    if method != PREDICT:
        body["params"] = {PREDICT_METHOD_PARAM: method}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def decode_predictions(
    content: bytes,
    method: str,
    expected: int,
    *,
    request_id: str | None = None,
    classes: tuple[str, str] = CLASSES,
    generation: WireGeneration | None = None,
) -> list[Prediction]:
    """The predictions in a 200 body. Raises ``ScoringError`` for ``{"error": ...}``, ``DecodeError`` otherwise.

    Each answer is read by its shape. A ``predict_proba`` request must get probabilities back, except from D:
    a no-code endpoint whose model has no params schema ignores the request's ``params`` and answers labels.
    """
    try:
        body: Any = json.loads(content)
        if isinstance(body, str):  # A and B: the result is a JSON string holding JSON
            body = json.loads(body)
    except ValueError as exc:
        raise DecodeError(f"the 200 body is not JSON: {exc}") from None
    if isinstance(body, Mapping):
        if "error" in body:
            raise ScoringError(str(body["error"]), request_id=request_id)
        items = next((body[k] for k in ("result", "Results", "predictions") if k in body), None)
    else:
        items = body  # D, and some hand-written scoring scripts: the bare list
    if not isinstance(items, list) or len(items) != expected:
        got = f"{len(items)} results" if isinstance(items, list) else type(items).__name__
        raise DecodeError(f"expected {expected} results in the 200 body, got {got}")
    predictions = [_prediction(item, classes) for item in items]
    if method == PREDICT_PROBA and generation is not WireGeneration.D:
        for item, prediction in zip(items, predictions, strict=True):
            if prediction.probability is None:
                raise DecodeError(f"expected [P({classes[0]}), P({classes[1]})], got {json.dumps(item)[:80]}")
    return predictions


def _prediction(item: Any, classes: tuple[str, str]) -> Prediction:
    if isinstance(item, str):
        return Prediction(item)
    if isinstance(item, bool) or item is None:
        raise DecodeError(f"expected a label or a probability, got {json.dumps(item)}")
    if isinstance(item, int):  # a class index, as scripts that return 0/1 classes send it
        if not 0 <= item < len(classes):
            raise DecodeError(f"class index {item} is not one of 0..{len(classes) - 1}")
        return Prediction(classes[item])
    if isinstance(item, float):  # P(positive class): a model whose predict returns one probability per row
        return _from_probability(item, classes)
    if isinstance(item, list):
        if len(item) != len(classes) or not all(_is_number(p) for p in item):
            raise DecodeError(f"expected [P({classes[0]}), P({classes[1]})], got {json.dumps(item)[:80]}")
        return _from_probability(float(item[1]), classes)
    if isinstance(item, Mapping):
        if not _is_number(item.get(classes[1])):
            names = ", ".join(map(str, item)) or "none"
            raise DecodeError(f"expected a probability named {classes[1]!r}, got the names {names}")
        return _from_probability(float(item[classes[1]]), classes)
    raise DecodeError(f"expected a label or a probability, got {json.dumps(item)[:80]}")


def _from_probability(p_positive: float, classes: tuple[str, str]) -> Prediction:
    # The threshold the scoring scripts and the model's own predict() use: P(positive) >= 0.5.
    return Prediction(classes[1] if p_positive >= 0.5 else classes[0], p_positive)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
