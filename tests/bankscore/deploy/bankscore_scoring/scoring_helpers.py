"""Shared by the scoring package's tests: a tiny model and the bodies and requests they send it.

The model is a single logistic learner on ``duration`` alone (P(yes) = 0.5 at 600 s), built in memory in the
artifact and contract shapes that ``bankscore deploy`` writes, so every expected answer is known exactly.
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bankscore.deploy._scorer_artifact import contract_document
from bankscore.deploy.bankscore_scoring.facts import SMALL_BATCH, InputError
from bankscore.deploy.bankscore_scoring.model import Model
from bankscore.features import FEATURES, FeatureKind

GOOD: dict[str, Any] = {f.wire_name: f.example for f in FEATURES}  # duration 371 -> "no"


LONG_CALL: dict[str, Any] = {**GOOD, "duration": 971}  # -> "yes"


def tiny_model(generation: str = "C", *, max_records: int = 3, max_body_bytes: int = 4096, **member: Any) -> Model:
    artifact, contract = tiny_documents(generation, max_records=max_records, max_body_bytes=max_body_bytes, **member)
    return Model(artifact, contract)


def tiny_documents(
    generation: str = "C", *, max_records: int = 3, max_body_bytes: int = 4096, **member: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tiny model's ``scorer.pkl`` and ``contract.json`` contents, as ``bankscore deploy`` writes them."""
    names = [f.wire_name for f in FEATURES]
    coef = np.zeros(len(names))
    coef[names.index("duration")] = 0.01
    # The contract as `bankscore deploy` writes it, for a model that takes every feature.
    contract = contract_document(
        SimpleNamespace(features=names, classes=("no", "yes")),  # type: ignore[arg-type]
        generation=generation,
        model_version="7",
        model_name="tiny",
        max_records=max_records,
        max_body_bytes=max_body_bytes,
    )
    artifact = {
        "format": 1,
        "columns": names,
        "codes": [
            {c: i for i, c in enumerate(f.categories)} if f.kind is FeatureKind.CATEGORY else None for f in FEATURES
        ],
        "members": [{"kind": "linear", "weight": 1.0, "model": (coef, -6.0), **member}],
    }
    return artifact, contract


def body(generation: str, records: Any, method: str | None = None) -> bytes:
    if generation == "C":
        document: dict[str, Any] = {"Inputs": {"data": records}}
        if method is not None:
            document["GlobalParameters"] = {"method": method}
    else:
        document = {"data": records}
        if method is not None:
            document["method"] = method
    return json.dumps(document).encode()


def input_error(call: Any, *args: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        call(*args)
    return caught.value


def request(raw: bytes, *, method: str = "POST", content_type: str | None = "application/json", chunked: bool = False):  # type: ignore[no-untyped-def]
    headers = {} if content_type is None else {"Content-Type": content_type}
    return SimpleNamespace(
        method=method, headers=headers, content_length=None if chunked else len(raw), stream=io.BytesIO(raw)
    )


MANY = SMALL_BATCH + 4  # past SMALL_BATCH: the set/numpy checks and the libraries' predict


def wrapped(generation: str, records: bytes) -> bytes:
    """A body of ``generation`` around records given as raw JSON text (json.dumps cannot write 1,000 levels)."""
    return b'{"Inputs": {"data": %s}}' % records if generation == "C" else b'{"data": %s}' % records


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def at_stack_depth(frames: int, call: Any, *args: Any) -> Any:
    """``call(*args)`` with ``frames`` more Python frames below it, as when the server's own stack is deep."""
    return call(*args) if frames == 0 else at_stack_depth(frames - 1, call, *args)


COLUMNS = list(GOOD)


def frame(rows: list[dict[str, Any]], columns: list[str] = COLUMNS, **extra: Any) -> dict[str, Any]:
    """A split frame of ``rows`` (records) in ``columns`` order; ``extra`` adds or replaces its keys."""
    return {
        "columns": list(columns),  # a copy: a test may change it
        "index": list(range(len(rows))),
        "data": [[r[c] for c in columns] for r in rows],
        **extra,
    }


def frame_body(input_data: Any, params: Any = None, **top: Any) -> bytes:
    document: dict[str, Any] = {"input_data": input_data, **top}
    if params is not None:
        document["params"] = params
    return json.dumps(document).encode()
